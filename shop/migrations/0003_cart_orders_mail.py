"""Carts, orders with lines, history and yearly number sequences, and the mail outbox."""
import datetime

from peewee import *


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Product(Base):
        class Meta:
            table_name = "product"

    class Cart(Base):
        token = CharField(unique=True)
        checkout = TextField(default="{}")
        created_at = DateTimeField(default=datetime.datetime.now)
        updated_at = DateTimeField(default=datetime.datetime.now)

    class CartLine(Base):
        cart = ForeignKeyField(Cart, on_delete="CASCADE")
        product = ForeignKeyField(Product, on_delete="CASCADE")
        quantity = IntegerField(constraints=[Check("quantity > 0")])

        class Meta:
            indexes = ((("cart", "product"), True),)

    class OrderSequence(Base):
        year = IntegerField(primary_key=True)
        last_number = BigIntegerField(default=0)

    class Order(Base):
        number = CharField(unique=True)
        email = CharField()
        billing_address = TextField()
        shipping_address = TextField(null=True)
        delivery_option = CharField()
        payment_method = CharField()
        status = CharField(index=True)
        subtotal_cents = IntegerField()
        shipping_cents = IntegerField()
        total_cents = IntegerField()
        vat_by_rate = TextField()
        legal_versions = TextField()
        idempotency_key = CharField(unique=True)
        carrier = CharField(default="")
        tracking_number = CharField(default="")
        placed_at = DateTimeField(index=True)
        updated_at = DateTimeField()

    class OrderLine(Base):
        order = ForeignKeyField(Order, on_delete="CASCADE")
        product = ForeignKeyField(Product, null=True, on_delete="SET NULL")
        sku = CharField()
        name = CharField()
        unit_price_cents = IntegerField()
        vat_rate = IntegerField()
        quantity = IntegerField()
        total_cents = IntegerField()
        vat_cents = IntegerField()

    class OrderEvent(Base):
        order = ForeignKeyField(Order, on_delete="CASCADE")
        status = CharField()
        actor = CharField()
        note = TextField(default="")
        created_at = DateTimeField()

    class OutboxMessage(Base):
        recipient = CharField()
        subject = CharField()
        message = TextField()
        created_at = DateTimeField()
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField(index=True)
        claimed_until = DateTimeField(null=True)
        sent_at = DateTimeField(null=True, index=True)
        last_error = TextField(default="")

    db.create_tables([Cart, CartLine, OrderSequence, Order, OrderLine, OrderEvent, OutboxMessage])
