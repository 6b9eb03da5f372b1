"""Payments through providers: each try at a provider's page, the provider's events as
applied, differences for a person to settle, and how a payment was made (card brand and
last digits, PayPal, …)."""
from peewee import *


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Order(Base):
        class Meta:
            table_name = "order"

    class PaymentAttempt(Base):
        order = ForeignKeyField(Order, on_delete="CASCADE")
        number = IntegerField()
        key = CharField(unique=True)
        provider = CharField()
        provider_id = CharField(null=True)
        url = TextField(default="")
        return_url = TextField(default="")
        state = CharField(default="open")
        created_at = DateTimeField()
        updated_at = DateTimeField()
        checked_at = DateTimeField(null=True)

        class Meta:
            indexes = (
                (("order", "number"), True),
                (("provider", "provider_id"), True),
                (("state", "created_at"), False),
            )

    class ProviderEvent(Base):
        provider = CharField()
        event_id = CharField()
        kind = CharField()
        order = ForeignKeyField(Order, null=True, on_delete="SET NULL")
        received_at = DateTimeField()

        class Meta:
            indexes = ((("provider", "event_id"), True),)

    class PaymentIssue(Base):
        provider = CharField()
        kind = CharField()
        reference = CharField()
        order = ForeignKeyField(Order, null=True, on_delete="SET NULL")
        amount_cents = IntegerField(null=True)
        currency = CharField(default="EUR")
        detail = TextField(default="")
        created_at = DateTimeField(index=True)
        resolved_at = DateTimeField(null=True)
        resolved_by = CharField(default="")

        class Meta:
            indexes = ((("provider", "kind", "reference"), True), (("resolved_at", "created_at"), False))

    db.create_tables([PaymentAttempt, ProviderEvent, PaymentIssue])
    migrator.migrate(
        migrator.add_column("payment", "method", CharField(default="")),
        migrator.add_column("payment", "card_brand", CharField(default="")),
        migrator.add_column("payment", "card_last4", CharField(default="")),
        migrator.add_column("payment", "checked_at", DateTimeField(null=True)),
        migrator.add_index("refund", ("provider", "provider_id"), True),
        migrator.add_index("payment", ("provider", "checked_at"), False),
    )
