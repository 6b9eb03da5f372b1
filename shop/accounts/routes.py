"""Registration, sign-in and sign-out, password reset and the account's own page."""
from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from shop.db import run_db
from shop.i18n import _
from shop.ratelimit import Limit
from shop.security import safe_next
from shop.web import PRIVATE, flash, render, see_other, url_path

from . import service
from .auth import current_user, remember, sign_in, sign_out
from .forms import LoginForm, PasswordChangeForm, RegisterForm, ResetForm, ResetRequestForm

SIGN_IN_PER_ACCOUNT = Limit("sign-in-account", 5, 15 * 60)
SIGN_IN_PER_CLIENT = Limit("sign-in-client", 20, 15 * 60)
REGISTER_PER_CLIENT = Limit("register", 5, 3600)
RESET_PER_CLIENT = Limit("reset-client", 5, 3600)
RESET_PER_ADDRESS = Limit("reset-address", 3, 3600)
RESEND_PER_ACCOUNT = Limit("resend", 3, 3600)


def client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limiter(request: Request):
    return request.app.state.limiter


def _page(request: Request, template: str, context: dict, status_code: int = 200):
    return render(request, template, context, status_code=status_code, headers=PRIVATE)


async def register(request: Request):
    if request.method == "GET":
        return _page(request, "accounts/register.html", {"form": RegisterForm()})
    form = RegisterForm(await request.form())
    if not form.validate():
        return _page(request, "accounts/register.html", {"form": form}, status_code=422)
    limiter(request).hit(REGISTER_PER_CLIENT, client(request))
    await run_db(service.register, request.app.state.settings, form.name.data, form.email.data,
                 form.password.data)
    return _page(request, "accounts/check_inbox.html", {"email": form.email.data})


async def verify(request: Request):
    user = await run_db(service.verify_email, request.app.state.settings,
                        request.query_params.get("token", ""))
    if user is None:
        return _page(request, "accounts/link_invalid.html", {}, status_code=400)
    if await current_user(request) and request.state.user.id == user.id:
        remember(request, user)
    flash(request, _("Thank you, your email address is confirmed."), "success")
    return see_other(url_path("accounts:profile") if request.session.get("auth") else url_path("accounts:login"))


async def resend(request: Request):
    user = await current_user(request)
    if user is None:
        return see_other(url_path("accounts:login"))
    if not user.verified:
        limiter(request).hit(RESEND_PER_ACCOUNT, str(user.id))
        await run_db(service.resend_verification, request.app.state.settings, user)
        flash(request, _("We have sent the link again to %(email)s.", email=user.email), "success")
    return see_other(safe_next((await request.form()).get("next"), url_path("accounts:profile")))


async def login(request: Request):
    if request.method == "GET":
        form = LoginForm(data={"next": request.query_params.get("next", "")})
        return _page(request, "accounts/login.html", {"form": form})
    form = LoginForm(await request.form())
    if not form.validate():
        return _page(request, "accounts/login.html", {"form": form}, status_code=422)
    email = service.normalize(form.email.data)
    limits = limiter(request)
    # Refuse early once either limit is used up; count only failures.
    limits.check(SIGN_IN_PER_ACCOUNT, email)
    limits.check(SIGN_IN_PER_CLIENT, client(request))
    user = await run_db(service.authenticate, email, form.password.data)
    if user is None:
        limits.hit(SIGN_IN_PER_ACCOUNT, email)
        limits.hit(SIGN_IN_PER_CLIENT, client(request))
        return _page(request, "accounts/login.html",
                     {"form": form, "error": _("The email address or the password is not right.")},
                     status_code=422)
    limits.reset(SIGN_IN_PER_ACCOUNT, email)
    await sign_in(request, user)
    flash(request, _("Welcome back, %(name)s!", name=user.name), "success")
    return see_other(safe_next(form.next.data, url_path("accounts:profile")))


async def logout(request: Request):
    await sign_out(request)
    flash(request, _("You are signed out."), "info")
    return see_other(url_path("catalog:home"))


async def password_reset(request: Request):
    if request.method == "GET":
        return _page(request, "accounts/reset_request.html", {"form": ResetRequestForm()})
    form = ResetRequestForm(await request.form())
    if not form.validate():
        return _page(request, "accounts/reset_request.html", {"form": form}, status_code=422)
    limiter(request).hit(RESET_PER_CLIENT, client(request))
    limiter(request).hit(RESET_PER_ADDRESS, service.normalize(form.email.data))
    await run_db(service.request_reset, request.app.state.settings, form.email.data)
    return _page(request, "accounts/check_inbox.html", {"email": form.email.data, "reset": True})


async def password_reset_confirm(request: Request):
    token = request.query_params.get("token", "")
    user = await run_db(service.user_for_reset, request.app.state.settings, token)
    if user is None:
        return _page(request, "accounts/link_invalid.html", {}, status_code=400)
    if request.method == "GET":
        return _page(request, "accounts/reset_form.html", {"form": ResetForm(), "token": token})
    form = ResetForm(await request.form())
    if not form.validate():
        return _page(request, "accounts/reset_form.html", {"form": form, "token": token}, status_code=422)
    await run_db(service.set_password, user, form.password.data)
    await sign_out(request)
    flash(request, _("Your password is changed. Please sign in with the new one."), "success")
    return see_other(url_path("accounts:login"))


async def profile(request: Request):
    user = await current_user(request)
    if user is None:
        return see_other(url_path("accounts:login", query={"next": request.url.path}))
    sessions = await run_db(service.active_sessions, user)
    return _page(request, "accounts/profile.html", {
        "user": user, "sessions": sessions, "current_session": request.state.user_session,
        "password_form": PasswordChangeForm(),
    })


async def change_password(request: Request):
    user = await current_user(request)
    if user is None:
        return see_other(url_path("accounts:login"))
    form = PasswordChangeForm(await request.form())
    valid = form.validate()
    if valid and not await run_db(service.authenticate, user.email, form.current.data):
        form.current.errors.append(_("This is not your current password."))
        valid = False
    if not valid:
        sessions = await run_db(service.active_sessions, user)
        return _page(request, "accounts/profile.html", {
            "user": user, "sessions": sessions, "current_session": request.state.user_session,
            "password_form": form}, status_code=422)
    await run_db(service.set_password, user, form.password.data, request.session.get("auth"))
    flash(request, _("Your password is changed. Your other sessions have ended."), "success")
    return see_other(url_path("accounts:profile"))


async def end_session(request: Request):
    user = await current_user(request)
    if user is None:
        return see_other(url_path("accounts:login"))
    try:
        session_id = int((await request.form()).get("session", ""))
    except ValueError:
        raise HTTPException(404)
    await run_db(service.end_sessions, user, None, session_id)
    flash(request, _("The session has ended."), "info")
    return see_other(url_path("accounts:profile"))


routes = [
    Route("/account/register", register, methods=["GET", "POST"], name="accounts:register"),
    Route("/account/verify", verify, name="accounts:verify"),
    Route("/account/verify/resend", resend, methods=["POST"], name="accounts:resend"),
    Route("/account/login", login, methods=["GET", "POST"], name="accounts:login"),
    Route("/account/logout", logout, methods=["POST"], name="accounts:logout"),
    Route("/account/password-reset", password_reset, methods=["GET", "POST"], name="accounts:password_reset"),
    Route("/account/password-reset/confirm", password_reset_confirm, methods=["GET", "POST"],
          name="accounts:password_reset_confirm"),
    Route("/account/profile", profile, name="accounts:profile"),
    Route("/account/password", change_password, methods=["POST"], name="accounts:change_password"),
    Route("/account/sessions/end", end_session, methods=["POST"], name="accounts:end_session"),
]
