"""Registration, sign-in and sign-out, password reset and the account's own page."""
from __future__ import annotations

import time

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.middleware import Middleware
from starlette.routing import Route

from shop.auth import SignInRequired

from shop.audit.service import Actor
from shop.db import run_db
from shop.i18n import _, ngettext
from shop.i18n import lazy_gettext as _l
from shop.forms import whole_number
from shop.ratelimit import Limit, TooMany
from shop.security import client_address, safe_next
from shop.auth import current_user, remember, signed_in_user
from shop.auth import SESSION_KEY
from shop.web import Area, PrivatePages, flash, form_data, render, see_other, url_path

from . import service, two_factor
from .signin import sign_in, sign_out
from .forms import (
    CodeForm,
    EmailChangeForm,
    LoginForm,
    PasswordAgainForm,
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
    if user.two_factor:
        return ask_for_code(request, user, form.next.data)
    return await _signed_in(request, user, form.next.data) or render(
        request, "accounts/login.html", {"form": form, "error": LOCKED_MESSAGE}, status_code=403)


async def _signed_in(request: Request, user, next_page: str | None):
    """Sign in and go on to `next_page`; None if the account was locked a moment ago."""
    try:
        notes = await sign_in(request, user)
    except service.AccountLocked:
        return None
    flash(request, _("Welcome back, %(name)s!", name=user.name), "success")
    for note in notes:
        flash(request, note, "info")
    return see_other(safe_next(next_page, url_path(request, "accounts:profile")))


# -- the second step of signing in: a code ----------------------------------------------

SECOND_STEP = "second_step"  # in the session: whose password was right, when, and where to go
SECOND_STEP_SECONDS = 5 * 60
CODE_PER_ACCOUNT = Limit("two-factor-account", 5, 15 * 60)
CODE_PER_CLIENT = Limit("two-factor-client", 20, 15 * 60)


def ask_for_code(request: Request, user, next_page: str | None):
    """The password was right; the code from the app comes next."""
    request.session[SECOND_STEP] = {"uid": user.id, "at": int(time.time()), "next": next_page or ""}
    return see_other(url_path(request, "accounts:login_code"))


def _second_step(request: Request) -> dict | None:
    step = request.session.get(SECOND_STEP)
    if not isinstance(step, dict) or not isinstance(step.get("at"), int) or \
            not 0 <= time.time() - step["at"] <= SECOND_STEP_SECONDS:
        return None
    return step


async def login_code(request: Request):
    step = _second_step(request)
    if step is None:
        request.session.pop(SECOND_STEP, None)
        flash(request, _("Please sign in again: the time for the code has run out."), "info")
        return see_other(url_path(request, "accounts:login"))
    if request.method == "GET":
        return render(request, "accounts/login_code.html", {"form": CodeForm()})
    form = CodeForm(await form_data(request))
    if not form.validate():
        return render(request, "accounts/login_code.html", {"form": form}, status_code=422)
    try:
        attempts = limiter(request).hit_all((CODE_PER_ACCOUNT, str(step["uid"])),
                                            (CODE_PER_CLIENT, client_address(request)))
    except TooMany as refused:
        return render(request, "accounts/login_code.html", {"form": form, "locked": True}, status_code=429,
                      headers={"Retry-After": str(refused.retry_after)})
    kind = await run_db(two_factor.verify, step["uid"], form.code.data)
    if kind is None:
        form.code.errors = [_("This code is not right, or it has been used already. "
                              "Please enter the current code from your app.")]
        return render(request, "accounts/login_code.html", {"form": form}, status_code=422)
    for attempt in attempts:
        attempt.succeeded()
    user = await run_db(service.User.get_by_id, step["uid"])
    response = await _signed_in(request, user, step.get("next"))
    if response is None:
        request.session.pop(SECOND_STEP, None)
        flash(request, str(LOCKED_MESSAGE), "error")
        return see_other(url_path(request, "accounts:login"))
    if kind == two_factor.RECOVERY:
        left = await run_db(two_factor.recovery_codes_left, user.id)
        flash(request, ngettext("You have used a recovery code; %(num)d is left.",
                                "You have used a recovery code; %(num)d are left.", left), "info")
    return response


# -- setting up two-factor sign-in --------------------------------------------------------

def _self(request: Request, user) -> Actor:
    return Actor(email=user.email, user_id=user.id, address=client_address(request))


async def _admin(request: Request):
    """Two-factor sign-in is for the back office's accounts."""
    user = await signed_in_user(request)
    if not user.is_admin:
        raise HTTPException(404)
    return user


async def two_factor_page(request: Request, user=None, status_code: int = 200, **context):
    user = user or await _admin(request)
    left = await run_db(two_factor.recovery_codes_left, user.id) if user.two_factor else 0
    return render(request, "accounts/two_factor.html", {
        "user": user, "codes_left": left, "required": request.app.state.settings.admin_totp_required,
        "disable_form": PasswordAgainForm(prefix="off"), "codes_form": PasswordAgainForm(prefix="codes"),
        **context}, status_code=status_code)


async def two_factor_status(request: Request):
    return await two_factor_page(request)


async def two_factor_setup(request: Request):
    user = await _admin(request)
    if user.two_factor:
        return see_other(url_path(request, "accounts:two_factor"))
    next_page = safe_next(request.query_params.get("next"), "")
    form = CodeForm()
    if request.method == "POST":
        data = await form_data(request)
        next_page = safe_next(data.get("next"), "")
        form = CodeForm(data)
        if form.validate():
            attempt = limiter(request).hit(CODE_PER_ACCOUNT, str(user.id))
            try:
                codes = await run_db(two_factor.enable, user.id, form.code.data, _self(request, user))
            except two_factor.AlreadyOn:
                return see_other(url_path(request, "accounts:two_factor"))
            if codes is not None:
                attempt.succeeded()
                return render(request, "accounts/two_factor_codes.html",
                              {"codes": codes, "first": True, "next": next_page})
            form.code.errors = [_("This code is not right. Please enter the current code from your app; "
                                  "if it keeps failing, check that the time on your phone is correct.")]
    try:
        secret = await run_db(two_factor.pending_secret, user.id)
    except two_factor.AlreadyOn:
        return see_other(url_path(request, "accounts:two_factor"))
    uri = two_factor.setup_uri(secret, user.email, request.app.state.settings.merchant.name)
    return render(request, "accounts/two_factor_setup.html", {
        "form": form, "secret": two_factor.grouped(secret), "qr": Markup(two_factor.qr_svg(uri)),
        "required": request.app.state.settings.admin_totp_required, "next": next_page,
    }, status_code=422 if form.errors else 200)


async def _password_again(request: Request, form, user) -> bool:
    """The password typed again is right (counted like a sign-in attempt)."""
    if not form.validate():
        return False
    attempt = limiter(request).hit(SIGN_IN_PER_ACCOUNT, user.email)
    try:
        right = await run_db(service.authenticate, user.email, form.current.data) is not None
    except service.AccountLocked:
        right = False
    if not right:
        form.current.errors = [_("This is not your current password.")]
        return False
    attempt.succeeded()
    return True


async def two_factor_disable(request: Request):
    user = await _admin(request)
    form = PasswordAgainForm(await form_data(request), prefix="off")
    if request.app.state.settings.admin_totp_required:
        flash(request, _("The shop requires two-factor sign-in for admins: it cannot be turned off."), "error")
        return see_other(url_path(request, "accounts:two_factor"))
    if not await _password_again(request, form, user):
        return await two_factor_page(request, user, 422, disable_form=form)
    await run_db(two_factor.disable, user.id, _self(request, user))
    flash(request, _("Two-factor sign-in is turned off."), "info")
    return see_other(url_path(request, "accounts:two_factor"))


async def two_factor_codes(request: Request):
    user = await _admin(request)
    form = PasswordAgainForm(await form_data(request), prefix="codes")
    if not user.two_factor:
        return see_other(url_path(request, "accounts:two_factor"))
    if not await _password_again(request, form, user):
        return await two_factor_page(request, user, 422, codes_form=form)
    codes = await run_db(two_factor.renew_recovery_codes, user.id, _self(request, user))
    return render(request, "accounts/two_factor_codes.html", {"codes": codes, "first": False, "next": ""})


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
        flash(request, str(LOCKED_MESSAGE), "error")
        return see_other(url_path(request, "accounts:login"))
    if user.two_factor:  # the mailed link stands in for the password, not for the app
        flash(request, _("Your password is changed."), "success")
        return ask_for_code(request, user, url_path(request, "accounts:profile"))
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
        Route("/account/login/code", login_code, methods=["GET", "POST"], name="login_code"),
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
            Route("/account/two-factor", two_factor_status, name="two_factor"),
            Route("/account/two-factor/setup", two_factor_setup, methods=["GET", "POST"], name="two_factor_setup"),
            Route("/account/two-factor/off", two_factor_disable, methods=["POST"], name="two_factor_disable"),
            Route("/account/two-factor/recovery-codes", two_factor_codes, methods=["POST"],
                  name="two_factor_codes"),
        ], middleware=[Middleware(SignInRequired)]),
    ], middleware=[Middleware(PrivatePages)]),
]
