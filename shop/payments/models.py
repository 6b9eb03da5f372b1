"""A payment's tries at a provider, the provider's events as received, and the
differences between a provider and the shop that a person must look at.

The money itself is in `shop.orders.models`: Payment and Refund rows, one per
provider id, from which the order's payment state follows.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from shop.db import BaseModel, now
from shop.i18n import lazy_gettext as _l
from shop.orders.models import Order

# An attempt's states.
OPEN = "open"  # the shopper is on the provider's page (or left it)
PROCESSING = "processing"  # accepted, the money is still on its way (SEPA direct debit)
PAID = "paid"
FAILED = "failed"
EXPIRED = "expired"  # the provider's page closed without payment
ABANDONED = "abandoned"  # replaced by a new attempt or another payment method
UNFINISHED = (OPEN, PROCESSING)


class PaymentAttempt(BaseModel):
    """The n-th try at paying an order at a provider's hosted page. `key` (order number
    and n) is the idempotency key of the call that opens it: asked again with the same
    key, the provider answers with the same session instead of a second one."""

    if TYPE_CHECKING:
        order_id: int

    order = ForeignKeyField(Order, backref="attempts", on_delete="CASCADE")
    number = IntegerField()
    key = CharField(unique=True)
    provider = CharField()
    provider_id = CharField(null=True)  # Stripe's Checkout Session, PayPal's order
    url = TextField(default="")  # the hosted page
    # The order's page (with its signed link), where the provider sends the shopper back;
    # kept so that opening the attempt again sends the very same request.
    return_url = TextField(default="")
    state = CharField(default=OPEN)
    created_at = DateTimeField(default=now)
    updated_at = DateTimeField(default=now)
    checked_at = DateTimeField(null=True)  # last asked at the provider by the reconciliation

    class Meta:
        indexes = (
            (("order", "number"), True),
            (("provider", "provider_id"), True),
            (("state", "created_at"), False),
        )


class ProviderEvent(BaseModel):
    """A provider's event, recorded in the transaction that applied it: the same event
    again finds its id here and changes nothing."""

    provider = CharField()
    event_id = CharField()
    kind = CharField()
    order = ForeignKeyField(Order, null=True, on_delete="SET NULL")
    received_at = DateTimeField(default=now)

    class Meta:
        indexes = ((("provider", "event_id"), True),)


# What a PaymentIssue is about.
AMOUNT_MISMATCH = "amount_mismatch"
UNEXPECTED_PAYMENT = "unexpected_payment"  # paid twice, or after the order was cancelled
DISPUTE = "dispute"
REFUND_FAILED = "refund_failed"
NOT_AT_PROVIDER = "not_at_provider"  # paid here, but the provider does not have it so

ISSUE_LABELS = {
    AMOUNT_MISMATCH: _l("Amount or currency differ from the order"),
    UNEXPECTED_PAYMENT: _l("Payment for an order that was already paid or cancelled"),
    DISPUTE: _l("Payment disputed by the customer (chargeback)"),
    REFUND_FAILED: _l("Refund failed at the provider"),
    NOT_AT_PROVIDER: _l("Marked paid here, but not paid at the provider"),
}


class PaymentIssue(BaseModel):
    """A difference between a provider and the shop, for the merchant to settle; once
    per provider, kind and provider id."""

    if TYPE_CHECKING:
        order_id: int | None
        order_number: str  # set by the back office's list

    provider = CharField()
    kind = CharField()
    reference = CharField()  # the provider's id of the payment, refund or dispute
    order = ForeignKeyField(Order, null=True, backref="payment_issues", on_delete="SET NULL")
    amount_cents = IntegerField(null=True)
    currency = CharField(default="EUR")
    detail = TextField(default="")
    created_at = DateTimeField(default=now, index=True)
    resolved_at = DateTimeField(null=True)
    resolved_by = CharField(default="")

    class Meta:
        indexes = ((("provider", "kind", "reference"), True), (("resolved_at", "created_at"), False))

    @property
    def label(self) -> str:
        return str(ISSUE_LABELS.get(self.kind, self.kind))
