"""Products a customer keeps an eye on."""
from __future__ import annotations

from peewee import BooleanField, DateTimeField, ForeignKeyField

from shop.accounts.models import User
from shop.catalog.models import Product
from shop.db import BaseModel, now


class WishlistItem(BaseModel):
    user = ForeignKeyField(User, backref="wishlist", on_delete="CASCADE")
    product = ForeignKeyField(Product, on_delete="CASCADE")
    # Set while the product is sold out; the worker mails when it is back.
    waiting_for_stock = BooleanField(default=False)
    created_at = DateTimeField(default=now)

    class Meta:
        indexes = ((("user", "product"), True),)
