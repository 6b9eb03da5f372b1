"""Orders with their lines (snapshots of what was bought) and their history."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from peewee import BigIntegerField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from shop.accounts.models import User
from shop.catalog.models import Product
from shop.db import BaseModel, JSONField, db, now
from shop.i18n import lazy_gettext as _l

AWAITING_PAYMENT = "awaiting_payment"
PAID = "paid"
SHIPPED = "shipped"
DELIVERED = "delivered"
CANCELLED = "cancelled"
REFUNDED = "refunded"

# The payment state, which follows from the order's payments and refunds.
UNPAID, PARTLY_REFUNDED = "unpaid", "partly_refunded"  # and PAID, REFUNDED
PAYMENT_STATES = (UNPAID, PAID, PARTLY_REFUNDED, REFUNDED)
SUCCEEDED = "succeeded"  # a payment's or a refund's state

TRANSITIONS = {
    AWAITING_PAYMENT: {PAID, CANCELLED},
    PAID: {SHIPPED, CANCELLED, REFUNDED},
    SHIPPED: {DELIVERED, REFUNDED},
    DELIVERED: {REFUNDED},
    CANCELLED: set(),
    REFUNDED: set(),
}


class OrderSequence(BaseModel):
    """The last order number given out per year; taken inside the order's transaction."""

    year = IntegerField(primary_key=True)
    last_number = BigIntegerField(default=0)


class Order(BaseModel):
    if TYPE_CHECKING:
        user_id: int | None
        lines: Any
        payments: Any
        refunds: Any
        notes: Any
        events: Any
        attempts: Any
        payment_issues: Any
        paid_with: list  # set by order_history
        refunded_cents: int

    number = CharField(unique=True)
    user = ForeignKeyField(User, null=True, backref="orders", on_delete="SET NULL")
    email = CharField()
    billing_address = JSONField()
    shipping_address = JSONField(null=True)  # None: deliver to the billing address
    delivery_option = CharField()
    payment_method = CharField()
    status = CharField(default=AWAITING_PAYMENT, index=True)
    payment_status = CharField(default=UNPAID)
    subtotal_cents = IntegerField()
    shipping_cents = IntegerField()
    total_cents = IntegerField()
    vat_by_rate = JSONField()  # {"19": cents, "7": cents}
    vat_cents = IntegerField(default=0)  # all of it: net revenue is total_cents - vat_cents
    legal_versions = JSONField()  # the texts the shopper agreed to
    idempotency_key = CharField(unique=True)
    carrier = CharField(default="")
    tracking_number = CharField(default="")
    placed_at = DateTimeField(default=now, index=True)
    payment_reminded_at = DateTimeField(null=True)  # an unpaid bank transfer's reminder went out
    updated_at = DateTimeField(default=now)
    # From the addresses, as columns: the back office searches, filters and sorts by them.
    customer_name = CharField(default="")
    country = CharField(default="")

    @classmethod
    def for_customer(cls, user):
        return cls.select().where(cls.user == user).order_by(cls.placed_at.desc(), cls.id.desc())

    @property
    def delivery_address(self) -> dict:
        return self.shipping_address or self.billing_address

    @property
    def vat_lines(self) -> list[tuple[int, int]]:
        """(rate, cents) pairs, the higher rate first."""
        return sorted(((int(rate), cents) for rate, cents in self.vat_by_rate.items()), reverse=True)

    def can_become(self, status: str) -> bool:
        return status in TRANSITIONS[self.status]


class OrderVersion(BaseModel):
    """Changes (by database triggers) whenever an order is placed, changed or removed."""

    epoch = CharField()
    version = BigIntegerField()

    @classmethod
    def current(cls) -> tuple[str, int]:
        # Asked on each page of the orders table: plain SQL, cheaper than building it.
        return db.execute_sql(f"SELECT epoch, version FROM {cls._meta.table_name} WHERE id = 1").fetchone()


class OrderLine(BaseModel):
    if TYPE_CHECKING:
        order_id: int
        product_id: int | None

    order = ForeignKeyField(Order, backref="lines", on_delete="CASCADE")
    product = ForeignKeyField(Product, null=True, on_delete="SET NULL")
    sku = CharField()
    name = CharField()
    unit_price_cents = IntegerField()
    vat_rate = IntegerField()
    quantity = IntegerField()
    total_cents = IntegerField()
    vat_cents = IntegerField()


class Payment(BaseModel):
    """Money received for an order: a transfer seen on a bank statement or marked by hand,
    or a payment provider's (Stripe, PayPal)."""

    if TYPE_CHECKING:
        order_id: int

    order = ForeignKeyField(Order, backref="payments", on_delete="CASCADE")
    provider = CharField()  # "bank_transfer", …
    provider_id = CharField(null=True)  # the provider's id for it, unique per provider
    amount_cents = IntegerField()
    currency = CharField(default="EUR")
    state = CharField()  # SUCCEEDED, …
    reference = CharField(default="")  # e.g. the transfer's reference text
    actor = CharField(default="")
    # How it was paid at the provider: "card" (with brand and last four digits), "paypal",
    # "sepa_debit", "klarna", …; empty for a bank transfer.
    method = CharField(default="")
    card_brand = CharField(default="")
    card_last4 = CharField(default="")
    created_at = DateTimeField(default=now)
    updated_at = DateTimeField(default=now)
    checked_at = DateTimeField(null=True)  # compared with the provider's record by the reconciliation


PAYMENT_METHOD_NAMES = {
    "paypal": "PayPal", "sepa_debit": _l("SEPA direct debit"), "klarna": "Klarna", "giropay": "giropay",
    "sofort": "Sofort", "eps": "eps", "ideal": "iDEAL", "bancontact": "Bancontact", "link": "Link",
    "stripe": "Stripe",
}
CARD_BRANDS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "discover": "Discover",
               "diners": "Diners Club", "jcb": "JCB", "unionpay": "UnionPay", "cartes_bancaires": "Cartes Bancaires"}


def paid_with(payment: Payment) -> str:
    """How a payment was made, as the customer knows it: "Visa •••• 4242", "PayPal",
    "bank transfer"."""
    if payment.card_last4:
        brand = CARD_BRANDS.get(payment.card_brand, payment.card_brand.title() or str(_l("Card")))
        return f"{brand} •••• {payment.card_last4}"
    if payment.method:
        return str(PAYMENT_METHOD_NAMES.get(payment.method, payment.method))
    if payment.provider in ("paypal", "stripe"):
        return {"paypal": "PayPal", "stripe": "Stripe"}[payment.provider]
    if payment.provider == "prepayment":
        return str(_l("bank transfer"))
    return payment.provider


class Refund(BaseModel):
    """Money paid back: for the whole order or some of its lines (`lines`: {line id: quantity})."""

    if TYPE_CHECKING:
        order_id: int

    order = ForeignKeyField(Order, backref="refunds", on_delete="CASCADE")
    provider = CharField()
    provider_id = CharField(null=True)
    amount_cents = IntegerField()
    currency = CharField(default="EUR")
    state = CharField()
    reference = CharField(default="")  # for a bank transfer: the reference of the transfer back
    lines = JSONField(default=dict)
    note = TextField(default="")
    actor = CharField(default="")
    created_at = DateTimeField(default=now)
    updated_at = DateTimeField(default=now)


class OrderNote(BaseModel):
    """An internal note on an order, for the merchant's eyes only."""

    order = ForeignKeyField(Order, backref="notes", on_delete="CASCADE")
    author = CharField()
    text = TextField()
    created_at = DateTimeField(default=now)


class OrderEvent(BaseModel):
    """One step in an order's history: who moved it to which state, when."""

    order = ForeignKeyField(Order, backref="events", on_delete="CASCADE")
    status = CharField()
    actor = CharField()
    note = TextField(default="")
    created_at = DateTimeField(default=now)

STATUS_LABELS = {
    AWAITING_PAYMENT: _l("Awaiting payment"),
    PAID: _l("Paid"),
    SHIPPED: _l("Shipped"),
    DELIVERED: _l("Delivered"),
    CANCELLED: _l("Cancelled"),
    REFUNDED: _l("Refunded"),
}


PAYMENT_LABELS = {
    UNPAID: _l("Unpaid"),
    PAID: _l("Paid"),
    PARTLY_REFUNDED: _l("Partly refunded"),
    REFUNDED: _l("Refunded"),
}


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def payment_label(state: str) -> str:
    return str(PAYMENT_LABELS.get(state, state))
