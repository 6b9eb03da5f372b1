"""Signing in and out: session renewal, and the guest cart joining the account's."""
from __future__ import annotations

from starlette.requests import Request

from shop.cart import service as cart_service
from shop.db import run_db

from . import service
from .auth import SESSION_KEY, remember
from .models import User


async def sign_in(request: Request, user: User) -> list[str]:
    """Start a fresh session: a new key and a new cookie (no session fixation); the
    guest cart joins the account's. Returns what changed in the cart."""
    guest_cart = request.session.get("cart")
    request.session.clear()
    request.session[SESSION_KEY] = await run_db(service.start_session, user,
                                                request.headers.get("user-agent", ""))
    token, notes = await run_db(cart_service.merge_into_account, guest_cart, user)
    if token:
        request.session["cart"] = token
        request.session["cart_count"] = await run_db(cart_service.item_count, token)
    request.session["lang"] = user.language
    remember(request, user)
    request.state.user = user
    return notes


async def sign_out(request: Request) -> None:
    """End the session; the cart stays with the account, not with this browser."""
    await run_db(service.end_session, request.session.get(SESSION_KEY))
    request.session.clear()
