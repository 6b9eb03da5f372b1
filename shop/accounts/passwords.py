"""Password rules and hashing: argon2id, at least 10 characters, not a common password."""
from __future__ import annotations

from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shop.i18n import lazy_gettext as _l

MIN_LENGTH = 10
MAX_LENGTH = 200
COMMON = Path(__file__).with_name("common-passwords.txt")

hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@cache
def _common() -> frozenset[str]:
    lines = COMMON.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def problem(password: str, email: str = "") -> str | None:
    """Why this password will not do, or None. No composition rules, by design (NIST 800-63B)."""
    if len(password) < MIN_LENGTH:
        return str(_l("Please choose a password of at least %(min)d characters.", min=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        return str(_l("Please choose a password of at most %(max)d characters.", max=MAX_LENGTH))
    lowered = password.lower()
    if lowered in _common() or (email and lowered == email.lower()) or len(set(password)) < 4:
        return str(_l("This password is too easy to guess. Please choose another."))
    return None


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher.check_needs_rehash(password_hash)


# Verified against when an email has no account, so that both answers take as long.
DUMMY_HASH = hash_password("not-a-real-password-for-timing")
