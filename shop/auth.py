"""Who is signed in: a random session key in the signed cookie, checked against the
server's session table on every request that asks.

The session table belongs to the accounts area; `create_app` hands its lookup in as
`app.state.find_session(key) -> (user, session) | None`, so this module, like all the
plumbing, knows no area.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from shop.db import run_db

SESSION_KEY = "auth"
ACCOUNT_KEY = "account"


async def current_user(request: Request) -> Any:
    """The signed-in user, or None; looked up once per request."""
    if not hasattr(request.state, "user"):
        key = request.session.get(SESSION_KEY)
        found = await run_db(request.app.state.find_session, key) if key else None
        request.state.user = found[0] if found else None
        request.state.user_session = found[1] if found else None
        if found is None and SESSION_KEY in request.session:
            # Ended elsewhere (sign-out, password change): forget it here too.
            request.session.pop(SESSION_KEY, None)
            request.session.pop(ACCOUNT_KEY, None)
    return request.state.user


async def signed_in_user(request: Request) -> Any:
    """The user of a page behind `SignInRequired` (which has already checked)."""
    user = await current_user(request)
    assert user is not None, "route is not behind SignInRequired"
    return user


def remember(request: Request, user) -> None:
    """What the page header shows about the account, without a query."""
    request.session[ACCOUNT_KEY] = {"name": user.name, "verified": user.verified}


def account_summary(request: Request) -> dict | None:
    return request.session.get(ACCOUNT_KEY)


def sign_in_redirect(request: Request) -> RedirectResponse:
    """To the sign-in page, which comes back to this page afterwards."""
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = str(request.app.url_path_for("accounts:login"))
    return RedirectResponse(f"{login}?{urlencode({'next': back})}", status_code=303)


class SignInRequired:
    """Guests are sent to sign in (and brought back); for an area's middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if await current_user(request) is None:
            await sign_in_redirect(request)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class AdminRequired:
    """The back office: guests are sent to sign in, customers find nothing (404)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        user = await current_user(request)
        if user is None:
            await sign_in_redirect(request)(scope, receive, send)
            return
        if not user.is_admin:
            raise HTTPException(404)
        await self.app(scope, receive, send)
