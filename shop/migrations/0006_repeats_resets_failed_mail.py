"""Repeated add-to-cart forms count once; one live password-reset link per account;
mail that can never be sent is marked failed."""
from peewee import *


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Cart(Base):
        class Meta:
            table_name = "cart"

    class CartAdd(Base):
        key = CharField(unique=True)
        cart = ForeignKeyField(Cart, on_delete="CASCADE")
        created_at = DateTimeField(index=True)

    db.create_tables([CartAdd])
    migrator.migrate(
        migrator.add_column("user", "reset_token_hash", CharField(null=True)),
        migrator.add_column("outbox_message", "failed_at", DateTimeField(null=True)),
    )
