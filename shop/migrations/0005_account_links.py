"""Carts and orders belong to accounts; saved addresses, wishlists and consents."""
from peewee import *


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class User(Base):
        class Meta:
            table_name = "user"

    class Product(Base):
        class Meta:
            table_name = "product"

    migrator.migrate(
        migrator.add_column("cart", "user_id",
                            ForeignKeyField(User, field=User.id, null=True, on_delete="CASCADE")),
        migrator.add_column("order", "user_id",
                            ForeignKeyField(User, field=User.id, null=True, on_delete="SET NULL")),
        migrator.add_index("order", ("user_id", "placed_at"), False),
    )

    class Address(Base):
        user = ForeignKeyField(User, on_delete="CASCADE")
        name = CharField()
        company = CharField(default="")
        street = CharField()
        postcode = CharField()
        city = CharField()
        country = CharField()
        default_billing = BooleanField(default=False)
        default_shipping = BooleanField(default=False)
        created_at = DateTimeField()

    class WishlistItem(Base):
        user = ForeignKeyField(User, on_delete="CASCADE")
        product = ForeignKeyField(Product, on_delete="CASCADE")
        waiting_for_stock = BooleanField(default=False)
        created_at = DateTimeField()

        class Meta:
            indexes = ((("user", "product"), True),)

    class Consent(Base):
        user = ForeignKeyField(User, on_delete="CASCADE")
        kind = CharField()
        wording = TextField()
        method = CharField()
        requested_at = DateTimeField()
        confirmed_at = DateTimeField(null=True)
        withdrawn_at = DateTimeField(null=True)

    db.create_tables([Address, WishlistItem, Consent])
