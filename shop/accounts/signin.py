"""Signing in and out: a fresh session key on every sign-in (no fixation)."""
from __future__ import annotations

from starlette.requests import Request

from shop.auth import SESSION_KEY, remember
from shop.db import run_db

from . import service
from .models import User


async def sign_in(request: Request, user: User) -> list[str]:
    """Start a fresh session: a new key and a new cookie. What the guest session held
    is handed to the areas that keep something across sign-in (the cart, see
    `app.state.on_sign_in`); returns what they changed, for the shopper to read."""
    before = dict(request.session)
    request.session.clear()
    request.session[SESSION_KEY] = await run_db(service.start_session, user,
                                                request.headers.get("user-agent", ""))
    request.session["lang"] = user.language
    remember(request, user)
    request.state.user = user
    notes: list[str] = []
    for carry_over in request.app.state.on_sign_in:
        notes += await carry_over(request, user, before)
    return notes


async def sign_out(request: Request) -> None:
    """End the session; the cart stays with the account, not with this browser."""
    await run_db(service.end_session, request.session.get(SESSION_KEY))
    request.session.clear()
