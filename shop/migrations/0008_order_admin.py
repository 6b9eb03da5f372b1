"""The orders' back office: payments and refunds as rows of their own, internal notes, a
payment state, the customer's name, country and VAT as columns (to search, filter and sort
100,000 orders by), and the order each mail belongs to (the order's timeline)."""
import json

from peewee import *


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Order(Base):
        class Meta:
            table_name = "order"

    class Payment(Base):
        order = ForeignKeyField(Order, on_delete="CASCADE")
        provider = CharField()
        provider_id = CharField(null=True)
        amount_cents = IntegerField()
        currency = CharField(default="EUR")
        state = CharField()
        reference = CharField(default="")
        actor = CharField(default="")
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            indexes = ((("provider", "provider_id"), True),)

    class Refund(Base):
        order = ForeignKeyField(Order, on_delete="CASCADE")
        provider = CharField()
        provider_id = CharField(null=True)
        amount_cents = IntegerField()
        currency = CharField(default="EUR")
        state = CharField()
        reference = CharField(default="")
        lines = TextField(default="{}")
        note = TextField(default="")
        actor = CharField(default="")
        created_at = DateTimeField()
        updated_at = DateTimeField()

    class OrderNote(Base):
        order = ForeignKeyField(Order, on_delete="CASCADE")
        author = CharField()
        text = TextField()
        created_at = DateTimeField()

    db.create_tables([Payment, Refund, OrderNote])
    migrator.migrate(
        migrator.add_column("order", "payment_status", CharField(default="unpaid")),
        migrator.add_column("order", "customer_name", CharField(default="")),
        migrator.add_column("order", "country", CharField(default="")),
        migrator.add_column("order", "vat_cents", IntegerField(default=0)),
        migrator.add_column("outbox_message", "order_id", IntegerField(null=True)),
        migrator.add_column("outbox_message", "kind", CharField(default="")),
        migrator.add_index("order", ("payment_status", "placed_at"), False),
        migrator.add_index("order", ("payment_method", "placed_at"), False),
        migrator.add_index("order", ("status", "placed_at"), False),
        migrator.add_index("order", ("email",), False),
        migrator.add_index("order", ("customer_name",), False),
        migrator.add_index("order", ("country", "placed_at"), False),
        migrator.add_index("order", ("total_cents",), False),
        migrator.add_index("outbox_message", ("order_id",), False),
    )
    db.execute_sql(
        "UPDATE \"order\" SET payment_status = CASE"
        " WHEN status IN ('paid', 'shipped', 'delivered') THEN 'paid'"
        " WHEN status = 'refunded' THEN 'refunded' ELSE 'unpaid' END"
    )
    rows = db.execute_sql('SELECT id, billing_address, shipping_address, vat_by_rate FROM "order"').fetchall()
    for order_id, billing, shipping, vat_by_rate in rows:
        billing = json.loads(billing or "{}")
        delivery = json.loads(shipping) if shipping and shipping != "null" else billing
        vat = sum(json.loads(vat_by_rate or "{}").values())
        db.execute_sql(
            f'UPDATE "order" SET customer_name = {db.param}, country = {db.param}, vat_cents = {db.param}'
            f" WHERE id = {db.param}",
            (billing.get("name", "")[:255], delivery.get("country", ""), vat, order_id))
