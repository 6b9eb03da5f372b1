"""Customers in the back office: the list (search by name or email, sort, pages), a page
per customer (orders, addresses, newsletter consent with its proof, open sessions,
wishlist size) and what an admin does to an account: lock and unlock, end a session,
make or remove an admin (with the password again), send the confirmation link again.

Every change is made through `shop.accounts.service` and audited in one transaction;
opening a customer's page is audited too ("view"): it shows personal data.
"""
from __future__ import annotations

from typing import Any

from peewee import fn
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from shop.accounts import service
from shop.accounts.models import ADMIN, CUSTOMER, Consent, User
from shop.audit.service import Actor, record
from shop.auth import redirect
from shop.db import run_db, write
from shop.forms import whole_number
from shop.i18n import _
from shop.i18n import lazy_gettext as _l
from shop.orders.models import Order
from shop.ratelimit import Limit, TooMany
from shop.web import flash, form_data, is_htmx, render, see_other, url_path
from shop.wishlist.models import WishlistItem

from . import reauth
from .actor import actor
from .table import Column, Filter, Page, State, Table

OBJECT = "customer"  # the audit trail's name for an account
LATEST_ORDERS = 20
LATEST_CONSENTS = 10
ACCOUNT_PANEL = "fragments/admin/customer_account.html"
SESSIONS_PANEL = "fragments/admin/customer_sessions.html"
# The customer's inbox gets the link at most this often, whoever asks.
RESEND_PER_ACCOUNT = Limit("admin-resend", 3, 3600)

KINDS = (("", _l("All accounts")), ("customers", _l("Customers")), ("admins", _l("Admins")),
         ("locked", _l("Locked")), ("unconfirmed", _l("Email not confirmed")))


# -- the list ---------------------------------------------------------------------------

def customer_table() -> Table:
    return Table(
        [
            Column("name", _l("Name"), User.name),
            Column("email", _l("Email address"), User.email),
            Column("registered", _l("Customer since"), User.created_at, numeric=True),
            Column("orders", _l("Orders"), numeric=True),
            Column("status", _l("Status")),
        ],
        [Filter("kind", _l("Accounts"), KINDS)],
        default_sort="registered", default_descending=True, tiebreak=User.id,
    )


def customer_query(state: State):
    query = User.select(User.id, User.name, User.email, User.role, User.created_at, User.email_verified_at,
                        User.locked_at, User.totp_enabled_at)
    if state.q:
        query = query.where(User.name.contains(state.q) | User.email.contains(state.q))
    kind = state.filters.get("kind")
    if kind == "customers":
        query = query.where(User.role == CUSTOMER)
    elif kind == "admins":
        query = query.where(User.role == ADMIN)
    elif kind == "locked":
        query = query.where(User.locked_at.is_null(False))
    elif kind == "unconfirmed":
        query = query.where(User.email_verified_at.is_null())
    return query


def _with_order_counts(query) -> list[User]:
    """The page's rows, each with `order_count`: one query for the whole page."""
    users = list(query)
    rows: list[Any] = list(Order.select(Order.user, fn.COUNT(Order.id)).where(
        Order.user.in_([u.id for u in users])).group_by(Order.user).tuples()) if users else []
    counts = {user_id: count for user_id, count in rows}
    for user in users:
        user.order_count = counts.get(user.id, 0)
    return users


def customer_page(table: Table, state: State) -> Page:
    return table.page(customer_query(state), state, load=_with_order_counts)


async def customers(request: Request):
    table = customer_table()
    state = table.read(request.query_params)
    page = await run_db(customer_page, table, state)
    return render(request, "admin/customers.html", {
        "table": table, "state": state, "page": page, "headers": table.headers(state),
    }, fragment="fragments/admin/customers_table.html")


# -- one customer -------------------------------------------------------------------------

def _customer(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise LookupError(user_id)
    return user


def account_panel(user_id: int) -> dict:
    """What the account's panels show: its state and its open sessions."""
    return {"customer": _customer(user_id), "sessions": service.active_sessions(user_id)}


def customer_details(user_id: int, who: Actor) -> dict:
    """Everything the customer's page shows; the look is recorded in the audit trail."""
    context = account_panel(user_id)
    user = context["customer"]
    orders = Order.for_customer(user_id).select(Order.id, Order.number, Order.placed_at, Order.status,
                                                 Order.total_cents)
    context.update(
        orders=list(orders.limit(LATEST_ORDERS)),
        order_count=Order.select().where(Order.user == user_id).count(),
        addresses=service.addresses(user_id),
        consents=list(Consent.select().where((Consent.user == user_id) & (Consent.kind == service.NEWSLETTER))
                      .order_by(Consent.requested_at.desc(), Consent.id.desc()).limit(LATEST_CONSENTS)),
        newsletter=service.newsletter_consent(user_id),
        wishlist_count=WishlistItem.select().where(WishlistItem.user == user_id).count(),
    )
    with write():
        record(who, "view", OBJECT, user.id, user.email)
    return context


def order_url(number: str) -> str:
    return f"/admin/orders/{number}"


async def customer(request: Request):
    try:
        context = await run_db(customer_details, request.path_params["id"], actor(request))
    except LookupError:
        raise HTTPException(404)
    return render(request, "admin/customer.html", {**context, "order_url": order_url})


# -- changes ------------------------------------------------------------------------------

def lock(user_id: int, who: Actor) -> str:
    with write():
        user, ended = service.lock_account(user_id, who.user_id)
        record(who, "lock", OBJECT, user.id, user.email, {"locked": [False, True], "sessions_ended": [0, ended]})
    return _("The account of %(email)s is locked; its sessions have ended.", email=user.email)


def unlock(user_id: int, who: Actor) -> str:
    with write():
        user = service.unlock_account(user_id)
        record(who, "unlock", OBJECT, user.id, user.email, {"locked": [True, False]})
    return _("The account of %(email)s is unlocked: it can sign in again.", email=user.email)


def change_role(user_id: int, role: str, who: Actor) -> str:
    with write():
        user = service.set_role(user_id, role)
        record(who, "make_admin" if role == ADMIN else "remove_admin", OBJECT, user.id, user.email,
               {"role": [user.role, role]})
    if role == ADMIN:
        return _("%(email)s is now an admin.", email=user.email)
    return _("%(email)s is no longer an admin.", email=user.email)


def end_session(user_id: int, session_id: int, who: Actor) -> str:
    with write():
        user = _customer(user_id)
        ended = service.end_account_session(user_id, session_id)
        record(who, "end_session", OBJECT, user.id, user.email,
               {"session": [ended.id, None], "user_agent": [ended.user_agent, None]})
    return _("The session has ended.")


def resend(settings, user_id: int, who: Actor) -> str:
    with write():
        user = service.resend_verification_for(settings, user_id)
        record(who, "resend_confirmation", OBJECT, user.id, user.email)
    return _("We have sent the link again to %(email)s.", email=user.email)


async def _answer(request: Request, user_id: int, message: str, ok: bool, panel: str = ACCOUNT_PANEL):
    """After a change: for htmx the panel it came from with the outcome (after a lock
    also the sessions, which ended); else back to the customer's page with a message."""
    if not is_htmx(request):
        place = "customer-sessions" if panel == SESSIONS_PANEL else "customer-account"
        flash(request, message, "success" if ok else "error", place=place)
        return see_other(url_path(request, "admin:customer", id=user_id))
    try:
        context = await run_db(account_panel, user_id)
    except LookupError:
        raise HTTPException(404)
    context.update(account_message=message, account_ok=ok, sessions_oob=panel == ACCOUNT_PANEL)
    if panel == SESSIONS_PANEL:
        context.update(sessions_message=message, sessions_ok=ok)
    return render(request, "admin/customer.html", context, fragment=panel, status_code=200 if ok else 409)


async def _change(request: Request, call, *args, panel: str = ACCOUNT_PANEL, done=None):
    """Make the change and answer; `done(message)`, if given, may answer a success instead."""
    user_id = request.path_params["id"]
    try:
        message = await run_db(call, user_id, *args, actor(request))
    except LookupError:
        raise HTTPException(404)
    except service.Refused as refused:
        return await _answer(request, user_id, str(refused), False, panel)
    return (done and done(message)) or await _answer(request, user_id, message, True, panel)


async def lock_customer(request: Request):
    return await _change(request, lock)


async def unlock_customer(request: Request):
    return await _change(request, unlock)


async def change_customer_role(request: Request):
    data = await form_data(request)
    role = data.get("role")
    if role not in (ADMIN, CUSTOMER):
        raise HTTPException(400)
    if not reauth.confirmed_recently(request):
        return reauth.ask_password(request, data)

    def left_the_back_office(message: str):
        if request.path_params["id"] != request.state.user.id or role != CUSTOMER:
            return None
        # Their own admin rights are gone: the back office is closed to them now.
        flash(request, _("You are no longer an admin."), "info")
        return redirect(request, url_path(request, "catalog:home"))

    return await _change(request, change_role, role, done=left_the_back_office)


async def end_customer_session(request: Request):
    value = (await form_data(request)).get("session")
    session_id = whole_number(value if isinstance(value, str) else None)
    if session_id is None or session_id > 2**31:
        raise HTTPException(404)
    return await _change(request, end_session, session_id, panel=SESSIONS_PANEL)


async def resend_confirmation(request: Request):
    user_id = request.path_params["id"]
    try:
        request.app.state.limiter.hit(RESEND_PER_ACCOUNT, str(user_id))
    except TooMany:
        return await _answer(request, user_id, _("The link has been sent several times in the last hour. "
                                                 "Please wait a while before sending it again."), False)
    return await _change(request, lambda uid, who: resend(request.app.state.settings, uid, who))


routes = [
    Route("/customers", customers, name="customers"),
    Route("/customers/{id:id}", customer, name="customer"),
    Route("/customers/{id:id}/lock", lock_customer, methods=["POST"], name="customer_lock"),
    Route("/customers/{id:id}/unlock", unlock_customer, methods=["POST"], name="customer_unlock"),
    Route("/customers/{id:id}/role", change_customer_role, methods=["POST"], name="customer_role"),
    Route("/customers/{id:id}/sessions/end", end_customer_session, methods=["POST"], name="customer_end_session"),
    Route("/customers/{id:id}/resend", resend_confirmation, methods=["POST"], name="customer_resend"),
]
