"""Asking for the password again before a sensitive step of the back office.

A handler guards its step with two calls:

    from . import reauth

    async def make_admin(request):
        data = await form_data(request)          # (a GET handler: no form)
        if not reauth.confirmed_recently(request):
            return reauth.ask_password(request, data)
        ...                                      # the step itself

`confirmed_recently(request)`: the admin typed their password in this session within the
last CONFIRM_SECONDS (5 minutes). `ask_password(request, form=None)`: the response that
sends them to "Passwort bestätigen" (for htmx, by HX-Redirect to the whole page) and,
once the password is right, back to the step:

- a GET (a download such as a CSV export): back to the same address;
- a POST: the same form is sent again (a 307 redirect repeats it with the fields it had;
  a field may not be named `reauth` or `reauth-password`).

Cancel leads back to the page the request came from. Wrong passwords are limited (5 in
15 minutes per admin). The confirmation is kept in the session (signed cookie) and ends
with it: signing in again starts without one. The step waiting for the password travels
signed (with the secret key, for this admin, for 30 minutes), so a link made up elsewhere
cannot have the confirmation page send a form of its choosing.
"""
from __future__ import annotations

import time
from typing import Any, Mapping
from urllib.parse import urlencode, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from shop.accounts import passwords, service
from shop.auth import page_of, redirect
from shop.db import run_db
from shop.forms import ShopForm
from shop.i18n import _
from shop.i18n import lazy_gettext as _l
from shop.ratelimit import Limit
from shop.security import CSRF_FIELD, foreign_origin, safe_next
from shop.web import form_data, render, url_path

CONFIRM_SECONDS = 5 * 60
PENDING_SECONDS = 30 * 60  # how long the confirmation page stays good for its step
SESSION_FIELD = "reauth_at"
PASSWORD, PENDING = "reauth-password", "reauth"
OWN_FIELDS = {PASSWORD, PENDING, CSRF_FIELD}
# As many wrong passwords as at sign-in, counted apart (a typing admin locks no one out).
CONFIRM_PER_ACCOUNT = Limit("reauth-account", 5, 15 * 60)
clock = time.time  # tests move it


def confirmed_recently(request: Request) -> bool:
    at = request.session.get(SESSION_FIELD)
    return isinstance(at, (int, float)) and 0 <= clock() - at <= CONFIRM_SECONDS


def _signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.settings.secret_key, salt="admin-reauth")


def ask_password(request: Request, form: Mapping[str, str] | FormData | None = None) -> Response:
    """To the confirmation page, which leads back to this request (see the module).

    What to do afterwards travels signed, for this admin: a link made up elsewhere
    cannot have the page send a form of its choosing once the password is typed."""
    pending: dict[str, Any] = {"user": request.state.user.id, "back": _sent_from(request)}
    if request.method == "POST":
        items = form.multi_items() if isinstance(form, FormData) else (form or {}).items()
        pending.update(action=request.url.path,
                       fields=[(name, value) for name, value in items
                               if name not in OWN_FIELDS and isinstance(value, str)])
    else:
        pending["next"] = page_of(request)
    target = url_path(request, "admin:confirm_password")
    return redirect(request, f"{target}?{urlencode({PENDING: _signer(request).dumps(pending)})}")


def _sent_from(request: Request) -> str:
    """The back-office page the request came from (for Cancel), else the overview."""
    if request.method == "POST":
        return page_of(request)
    referer = request.headers.get("hx-current-url") or request.headers.get("referer") or ""
    parts = urlsplit(referer)
    page = parts.path + (f"?{parts.query}" if parts.query else "")
    return page if page.startswith("/admin") and foreign_origin(request) is None else url_path(
        request, "admin:dashboard")


def _pending(request: Request, token: object) -> dict[str, Any]:
    """The step waiting for the password, if the token is this shop's, for this admin and
    fresh; else nothing waits (confirming leads to the overview)."""
    try:
        pending = _signer(request).loads(token, max_age=PENDING_SECONDS) if isinstance(token, str) else None
    except BadSignature:
        pending = None
    if not isinstance(pending, dict) or pending.get("user") != request.state.user.id:
        return {}
    return pending


class ConfirmForm(ShopForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=passwords.MAX_LENGTH)])


def _admin_path(value: object, default: str) -> str:
    target = safe_next(value, default)
    return target if target.startswith("/admin/") and "/." not in target else default


async def confirm_password(request: Request):
    data = request.query_params if request.method == "GET" else await form_data(request)
    token = data.get(PENDING)
    pending = _pending(request, token)
    overview = url_path(request, "admin:dashboard")
    back = _admin_path(pending.get("back"), overview)
    action = _admin_path(pending.get("action"), "")
    context = {
        "back": back, "token": token if pending else "", "minutes": CONFIRM_SECONDS // 60,
        "fields": [(name, value) for name, value in pending.get("fields", ()) if name not in OWN_FIELDS]
        if action else [],
    }
    if request.method == "GET":
        return render(request, "admin/confirm_password.html", {**context, "form": ConfirmForm()})

    form = ConfirmForm(FormData([("password", data.get(PASSWORD, ""))]))
    user = request.state.user
    if form.validate():
        attempt = request.app.state.limiter.hit(CONFIRM_PER_ACCOUNT, str(user.id))
        if await run_db(_password_is_right, user, form.password.data):
            attempt.succeeded()
            request.session[SESSION_FIELD] = int(clock())
            if action:
                # The browser sends this very form again to the step's address: its
                # fields and a valid token, now with the confirmation in the session.
                return RedirectResponse(action, status_code=307)
            return RedirectResponse(_admin_path(pending.get("next"), back), status_code=303)
        form.password.errors = [_("This is not your password.")]
    return render(request, "admin/confirm_password.html", {**context, "form": form}, status_code=422)


def _password_is_right(user, password: str) -> bool:
    try:
        return service.authenticate(user.email, password) is not None
    except service.AccountLocked:
        return False


routes = [
    Route("/confirm-password", confirm_password, methods=["GET", "POST"], name="confirm_password"),
]
