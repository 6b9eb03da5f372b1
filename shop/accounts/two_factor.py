"""Two-factor sign-in: a TOTP secret shared with an authenticator app (RFC 6238, 30-second
steps, six digits) and ten recovery codes that each stand in for the app once.

A code is taken once: the account keeps the time step of the last code accepted, and a
code of that step or an earlier one is refused, so a code seen over a shoulder cannot be
used again within its window. The secret is set up in two steps: made and shown (as text
and as a QR code drawn here as SVG), and turned on only by a first right code.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno

from shop.audit.service import Actor, record
from shop.db import locked, now, write

from .models import RecoveryCode, User

STEP_SECONDS = 30
RECOVERY_CODES = 10
# Letters and digits that cannot be mistaken for one another when typed from paper.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
clock = time.time  # tests move it

TOTP = "totp"
RECOVERY = "recovery"


class AlreadyOn(Exception):
    """Two-factor sign-in is on already; set-up starts over only after turning it off."""


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, interval=STEP_SECONDS)


def pending_secret(user_id: int) -> str:
    """The secret being set up: kept until it is turned on, so that reloading the page
    shows the code the app has already scanned."""
    with write():
        user = locked(User.select().where(User.id == user_id)).get()
        if user.two_factor:
            raise AlreadyOn(user_id)
        if user.totp_secret:
            return user.totp_secret
        secret = pyotp.random_base32()
        User.update(totp_secret=secret).where(User.id == user_id).execute()
        return secret


def setup_uri(secret: str, email: str, issuer: str) -> str:
    return _totp(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as inline SVG, black on white (scanners want that contrast,
    whatever the page's theme)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=4, dark="#000", light="#fff",
                                                  svgclass="qr-code", lineclass=None)


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _matching_step(secret: str, code: str) -> int | None:
    """The time step (now, or one before or after for a clock a little off) whose code
    this is, or None."""
    current = int(clock() // STEP_SECONDS)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(_totp(secret).generate_otp(step), code):
            return step
    return None


def _digits(code: str) -> str:
    return "".join(code.split())


def enable(user_id: int, code: str, who: Actor) -> list[str] | None:
    """Turn two-factor sign-in on if `code` is right for the secret being set up; returns
    the new recovery codes (to show once), or None for a wrong code."""
    with write():
        user = locked(User.select().where(User.id == user_id)).get()
        if user.two_factor:
            raise AlreadyOn(user_id)
        step = _matching_step(user.totp_secret, _digits(code)) if user.totp_secret else None
        if step is None:
            return None
        User.update(totp_enabled_at=now(), totp_last_step=step, updated_at=now()).where(
            User.id == user_id).execute()
        codes = _new_recovery_codes(user_id)
        record(who, "two_factor_on", "customer", user_id, user.email)
    return codes


def disable(user_id: int, who: Actor) -> None:
    with write():
        user = User.get_by_id(user_id)
        User.update(totp_secret=None, totp_enabled_at=None, totp_last_step=None, updated_at=now()).where(
            User.id == user_id).execute()
        RecoveryCode.delete().where(RecoveryCode.user == user_id).execute()
        record(who, "two_factor_off", "customer", user_id, user.email)


def renew_recovery_codes(user_id: int, who: Actor) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    with write():
        user = User.get_by_id(user_id)
        codes = _new_recovery_codes(user_id)
        record(who, "recovery_codes_renewed", "customer", user_id, user.email)
    return codes


def _new_recovery_codes(user_id: int) -> list[str]:
    RecoveryCode.delete().where(RecoveryCode.user == user_id).execute()
    codes = []
    for _n in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _i in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        RecoveryCode.create(user=user_id, code_hash=_hash(raw))
    return codes


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _recovery_form(code: str) -> str:
    return "".join(c for c in code.lower() if c not in " -\t")


def verify(user_id: int, code: str) -> str | None:
    """Check a code at sign-in: TOTP if a code of the app (never one of a step already
    used), RECOVERY if an unused recovery code (now used up), else None."""
    digits = _digits(code)
    with write():
        user = User.select(User.id, User.totp_secret, User.totp_enabled_at).where(User.id == user_id).get()
        if not user.two_factor or not user.totp_secret:
            return None
        if digits.isdigit() and len(digits) == 6:
            step = _matching_step(user.totp_secret, digits)
            # Taken only if no code of this step or a later one was taken before:
            # one statement, so two requests with the same code cannot both pass.
            if step is not None and User.update(totp_last_step=step).where(
                    (User.id == user_id) & (User.totp_last_step.is_null() | (User.totp_last_step < step))).execute():
                return TOTP
            return None
        recovery = _recovery_form(code)
        if len(recovery) == 10 and RecoveryCode.update(used_at=now()).where(
                (RecoveryCode.user == user_id) & (RecoveryCode.code_hash == _hash(recovery))
                & RecoveryCode.used_at.is_null()).execute():
            return RECOVERY
    return None


def recovery_codes_left(user_id: int) -> int:
    return RecoveryCode.select().where((RecoveryCode.user == user_id) & RecoveryCode.used_at.is_null()).count()
