"""Carts: one per visitor, found by a random token kept in the signed session."""
from __future__ import annotations

import secrets

from peewee import CharField, Check, DateTimeField, ForeignKeyField, IntegerField

from shop.accounts.models import User
from shop.catalog.models import Product
from shop.db import BaseModel, JSONField, now


class Cart(BaseModel):
    token = CharField(unique=True, default=lambda: secrets.token_urlsafe(24))
    user = ForeignKeyField(User, null=True, backref="carts", on_delete="CASCADE", index=True)
    # What the shopper typed during checkout, kept until the order is placed.
    checkout = JSONField(default=dict)
    checkout_started_at = DateTimeField(null=True)  # the first step of its latest checkout saved
    created_at = DateTimeField(default=now)
    updated_at = DateTimeField(default=now)


class CartLine(BaseModel):
    cart = ForeignKeyField(Cart, backref="lines", on_delete="CASCADE")
    product = ForeignKeyField(Product, on_delete="CASCADE")
    quantity = IntegerField(constraints=[Check("quantity > 0")])

    class Meta:
        indexes = ((("cart", "product"), True),)


class CartAdd(BaseModel):
    """An add-to-cart form already counted: `key` is the form's one-time key and the
    product, so a double click or a resent form adds once."""

    key = CharField(unique=True)
    cart = ForeignKeyField(Cart, on_delete="CASCADE")
    created_at = DateTimeField(default=now, index=True)
