"""Accounts and their signed-in sessions."""
from __future__ import annotations

import hashlib
import secrets

from peewee import BigIntegerField, BooleanField, CharField, DateTimeField, ForeignKeyField, TextField

from shop.db import BaseModel, now

CUSTOMER = "customer"
ADMIN = "admin"


class User(BaseModel):
    email = CharField(unique=True)  # stored lowercased
    password_hash = CharField()
    name = CharField(index=True)
    role = CharField(default=CUSTOMER, index=True)
    email_verified_at = DateTimeField(null=True)
    language = CharField(default="de")
    # The SHA-256 of the one password-reset link still valid; a newer link replaces it.
    reset_token_hash = CharField(null=True)
    created_at = DateTimeField(default=now, index=True)
    updated_at = DateTimeField(default=now)
    # Set by an admin: the account cannot sign in, and its sessions have ended.
    locked_at = DateTimeField(null=True)
    # The second factor: a TOTP secret (waiting for its first code while totp_enabled_at
    # is empty) and the time step of the last code taken, so that no code counts twice.
    totp_secret = CharField(null=True)
    totp_enabled_at = DateTimeField(null=True)
    totp_last_step = BigIntegerField(null=True)

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def locked(self) -> bool:
        return self.locked_at is not None

    @property
    def two_factor(self) -> bool:
        """Signing in asks for a code from an authenticator app after the password."""
        return self.totp_enabled_at is not None

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


class Address(BaseModel):
    """A saved address; one may be the default for billing, one for delivery."""

    user = ForeignKeyField(User, backref="addresses", on_delete="CASCADE")
    name = CharField()
    company = CharField(default="")
    street = CharField()
    postcode = CharField()
    city = CharField()
    country = CharField()
    default_billing = BooleanField(default=False)
    default_shipping = BooleanField(default=False)
    created_at = DateTimeField(default=now)

    FIELDS = ("name", "company", "street", "postcode", "city", "country")

    def as_dict(self) -> dict:
        return {field: getattr(self, field) for field in self.FIELDS}


class Consent(BaseModel):
    """Proof of a consent (the newsletter): when it was asked, in which words, how it
    was given, when the address confirmed it and when it was withdrawn."""

    user = ForeignKeyField(User, backref="consents", on_delete="CASCADE")
    kind = CharField()
    wording = TextField()
    method = CharField()
    requested_at = DateTimeField(default=now)
    confirmed_at = DateTimeField(null=True)
    withdrawn_at = DateTimeField(null=True)


class RecoveryCode(BaseModel):
    """One of the ten codes that stand in for the authenticator app once each. Only the
    SHA-256 of a code is kept (the codes are random, so no slow hash is needed)."""

    user = ForeignKeyField(User, backref="recovery_codes", on_delete="CASCADE")
    code_hash = CharField()
    created_at = DateTimeField(default=now)
    used_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "code_hash"), True),)
