"""Accounts: registration with double opt-in, sign-in sessions kept on the server,
password reset. Every link in a mail is built from BASE_URL and signed."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from shop.db import DatabaseBusy, Prepared, locked, now, write
from shop.i18n import _, in_language
from shop.mail import outbox

from . import passwords
from .models import ADMIN, CUSTOMER, Address, Consent, User, UserSession

VERIFY_MAX_AGE = 3 * 24 * 3600
RESET_MAX_AGE = 3600
SESSION_LIFETIME = dt.timedelta(days=14)


def normalize(email: str) -> str:
    return email.strip().lower()


def _signer(settings, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=f"account-{purpose}")


# -- registration ---------------------------------------------------------------

def register(settings, name: str, email: str, password: str) -> None:
    """Create the account and mail the confirmation link. An address that already has
    an account gets a notice instead, so the page cannot tell who is a customer."""
    email = normalize(email)
    with write():
        existing = User.get_or_none(User.email == email)
        password_hash = passwords.hash_password(password)  # on both paths: the same time
        if existing:
            with in_language(existing.language):
                outbox.enqueue(outbox.compose(settings, email, _("Someone tried to register with your address"),
                                          "account_exists", {"user": existing, "link": outbox.link(settings, "accounts:login")}))
            return
        user = User.create(email=email, name=name.strip(), password_hash=password_hash)
        outbox.enqueue(verification_mail(settings, user))


def verification_mail(settings, user: User):
    token = _signer(settings, "verify").dumps({"uid": user.id, "email": user.email})
    return outbox.compose(settings, user.email, _("Please confirm your email address"), "account_verify",
                        {"user": user, "link": outbox.link(settings, "accounts:verify", query={"token": token})})


def verify_email(settings, token: str) -> User | None:
    try:
        data = _signer(settings, "verify").loads(token, max_age=VERIFY_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    with write():
        user = User.get_or_none((User.id == data.get("uid")) & (User.email == data.get("email")))
        if user and not user.verified:
            User.update(email_verified_at=now(), updated_at=now()).where(User.id == user.id).execute()
            user = User.get_by_id(user.id)
    return user


def resend_verification(settings, user: User) -> None:
    with write():
        outbox.enqueue(verification_mail(settings, user))


# -- signing in -----------------------------------------------------------------

class AccountLocked(Exception):
    """The password is right, but an admin has locked the account."""


def authenticate(email: str, password: str) -> User | None:
    """The account for these credentials, or None; takes as long either way. Raises
    AccountLocked for a locked account, only once the password has proven the owner
    (so the answer tells a stranger nothing)."""
    user = User.get_or_none(User.email == normalize(email))
    if user is None:
        passwords.verify(passwords.DUMMY_HASH, password)
        return None
    if not passwords.verify(user.password_hash, password):
        return None
    if user.locked:
        raise AccountLocked(user.email)
    if passwords.needs_rehash(user.password_hash):
        with write():
            User.update(password_hash=passwords.hash_password(password)).where(User.id == user.id).execute()
    return user


def start_session(user: User, user_agent: str = "") -> str:
    """A new signed-in session; returns the key for the cookie. A locked account gets none."""
    key = UserSession.new_key()
    with write():
        if User.select().where((User.id == user.id) & User.locked_at.is_null(False)).exists():
            raise AccountLocked(user.email)
        UserSession.create(key_hash=UserSession.hash_key(key), user=user, user_agent=user_agent[:200],
                           expires_at=now() + SESSION_LIFETIME)
    return key


# Asked on every request of a signed-in user.
_live_session = Prepared(lambda key_hash, at: UserSession.select(UserSession, User).join(User).where(
    (UserSession.key_hash == key_hash) & (UserSession.expires_at > at) & User.locked_at.is_null()))

# How often the "last seen" time is written: for customers now and then (the list of
# sessions), for admins each minute, since it decides when their session ends.
SEEN_EVERY = dt.timedelta(minutes=5)
ADMIN_SEEN_EVERY = dt.timedelta(minutes=1)
IDLE = "idle"  # what session_user answers for an admin's session that ended for idleness


def session_user(key: str | None, admin_idle: dt.timedelta | None = None
                 ) -> tuple[User, UserSession] | str | None:
    """The user of a live session key, checked against the database on every request.

    With `admin_idle`, an admin's session unused for longer ends here and the answer is
    IDLE. The last request's time is known to within ADMIN_SEEN_EVERY, so the session
    ends between `admin_idle` and one minute later, never earlier.
    """
    if not key:
        return None
    row = _live_session.first(UserSession.hash_key(key), now())
    if row is None:
        return None
    admin = row.user.is_admin
    unused = now() - row.last_seen_at
    if admin and admin_idle and unused > admin_idle + ADMIN_SEEN_EVERY:
        with write():
            UserSession.delete().where(UserSession.id == row.id).execute()
        return IDLE
    if unused > (ADMIN_SEEN_EVERY if admin else SEEN_EVERY):
        try:
            with write():
                UserSession.update(last_seen_at=now()).where(UserSession.id == row.id).execute()
        except DatabaseBusy:
            pass  # only the "last seen" time; the page matters more
    return row.user, row


def end_session(key: str | None) -> None:
    if key:
        with write():
            UserSession.delete().where(UserSession.key_hash == UserSession.hash_key(key)).execute()


def end_sessions(user: User, keep: str | None = None, only: int | None = None) -> None:
    """End the user's sessions: all but `keep`, or just the one with id `only`."""
    query = UserSession.delete().where(UserSession.user == user)
    if keep:
        query = query.where(UserSession.key_hash != UserSession.hash_key(keep))
    if only is not None:
        query = query.where(UserSession.id == only)
    with write():
        query.execute()


def remove_expired_sessions() -> int:
    """Run by the worker: sessions past their lifetime go."""
    with write():
        return UserSession.delete().where(UserSession.expires_at <= now()).execute()


def active_sessions(user: User | int) -> list[UserSession]:
    return list(UserSession.select().where((UserSession.user == user) & (UserSession.expires_at > now()))
                .order_by(UserSession.last_seen_at.desc()))


# -- passwords --------------------------------------------------------------------

def request_reset(settings, email: str) -> None:
    """Mail a reset link if the address has an account; the caller answers the same either way.

    The link carries a random secret whose hash the account keeps: a newer link replaces
    it (every older one dies), and using the link or changing the password clears it.
    """
    user = User.get_or_none(User.email == normalize(email))
    passwords.verify(passwords.DUMMY_HASH, "x")  # the slow part, on both paths: the same time
    if user is None:
        return
    secret = secrets.token_urlsafe(32)
    token = _signer(settings, "reset").dumps({"uid": user.id, "secret": secret})
    with write(), in_language(user.language):
        User.update(reset_token_hash=_digest(secret)).where(User.id == user.id).execute()
        outbox.enqueue(outbox.compose(settings, user.email, _("Reset your password"), "account_reset", {
            "user": user, "link": outbox.link(settings, "accounts:password_reset_confirm", query={"token": token})}))


def user_for_reset(settings, token: str) -> User | None:
    try:
        data = _signer(settings, "reset").loads(token, max_age=RESET_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    secret = data.get("secret") if isinstance(data, dict) else None
    user = User.get_or_none(User.id == data.get("uid")) if isinstance(secret, str) else None
    if user is None or user.reset_token_hash is None or not hmac.compare_digest(
            user.reset_token_hash, _digest(secret)):
        return None
    return user


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def set_password(user: User, password: str, keep_session: str | None = None, email_proven: bool = False) -> None:
    """Change the password and end every other session of the account; any reset link
    dies with the old password. `email_proven`: the change came through a mailed link."""
    changes = {"password_hash": passwords.hash_password(password), "reset_token_hash": None, "updated_at": now()}
    if email_proven and not user.verified:
        changes["email_verified_at"] = now()
    with write():
        User.update(changes).where(User.id == user.id).execute()
        end_sessions(user, keep=keep_session)


def create_admin(email: str, password: str, name: str = "Admin") -> User:
    email = normalize(email)
    with write():
        user = User.get_or_none(User.email == email)
        if user is None:
            return User.create(email=email, name=name, role=ADMIN, email_verified_at=now(),
                               password_hash=passwords.hash_password(password))
        # An account someone else may have opened: new password, and every session of it
        # ends. The command is the way back in for an operator: it also unlocks.
        User.update(role=ADMIN, password_hash=passwords.hash_password(password), email_verified_at=now(),
                    locked_at=None, updated_at=now()).where(User.id == user.id).execute()
        end_sessions(user)
        return User.get_by_id(user.id)


# -- what an admin does to an account ----------------------------------------------

class Refused(Exception):
    """The change cannot be made (nothing was written); the message says why."""


def _account_for_change(user_id: int) -> User:
    user = locked(User.select().where(User.id == user_id)).get_or_none()
    if user is None:
        raise LookupError(user_id)
    return user


def lock_account(user_id: int, by_user_id: int | None) -> tuple[User, int]:
    """Lock the account and end all its sessions; returns the account as it was and how
    many sessions ended. Call inside `write()`."""
    user = _account_for_change(user_id)
    if user.id == by_user_id:
        raise Refused(_("You cannot lock your own account."))
    if user.locked:
        raise Refused(_("This account is already locked."))
    User.update(locked_at=now(), updated_at=now()).where(User.id == user.id).execute()
    ended = UserSession.delete().where(UserSession.user == user.id).execute()
    return user, ended


def unlock_account(user_id: int) -> User:
    """Call inside `write()`; returns the account as it was."""
    user = _account_for_change(user_id)
    if not user.locked:
        raise Refused(_("This account is not locked."))
    User.update(locked_at=None, updated_at=now()).where(User.id == user.id).execute()
    return user


def set_role(user_id: int, role: str) -> User:
    """Make an account an admin or a customer again; returns it as it was. The last
    admin who can sign in stays one. Call inside `write()`."""
    assert role in (ADMIN, CUSTOMER), role
    # Every admin's row is locked (PostgreSQL), so two admins taking each other's role
    # at once cannot both succeed.
    admins = {row.id: row for row in locked(User.select(User.id, User.locked_at).where(User.role == ADMIN))}
    user = _account_for_change(user_id)
    if user.role == role:
        raise Refused(_("This account is already an admin.") if role == ADMIN
                      else _("This account is not an admin."))
    if role == ADMIN:
        if user.locked:
            raise Refused(_("A locked account cannot become an admin. Unlock it first."))
        if not user.verified:
            raise Refused(_("The email address of this account is not confirmed yet; "
                            "only a confirmed account can become an admin."))
    elif not any(admin_id != user.id and not row.locked for admin_id, row in admins.items()):
        raise Refused(_("This is the last admin: the shop needs at least one. "
                        "Make someone else an admin first."))
    User.update(role=role, updated_at=now()).where(User.id == user.id).execute()
    return user


def end_account_session(user_id: int, session_id: int) -> UserSession:
    """End one session of the account; LookupError if it has no such session. Call
    inside `write()`; returns the session as it was."""
    session = locked(UserSession.select().where(
        (UserSession.id == session_id) & (UserSession.user == user_id))).get_or_none()
    if session is None:
        raise LookupError(session_id)
    UserSession.delete().where(UserSession.id == session.id).execute()
    return session


def resend_verification_for(settings, user_id: int) -> User:
    """An admin sends the confirmation link again, in the account's language. Call
    inside `write()`."""
    user = _account_for_change(user_id)
    if user.verified:
        raise Refused(_("This email address is already confirmed."))
    with in_language(user.language):
        outbox.enqueue(verification_mail(settings, user))
    return user


# -- addresses --------------------------------------------------------------------

def addresses(user: User | int) -> list[Address]:
    return list(Address.select().where(Address.user == user).order_by(Address.id))


def save_address(user: User, values: dict, default_billing: bool, default_shipping: bool) -> Address:
    """A new saved address; the first one becomes the default for both."""
    with write():
        first = not Address.select().where(Address.user == user).exists()
        if default_billing:
            Address.update(default_billing=False).where(Address.user == user).execute()
        if default_shipping:
            Address.update(default_shipping=False).where(Address.user == user).execute()
        return Address.create(user=user, default_billing=default_billing or first,
                              default_shipping=default_shipping or first,
                              **{field: (values.get(field) or "").strip() for field in Address.FIELDS})


def keep_addresses(user: User, new: list[dict]) -> int:
    """Save the addresses the account does not hold yet (from the checkout); returns how many."""
    with write():
        held = {tuple(a.as_dict().values()) for a in Address.select().where(Address.user == user)}
        added = 0
        for values in new:
            address = {field: (values.get(field) or "").strip() for field in Address.FIELDS}
            if tuple(address.values()) not in held:
                first = not held and not added
                Address.create(user=user, default_billing=first, default_shipping=first, **address)
                held.add(tuple(address.values()))
                added += 1
        return added


def make_default(user: User, address_id: int, kind: str | None) -> bool:
    """Make an own address the default for billing or delivery; False if it is not theirs."""
    field = {"default-billing": Address.default_billing, "default-shipping": Address.default_shipping}.get(kind)
    address = Address.get_or_none((Address.id == address_id) & (Address.user == user))
    if address is None or field is None:
        return False
    with write():
        Address.update({field: False}).where(Address.user == user).execute()
        Address.update({field: True}).where(Address.id == address.id).execute()
    return True


def delete_address(user: User, address_id: int) -> bool:
    with write():
        return bool(Address.delete().where((Address.id == address_id) & (Address.user == user)).execute())


# -- profile ------------------------------------------------------------------------

def update_profile(user: User, name: str, language: str) -> None:
    with write():
        User.update(name=name.strip(), language=language, updated_at=now()).where(User.id == user.id).execute()


def request_email_change(settings, user: User, new_email: str) -> None:
    """Mail a confirmation link to the new address and a notice to the old one."""
    new_email = normalize(new_email)
    token = _signer(settings, "email").dumps({"uid": user.id, "old": user.email, "new": new_email})
    with write(), in_language(user.language):
        outbox.enqueue(outbox.compose(settings, new_email, _("Please confirm your new email address"),
                                  "account_email_confirm",
                                  {"user": user, "link": outbox.link(settings, "accounts:confirm_email", query={"token": token})}))
        outbox.enqueue(outbox.compose(settings, user.email, _("Your email address is about to change"),
                                  "account_email_notice", {"user": user, "new_email": new_email}))


def confirm_email_change(settings, token: str) -> User | None:
    try:
        data = _signer(settings, "email").loads(token, max_age=VERIFY_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    with write():
        user = User.get_or_none((User.id == data.get("uid")) & (User.email == data.get("old")))
        if user is None or User.select().where(User.email == data.get("new")).exists():
            return None
        User.update(email=data["new"], email_verified_at=now(), updated_at=now()).where(
            User.id == user.id).execute()
        return User.get_by_id(user.id)


# -- mail preferences ------------------------------------------------------------------

NEWSLETTER = "newsletter"


def newsletter_consent(user: User | int) -> Consent | None:
    """The newsletter consent in force or waiting for confirmation, if any."""
    return (Consent.select().where((Consent.user == user) & (Consent.kind == NEWSLETTER)
                                   & Consent.withdrawn_at.is_null())
            .order_by(Consent.requested_at.desc()).first())


def request_newsletter(settings, user: User, wording: str, method: str) -> None:
    """Record the request with the exact wording shown, and mail the confirmation link
    (double opt-in); the newsletter goes out only once it is confirmed."""
    with write():
        if newsletter_consent(user):
            return
        consent = Consent.create(user=user, kind=NEWSLETTER, wording=wording, method=method)
        token = _signer(settings, "newsletter").dumps({"consent": consent.id})
        outbox.enqueue(outbox.compose(settings, user.email, _("Please confirm your newsletter subscription"),
                                  "newsletter_confirm",
                                  {"user": user, "link": outbox.link(settings, "accounts:newsletter_confirm", query={"token": token}),
                                   "unsubscribe": unsubscribe_link(settings, user)}))


def confirm_newsletter(settings, token: str) -> Consent | None:
    try:
        data = _signer(settings, "newsletter").loads(token, max_age=VERIFY_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    with write():
        consent = Consent.get_or_none((Consent.id == data.get("consent")) & Consent.withdrawn_at.is_null())
        if consent and consent.confirmed_at is None:
            Consent.update(confirmed_at=now()).where(Consent.id == consent.id).execute()
        return consent


def unsubscribe_link(settings, user: User) -> str:
    """Works without signing in: every newsletter mail carries it."""
    token = _signer(settings, "unsubscribe").dumps({"uid": user.id})
    return outbox.link(settings, "accounts:unsubscribe", query={"token": token})


def user_for_unsubscribe(settings, token: str) -> User | None:
    try:
        data = _signer(settings, "unsubscribe").loads(token)
    except BadSignature:
        return None
    return User.get_or_none(User.id == data.get("uid"))


def withdraw_newsletter(user: User) -> None:
    with write():
        Consent.update(withdrawn_at=now()).where(
            (Consent.user == user) & (Consent.kind == NEWSLETTER) & Consent.withdrawn_at.is_null()).execute()
