"""Orders with their lines (snapshots of what was bought) and their history."""
from __future__ import annotations

from peewee import BigIntegerField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from shop.accounts.models import User
from shop.catalog.models import Product
from shop.db import BaseModel, JSONField, now
from shop.i18n import lazy_gettext as _l

AWAITING_PAYMENT = "awaiting_payment"
PAID = "paid"
SHIPPED = "shipped"
DELIVERED = "delivered"
CANCELLED = "cancelled"
REFUNDED = "refunded"

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
    number = CharField(unique=True)
    user = ForeignKeyField(User, null=True, backref="orders", on_delete="SET NULL")
    email = CharField()
    billing_address = JSONField()
    shipping_address = JSONField(null=True)  # None: deliver to the billing address
    delivery_option = CharField()
    payment_method = CharField()
    status = CharField(default=AWAITING_PAYMENT, index=True)
    subtotal_cents = IntegerField()
    shipping_cents = IntegerField()
    total_cents = IntegerField()
    vat_by_rate = JSONField()  # {"19": cents, "7": cents}
    legal_versions = JSONField()  # the texts the shopper agreed to
    idempotency_key = CharField(unique=True)
    carrier = CharField(default="")
    tracking_number = CharField(default="")
    placed_at = DateTimeField(default=now, index=True)
    updated_at = DateTimeField(default=now)

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


class OrderLine(BaseModel):
    order = ForeignKeyField(Order, backref="lines", on_delete="CASCADE")
    product = ForeignKeyField(Product, null=True, on_delete="SET NULL")
    sku = CharField()
    name = CharField()
    unit_price_cents = IntegerField()
    vat_rate = IntegerField()
    quantity = IntegerField()
    total_cents = IntegerField()
    vat_cents = IntegerField()


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


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))
