"""Registration, sign-in and sign-out, password reset and the account's own page."""
from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.middleware import Middleware
from starlette.routing import Route

from shop.auth import SignInRequired

from shop.db import run_db
from shop.i18n import _
from shop.i18n import lazy_gettext as _l
from shop.forms import whole_number
from shop.ratelimit import Limit, TooMany
from shop.security import client_address, safe_next
from shop.auth import current_user, remember, signed_in_user
from shop.auth import SESSION_KEY
from shop.web import Area, PrivatePages, flash, form_data, render, see_other, url_path

from . import service
from .signin import sign_in, sign_out
from .forms import (
    EmailChangeForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    RegisterForm,
    ResetForm,
    ResetRequestForm,
    SavedAddressForm,
)

SIGN_IN_PER_ACCOUNT = Limit("sign-in-account", 5, 15 * 60)
SIGN_IN_PER_CLIENT = Limit("sign-in-client", 20, 15 * 60)
REGISTER_PER_CLIENT = Limit("register", 5, 3600)
RESET_PER_CLIENT = Limit("reset-client", 5, 3600)
RESET_PER_ADDRESS = Limit("reset-address", 3, 3600)
RESEND_PER_ACCOUNT = Limit("resend", 3, 3600)
EMAIL_CHANGE_PER_ACCOUNT = Limit("email-change", 3, 3600)


LOCKED_MESSAGE = _l("This account is locked. Please contact our customer service.")


def limiter(request: Request):
    return request.app.state.limiter


async def register(request: Request):
    if request.method == "GET":
        return render(request, "accounts/register.html", {"form": RegisterForm()})
    form = RegisterForm(await form_data(request))
    if not form.validate():
        return render(request, "accounts/register.html", {"form": form}, status_code=422)
    limiter(request).hit(REGISTER_PER_CLIENT, client_address(request))
    await run_db(service.register, request.app.state.settings, form.name.data, form.email.data,
                 form.password.data)
    return render(request, "accounts/check_inbox.html", {"email": form.email.data})


async def verify(request: Request):
    user = await run_db(service.verify_email, request.app.state.settings,
                        request.query_params.get("token", ""))
    if user is None:
        return render(request, "accounts/link_invalid.html", {}, status_code=400)
    signed_in = await current_user(request)
    if signed_in and signed_in.id == user.id:
        remember(request, user)
    flash(request, _("Thank you, your email address is confirmed."), "success")
    return see_other(url_path(request, "accounts:profile" if signed_in else "accounts:login"))


async def resend(request: Request):
    user = await signed_in_user(request)
    if not user.verified:
        limiter(request).hit(RESEND_PER_ACCOUNT, str(user.id))
        await run_db(service.resend_verification, request.app.state.settings, user)
        flash(request, _("We have sent the link again to %(email)s.", email=user.email), "success")
    return see_other(safe_next((await form_data(request)).get("next"), url_path(request, "accounts:profile")))


async def login(request: Request):
    if request.method == "GET":
        form = LoginForm(data={"next": request.query_params.get("next", "")})
        return render(request, "accounts/login.html", {"form": form})
    form = LoginForm(await form_data(request))
    if not form.validate():
        return render(request, "accounts/login.html", {"form": form}, status_code=422)
    email = service.normalize(form.email.data)
    # Every attempt is counted before the password is checked (a burst of parallel
    # guesses gets no further than the limit); a right password is taken back.
    try:
        attempts = limiter(request).hit_all((SIGN_IN_PER_ACCOUNT, email), (SIGN_IN_PER_CLIENT, client_address(request)))
    except TooMany as refused:
        return render(request, "accounts/login.html", {"form": form, "locked": True}, status_code=429,
                      headers={"Retry-After": str(refused.retry_after)})
    try:
        user = await run_db(service.authenticate, email, form.password.data)
    except service.AccountLocked:
        return render(request, "accounts/login.html", {"form": form, "error": LOCKED_MESSAGE}, status_code=403)
    if user is None:
        return render(request, "accounts/login.html",
                      {"form": form, "error": _("The email address or the password is not right.")},
                      status_code=422)
    for attempt in attempts:
        attempt.succeeded()
    try:
        notes = await sign_in(request, user)
    except service.AccountLocked:  # locked a moment ago
        return render(request, "accounts/login.html", {"form": form, "error": LOCKED_MESSAGE}, status_code=403)
    flash(request, _("Welcome back, %(name)s!", name=user.name), "success")
    for note in notes:
        flash(request, note, "info")
    return see_other(safe_next(form.next.data, url_path(request, "accounts:profile")))


async def logout(request: Request):
    await sign_out(request)
    flash(request, _("You are signed out."), "info")
    return see_other(url_path(request, "catalog:home"))


async def password_reset(request: Request):
    if request.method == "GET":
        return render(request, "accounts/reset_request.html", {"form": ResetRequestForm()})
    form = ResetRequestForm(await form_data(request))
    if not form.validate():
        return render(request, "accounts/reset_request.html", {"form": form}, status_code=422)
    limiter(request).hit_all((RESET_PER_CLIENT, client_address(request)),
                             (RESET_PER_ADDRESS, service.normalize(form.email.data)))
    await run_db(service.request_reset, request.app.state.settings, form.email.data)
    return render(request, "accounts/check_inbox.html", {"email": form.email.data, "reset": True})


async def password_reset_confirm(request: Request):
    token = request.query_params.get("token", "")
    user = await run_db(service.user_for_reset, request.app.state.settings, token)
    if user is None:
        return render(request, "accounts/link_invalid.html", {}, status_code=400)
    if request.method == "GET":
        return render(request, "accounts/reset_form.html", {"form": ResetForm(), "token": token})
    form = ResetForm(await form_data(request))
    if not form.validate():
        return render(request, "accounts/reset_form.html", {"form": form, "token": token}, status_code=422)
    await run_db(service.set_password, user, form.password.data, None, True)
    user = await run_db(service.User.get_by_id, user.id)
    # The mailed link proves the owner: signed in at once, even while strangers' guesses
    # hold the password sign-in shut.
    limiter(request).reset(SIGN_IN_PER_ACCOUNT, user.email)
    if user.locked:
        flash(request, _("Your password is changed."), "success")
        flash(request, LOCKED_MESSAGE, "error")
        return see_other(url_path(request, "accounts:login"))
    await sign_in(request, user)
    flash(request, _("Your password is changed and you are signed in."), "success")
    return see_other(url_path(request, "accounts:profile"))


async def _profile_page(request: Request, user, status_code=200, **forms):
    sessions = await run_db(service.active_sessions, user)
    context = {
        "user": user, "sessions": sessions, "current_session": request.state.user_session,
        "profile_form": ProfileForm(data={"name": user.name, "language": user.language}),
        "email_form": EmailChangeForm(prefix="email"), "password_form": PasswordChangeForm(prefix="password"),
        **forms,
    }
    return render(request, "accounts/profile.html", context, status_code=status_code)


async def profile(request: Request):
    user = await signed_in_user(request)
    if request.method == "GET":
        return await _profile_page(request, user)
    form = ProfileForm(await form_data(request))
    if not form.validate():
        return await _profile_page(request, user, 422, profile_form=form)
    await run_db(service.update_profile, user, form.name.data, form.language.data)
    request.session["lang"] = form.language.data
    user.name = form.name.data
    remember(request, user)
    flash(request, _("Your details are saved."), "success")
    return see_other(url_path(request, "accounts:profile"))


async def _confirmed_by_password(request: Request, form, user) -> bool:
    """The form is valid and `form.current` is the user's password; wrong guesses count
    against the same limit as sign-in."""
    if not form.validate():
        return False
    attempt = limiter(request).hit(SIGN_IN_PER_ACCOUNT, user.email)
    if not await run_db(service.authenticate, user.email, form.current.data):
        form.current.errors.append(_("This is not your current password."))
        return False
    attempt.succeeded()
    return True


async def change_email(request: Request):
    user = await signed_in_user(request)
    form = EmailChangeForm(await form_data(request), prefix="email")
    if not await _confirmed_by_password(request, form, user):
        return await _profile_page(request, user, 422, email_form=form)
    limiter(request).hit(EMAIL_CHANGE_PER_ACCOUNT, str(user.id))
    await run_db(service.request_email_change, request.app.state.settings, user, form.email.data)
    flash(request, _("Please confirm the new address with the link we have sent to %(email)s.",
                     email=form.email.data), "success")
    return see_other(url_path(request, "accounts:profile"))


async def confirm_email(request: Request):
    user = await run_db(service.confirm_email_change, request.app.state.settings,
                        request.query_params.get("token", ""))
    if user is None:
        return render(request, "accounts/link_invalid.html", {}, status_code=400)
    flash(request, _("Your email address is now %(email)s.", email=user.email), "success")
    return see_other(url_path(request, "accounts:profile"))


async def addresses(request: Request):
    user = await signed_in_user(request)
    form = SavedAddressForm(await form_data(request)) if request.method == "POST" else SavedAddressForm()
    if request.method == "POST":
        if form.validate():
            await run_db(service.save_address, user, form.data, form.default_billing.data,
                         form.default_shipping.data)
            flash(request, _("The address is saved."), "success")
            return see_other(url_path(request, "accounts:addresses"))
    saved = await run_db(service.addresses, user)
    return render(request, "accounts/addresses.html", {"addresses": saved, "form": form},
                 status_code=422 if form.errors else 200)


async def address(request: Request):
    """Change the defaults of, or delete, one of the user's own addresses."""
    user = await signed_in_user(request)
    data = await form_data(request)
    address_id = request.path_params["address_id"]
    if data.get("action") == "delete":
        found = await run_db(service.delete_address, user, address_id)
    else:
        found = await run_db(service.make_default, user, address_id, data.get("action"))
    if not found:
        raise HTTPException(404)
    return see_other(url_path(request, "accounts:addresses"))


async def change_password(request: Request):
    user = await signed_in_user(request)
    form = PasswordChangeForm(await form_data(request), prefix="password")
    if not await _confirmed_by_password(request, form, user):
        return await _profile_page(request, user, 422, password_form=form)
    await run_db(service.set_password, user, form.password.data, request.session.get(SESSION_KEY))
    flash(request, _("Your password is changed. Your other sessions have ended."), "success")
    return see_other(url_path(request, "accounts:profile"))


async def end_session(request: Request):
    user = await signed_in_user(request)
    session_id = whole_number((await form_data(request)).get("session"))
    if session_id is None:
        raise HTTPException(404)
    await run_db(service.end_sessions, user, None, session_id)
    flash(request, _("The session has ended."), "info")
    return see_other(url_path(request, "accounts:profile"))


NEWSLETTER_WORDING = _l(
    "Yes, send me the newsletter about new products and offers, at most twice a month. "
    "I can unsubscribe at any time with the link in every newsletter."
)


async def preferences(request: Request):
    user = await signed_in_user(request)
    if request.method == "POST":
        wanted = (await form_data(request)).get("newsletter") == "y"
        if wanted:
            await run_db(service.request_newsletter, request.app.state.settings, user,
                         str(NEWSLETTER_WORDING), "checkbox on the mail preferences page")
            flash(request, _("Please confirm the subscription with the link we have sent you."), "success")
        else:
            await run_db(service.withdraw_newsletter, user)
            flash(request, _("You will not receive the newsletter."), "info")
        return see_other(url_path(request, "accounts:preferences"))
    consent = await run_db(service.newsletter_consent, user)
    return render(request, "accounts/preferences.html", {"consent": consent, "wording": NEWSLETTER_WORDING})


async def newsletter_confirm(request: Request):
    consent = await run_db(service.confirm_newsletter, request.app.state.settings,
                           request.query_params.get("token", ""))
    if consent is None:
        return render(request, "accounts/link_invalid.html", {}, status_code=400)
    return render(request, "accounts/newsletter_done.html", {"subscribed": True})


async def unsubscribe(request: Request):
    """The link in every newsletter: a page with one button, no sign-in needed."""
    token = request.query_params.get("token", "")
    user = await run_db(service.user_for_unsubscribe, request.app.state.settings, token)
    if user is None:
        return render(request, "accounts/link_invalid.html", {}, status_code=400)
    if request.method == "POST":
        await run_db(service.withdraw_newsletter, user)
        return render(request, "accounts/newsletter_done.html", {"subscribed": False})
    return render(request, "accounts/unsubscribe.html", {"token": token})


routes = [
    Area("accounts", [
        Route("/account/register", register, methods=["GET", "POST"], name="register"),
        Route("/account/verify", verify, name="verify"),
        Route("/account/login", login, methods=["GET", "POST"], name="login"),
        Route("/account/logout", logout, methods=["POST"], name="logout"),
        Route("/account/password-reset", password_reset, methods=["GET", "POST"], name="password_reset"),
        Route("/account/password-reset/confirm", password_reset_confirm, methods=["GET", "POST"],
              name="password_reset_confirm"),
        Route("/account/email/confirm", confirm_email, name="confirm_email"),
        Route("/newsletter/confirm", newsletter_confirm, name="newsletter_confirm"),
        Route("/newsletter/unsubscribe", unsubscribe, methods=["GET", "POST"], name="unsubscribe"),
        Area(None, [
            Route("/account/profile", profile, methods=["GET", "POST"], name="profile"),
            Route("/account/preferences", preferences, methods=["GET", "POST"], name="preferences"),
            Route("/account/verify/resend", resend, methods=["POST"], name="resend"),
            Route("/account/email", change_email, methods=["POST"], name="change_email"),
            Route("/account/addresses", addresses, methods=["GET", "POST"], name="addresses"),
            Route("/account/addresses/{address_id:id}", address, methods=["POST"], name="address"),
            Route("/account/password", change_password, methods=["POST"], name="change_password"),
            Route("/account/sessions/end", end_session, methods=["POST"], name="end_session"),
        ], middleware=[Middleware(SignInRequired)]),
    ], middleware=[Middleware(PrivatePages)]),
]
