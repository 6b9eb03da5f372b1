"""Accounts and their signed-in sessions."""
from __future__ import annotations

import hashlib
import secrets

from peewee import CharField, DateTimeField, ForeignKeyField

from shop.db import BaseModel, now

CUSTOMER = "customer"
ADMIN = "admin"


class User(BaseModel):
    email = CharField(unique=True)  # stored lowercased
    password_hash = CharField()
    name = CharField()
    role = CharField(default=CUSTOMER)
    email_verified_at = DateTimeField(null=True)
    language = CharField(default="de")
    created_at = DateTimeField(default=now)
    updated_at = DateTimeField(default=now)

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def verified(self) -> bool:
        return self.email_verified_at is not None


class UserSession(BaseModel):
    """A signed-in browser. The cookie holds a random key; the table keeps only its hash,
    so a leaked database cannot be turned into sessions."""

    key_hash = CharField(unique=True)
    user = ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    created_at = DateTimeField(default=now)
    last_seen_at = DateTimeField(default=now)
    expires_at = DateTimeField(index=True)
    user_agent = CharField(default="")

    @staticmethod
    def new_key() -> str:
        return secrets.token_urlsafe(32)

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()
