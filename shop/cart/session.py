"""Which cart belongs to this visitor: its token and item count, kept in the signed session.

The only place that knows the cart's session keys; other areas (checkout, orders,
wishlist, sign-in) go through these helpers.
"""
from __future__ import annotations

from starlette.requests import Request

from shop.auth import current_user
from shop.db import run_db

from . import service

TOKEN_KEY = "cart"
COUNT_KEY = "cart_count"


async def cart_token(request: Request) -> str | None:
    """The cart of this visitor. An account's cart needs that account's live session:
    a cookie copied before sign-out does not reach it. Checked once per request."""
    token = request.session.get(TOKEN_KEY)
    if not token or getattr(request.state, "cart_checked", None) == token:
        return token
    owner = await run_db(service.owner_of, token)
    user = await current_user(request) if owner is not None else None
    if owner is None or (user and user.id == owner):
        request.state.cart_checked = token
        return token
    forget(request)
    return None


def keep(request: Request, token: str | None = None, count: int | None = None) -> None:
    """Remember the visitor's cart (one the cart service has just handed out for this
    visitor) and how many items it holds (for the header)."""
    if token:
        request.session[TOKEN_KEY] = request.state.cart_checked = token
    if count is not None:
        request.session[COUNT_KEY] = count


def forget(request: Request) -> None:
    request.session.pop(TOKEN_KEY, None)
    request.session.pop(COUNT_KEY, None)


def emptied(request: Request) -> None:
    """The cart was ordered: the header shows an empty cart."""
    request.session[COUNT_KEY] = 0


async def refresh_count(request: Request) -> None:
    token = await cart_token(request)
    keep(request, token, await run_db(service.item_count, token))


def item_count(request: Request) -> int:
    """For the header's mini-cart, without a query."""
    return request.session.get(COUNT_KEY, 0)


async def join_account_cart(request: Request, user, before: dict) -> list[str]:
    """At sign-in (`before` is the guest session): the guest cart joins the account's
    cart, within stock. Returns what changed, for the shopper to read."""
    token, notes = await run_db(service.merge_into_account, before.get(TOKEN_KEY), user)
    if token:
        keep(request, token, await run_db(service.item_count, token))
    return notes
