"""Who is signed in: a session key in the signed cookie, checked against the
database on every request that asks."""
from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from shop.db import run_db

from . import service
from .models import User

SESSION_KEY = "auth"


async def current_user(request: Request) -> User | None:
    if not hasattr(request.state, "user"):
        key = request.session.get(SESSION_KEY)
        found = await run_db(service.session_user, key) if key else None
        request.state.user = found[0] if found else None
        request.state.user_session = found[1] if found else None
        if found is None and SESSION_KEY in request.session:
            # Ended elsewhere (sign-out, password change): forget it here too.
            request.session.pop(SESSION_KEY, None)
            request.session.pop("account", None)
    return request.state.user


def remember(request: Request, user: User) -> None:
    """What the page header shows about the account, without a query."""
    request.session["account"] = {"name": user.name, "verified": user.verified}


async def require_user(request: Request) -> tuple[User | None, Response | None]:
    """The signed-in user, or a redirect to the sign-in page that comes back here."""
    user = await current_user(request)
    if user is None:
        target = str(request.app.url_path_for("accounts:login")) + "?" + urlencode({"next": request.url.path})
        return None, RedirectResponse(target, status_code=303)
    return user, None
