"""Who is signed in: a session key in the signed cookie, checked against the
database on every request that asks."""
from __future__ import annotations

from starlette.requests import Request

from shop.db import run_db

from . import service
from .models import User

SESSION_KEY = "auth"
KEPT_AT_SIGN_IN = ("cart", "cart_count")


async def current_user(request: Request) -> User | None:
    if not hasattr(request.state, "user"):
        found = await run_db(service.session_user, request.session.get(SESSION_KEY))
        request.state.user = found[0] if found else None
        request.state.user_session = found[1] if found else None
        if found is None and SESSION_KEY in request.session:
            # Ended elsewhere (sign-out, password change): forget it here too.
            request.session.pop(SESSION_KEY, None)
            request.session.pop("account", None)
    return request.state.user


async def sign_in(request: Request, user: User) -> None:
    """Start a fresh session: a new key and a new cookie, keeping only the cart
    (no session fixation)."""
    kept = {k: request.session[k] for k in KEPT_AT_SIGN_IN if k in request.session}
    request.session.clear()
    request.session.update(kept)
    request.session[SESSION_KEY] = await run_db(service.start_session, user,
                                                request.headers.get("user-agent", ""))
    remember(request, user)
    request.state.user = user


def remember(request: Request, user: User) -> None:
    """What the page header shows about the account, without a query."""
    request.session["account"] = {"name": user.name, "verified": user.verified}


async def sign_out(request: Request) -> None:
    await run_db(service.end_session, request.session.get(SESSION_KEY))
    kept = {k: request.session[k] for k in KEPT_AT_SIGN_IN if k in request.session}
    request.session.clear()
    request.session.update(kept)
