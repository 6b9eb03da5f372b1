"""Who is signed in: a random session key in the signed cookie, checked against the
server's session table on every request that asks.

The session table belongs to the accounts area; `create_app` hands its lookup in as
`app.state.find_session(key, admin_idle) -> (user, session) | "idle" | None`, so this
module, like all the plumbing, knows no area. "idle": an admin's session unused for
longer than ADMIN_IDLE_MINUTES, which the lookup has ended.
"""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from shop.db import run_db
from shop.i18n import _
from shop.security import foreign_origin, safe_next

SESSION_KEY = "auth"
ACCOUNT_KEY = "account"
IDLE = "idle"


async def current_user(request: Request) -> Any:
    """The signed-in user, or None; looked up once per request."""
    if not hasattr(request.state, "user"):
        key = request.session.get(SESSION_KEY)
        minutes = request.app.state.settings.admin_idle_minutes
        idle = dt.timedelta(minutes=minutes) if minutes > 0 else None
        found = await run_db(request.app.state.find_session, key, idle) if key else None
        if found == IDLE:
            found = None
            request.session.setdefault("flash", []).append({"text": _(
                "For your security you were signed out after %(minutes)d minutes without activity. "
                "Please sign in again.", minutes=minutes), "category": "info", "place": ""})
        request.state.user = found[0] if found else None
        request.state.user_session = found[1] if found else None
        if found is None and SESSION_KEY in request.session:
            # Ended elsewhere (sign-out, password change, idle): forget it here too.
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


def sign_in_redirect(request: Request, route: str = "accounts:login") -> Response:
    """To the sign-in page (or `route`), which comes back to this page afterwards."""
    target = str(request.app.url_path_for(route))
    return redirect(request, f"{target}?{urlencode({'next': page_of(request)})}")


def page_of(request: Request) -> str:
    """The page to come back to: this one; for a form sent from one of the shop's pages
    (a POST cannot be repeated by a link), the page that holds the form."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method in ("GET", "HEAD"):
        return here
    sent_from = request.headers.get("hx-current-url") or request.headers.get("referer") or ""
    parts = urlsplit(sent_from)
    if not parts.path or foreign_origin(request) is not None:
        return here
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""), here)


def redirect(request: Request, url: str) -> Response:
    """A redirect to a whole page: for htmx, one that leaves the part of a page it was
    about to swap (HX-Redirect), else a 303."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


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
    """The back office: guests are sent to sign in, customers find nothing (404). With
    ADMIN_TOTP_REQUIRED, an admin without a second factor is sent to set one up first."""

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
        if request.app.state.settings.admin_totp_required and not user.two_factor:
            await sign_in_redirect(request, "accounts:two_factor_setup")(scope, receive, send)
            return
        await self.app(scope, receive, send)
