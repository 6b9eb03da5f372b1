"""Signing in to the back office: an admin's session ends after a while without activity,
a locked account stays out, and two-factor sign-in with an authenticator app (TOTP) and
single-use recovery codes, which the shop can require of every admin."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pyotp
import pytest
from starlette.testclient import TestClient

from shop.accounts import two_factor
from shop.accounts.models import RecoveryCode, User, UserSession
from shop.accounts.passwords import hash_password
from shop.audit.models import AuditEntry
from shop.db import now
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Shopper, sign_in_admin
from tests.test_accounts import last_link

HTMX = {"HX-Request": "true"}
PASSWORD = "ein sicheres passwort"


def browser(app) -> Shopper:
    return Shopper(TestClient(app, follow_redirects=False))


def login(visitor: Shopper, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, next_page=""):
    return visitor.post("/account/login", {"email": email, "password": password, "next": next_page})


def me() -> User:
    return User.get(User.email == ADMIN_EMAIL)


def session_of(user: User) -> UserSession:
    return UserSession.select().where(UserSession.user == user).order_by(UserSession.id.desc()).get()


def idle_for(user: User, minutes: float) -> None:
    UserSession.update(last_seen_at=now() - dt.timedelta(minutes=minutes)).where(
        UserSession.user == user).execute()


def set_settings(app, **changes) -> None:
    app.state.settings = dataclasses.replace(app.state.settings, **changes)


def notice(html: str) -> str:
    return " ".join(re.findall(r'<div class="notice[^"]*"[^>]*>\s*<p>(.*?)</p>', html, re.S))


@pytest.fixture
def admin(app, database) -> Shopper:
    return sign_in_admin(app)


# -- idle admin sessions ---------------------------------------------------------------------

def test_an_idle_admin_is_signed_out_and_brought_back_after_signing_in(app, admin):
    assert admin.client.get("/admin/customers").status_code == 200
    idle_for(me(), 32)
    away = admin.client.get("/admin/customers?q=lea")
    assert away.status_code == 303
    assert away.headers["location"] == "/account/login?next=%2Fadmin%2Fcustomers%3Fq%3Dlea"
    assert UserSession.select().count() == 0
    page = admin.client.get(away.headers["location"])
    assert "nach 30 Minuten ohne Aktivität abgemeldet" in page.text
    back = login(admin, next_page="/admin/customers?q=lea")
    assert back.status_code == 303 and back.headers["location"] == "/admin/customers?q=lea"
    assert admin.client.get("/admin/customers?q=lea").status_code == 200


def test_an_admin_active_within_the_limit_stays_signed_in(app, admin):
    idle_for(me(), 29)
    assert admin.client.get("/admin/customers").status_code == 200
    # The request counts as activity: the time is written (at most once a minute).
    seen = session_of(me()).last_seen_at
    assert now() - seen < dt.timedelta(seconds=5)
    assert admin.client.get("/admin/customers").status_code == 200
    assert session_of(me()).last_seen_at == seen  # not a write on every request
    idle_for(me(), 29)
    assert admin.client.get("/").status_code == 200  # a shop page is activity too
    idle_for(me(), 2)
    assert admin.client.get("/admin/customers").status_code == 200


def test_an_idle_admin_is_signed_out_on_the_shops_pages_too(app, admin):
    idle_for(me(), 45)
    page = admin.client.get("/account/profile")
    assert page.status_code == 303 and page.headers["location"].startswith("/account/login")


def test_with_htmx_an_idle_admin_is_sent_to_sign_in_as_a_whole_page(app, admin):
    idle_for(me(), 45)
    response = admin.client.get("/admin/customers?q=x", headers={**HTMX, "HX-Current-URL": "http://testserver/admin/customers"})
    assert response.status_code == 200
    assert response.headers["hx-redirect"] == "/account/login?next=%2Fadmin%2Fcustomers%3Fq%3Dx"


def test_a_form_sent_after_the_idle_time_comes_back_to_its_page(app, admin):
    lea = User.create(name="Lea", email="lea@example.org", password_hash="x")
    token = admin.csrf("/admin/customers")
    idle_for(me(), 45)
    refused = admin.client.post(f"/admin/customers/{lea.id}/lock", data={"csrf_token": token},
                                headers={"Referer": f"http://testserver/admin/customers/{lea.id}"})
    assert refused.status_code == 303
    assert refused.headers["location"] == f"/account/login?next=%2Fadmin%2Fcustomers%2F{lea.id}"
    assert User.get_by_id(lea.id).locked_at is None


def test_customers_sessions_do_not_end_for_idleness(app, database):
    User.create(name="Lea", email="lea@example.org", password_hash=hash_password(PASSWORD), email_verified_at=now())
    customer = browser(app)
    assert login(customer, "lea@example.org", PASSWORD).status_code == 303
    idle_for(User.get(User.email == "lea@example.org"), 600)
    assert customer.client.get("/account/profile").status_code == 200


def test_the_idle_limit_is_a_setting(app, admin):
    set_settings(app, admin_idle_minutes=10)
    idle_for(me(), 9)
    assert admin.client.get("/admin/customers").status_code == 200
    idle_for(me(), 12)
    assert admin.client.get("/admin/customers").status_code == 303
    other = sign_in_admin(app, "zweite@example.org")
    set_settings(app, admin_idle_minutes=0)  # never
    idle_for(User.get(User.email == "zweite@example.org"), 600)
    assert other.client.get("/admin/customers").status_code == 200


# -- locked accounts --------------------------------------------------------------------------

def test_a_locked_admin_cannot_sign_in(app, admin):
    other = sign_in_admin(app, "zweite@example.org")
    second = User.get(User.email == "zweite@example.org")
    token = admin.csrf("/admin/customers")
    locked = admin.client.post(f"/admin/customers/{second.id}/lock", data={"csrf_token": token})
    assert locked.status_code == 303
    assert other.client.get("/admin/customers").status_code == 303
    refused = login(browser(app), "zweite@example.org")
    assert refused.status_code == 403 and "Dieses Konto ist gesperrt" in refused.text


# -- two-factor sign-in -------------------------------------------------------------------------

def set_up_two_factor(admin: Shopper) -> tuple[pyotp.TOTP, list[str]]:
    """Turn two-factor sign-in on as an admin would; returns the app and the recovery codes."""
    page = admin.client.get("/account/two-factor/setup")
    assert page.status_code == 200
    secret = re.search(r'<code class="totp-secret">([A-Z2-7 ]+)</code>', page.text).group(1).replace(" ", "")
    app = pyotp.TOTP(secret)
    done = admin.post("/account/two-factor/setup", {"code": app.now()})
    assert done.status_code == 200 and "Zwei-Faktor-Anmeldung ist eingeschaltet." in done.text
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", done.text)
    return app, codes


def later(app: pyotp.TOTP, steps: int = 1) -> str:
    """The code the app will show `steps` time steps from now (accepted: a clock may be ahead)."""
    return app.at(two_factor.clock() + 30 * steps)


def test_setting_up_two_factor_shows_a_qr_code_and_the_key_and_needs_a_right_code(app, admin):
    page = admin.client.get("/account/two-factor/setup")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    assert re.search(r"<svg[^>]*class=\"qr-code\"", page.text)
    secret = re.search(r'<code class="totp-secret">([A-Z2-7 ]+)</code>', page.text).group(1)
    # Reloading shows the same key (the app may have scanned it already).
    assert secret in admin.client.get("/account/two-factor/setup").text
    wrong = admin.post("/account/two-factor/setup", {"code": "000000"})
    assert wrong.status_code == 422 and "Dieser Code stimmt nicht" in wrong.text
    assert me().totp_enabled_at is None

    totp = pyotp.TOTP(secret.replace(" ", ""))
    done = admin.post("/account/two-factor/setup", {"code": totp.now()})
    codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", done.text)
    assert len(set(codes)) == 10
    assert me().totp_enabled_at is not None
    stored = [c.code_hash for c in RecoveryCode.select()]
    assert len(stored) == 10 and not set(codes) & set(stored)  # kept only as hashes
    assert AuditEntry.get(AuditEntry.action == "two_factor_on").actor == ADMIN_EMAIL
    status = admin.client.get("/account/two-factor")
    assert "10 Wiederherstellungscodes übrig." in status.text
    assert admin.client.get("/account/two-factor/setup").headers["location"] == "/account/two-factor"


def test_signing_in_with_two_factor_asks_for_the_code_after_the_password(app, admin):
    totp, _codes = set_up_two_factor(admin)
    visitor = browser(app)
    first = login(visitor, next_page="/admin/customers")
    assert first.status_code == 303 and first.headers["location"] == "/account/login/code"
    assert visitor.client.get("/admin/customers").status_code == 303  # not signed in yet
    page = visitor.client.get("/account/login/code")
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in page.text

    wrong = visitor.post("/account/login/code", {"code": "123456"})
    assert wrong.status_code == 422 and "Dieser Code stimmt nicht" in wrong.text
    done = visitor.post("/account/login/code", {"code": later(totp)})
    assert done.status_code == 303 and done.headers["location"] == "/admin/customers"
    assert visitor.client.get("/admin/customers").status_code == 200


def test_a_code_is_taken_only_once(app, admin, monkeypatch):
    totp, _codes = set_up_two_factor(admin)
    code = later(totp)
    first = browser(app)
    login(first)
    assert first.post("/account/login/code", {"code": code}).status_code == 303
    second = browser(app)
    login(second)
    again = second.post("/account/login/code", {"code": code})
    assert again.status_code == 422 and "bereits verwendet" in again.text
    # An older code than the last one taken is refused too.
    assert second.post("/account/login/code", {"code": totp.now()}).status_code == 422
    # A minute on, the app shows a new code, which is taken.
    real = two_factor.clock
    monkeypatch.setattr(two_factor, "clock", lambda: real() + 60)
    assert second.post("/account/login/code", {"code": later(totp)}).status_code == 303


def test_recovery_codes_sign_in_once_each(app, admin):
    _totp, codes = set_up_two_factor(admin)
    visitor = browser(app)
    login(visitor)
    typed = codes[0].upper().replace("-", " ")  # as someone may type it from paper
    done = visitor.post("/account/login/code", {"code": typed})
    assert done.status_code == 303
    assert "noch 9 übrig" in visitor.client.get(done.headers["location"]).text
    again = browser(app)
    login(again)
    assert again.post("/account/login/code", {"code": codes[0]}).status_code == 422
    assert again.post("/account/login/code", {"code": codes[1]}).status_code == 303
    assert RecoveryCode.select().where(RecoveryCode.used_at.is_null()).count() == 8


def test_wrong_codes_are_limited(app, admin):
    set_up_two_factor(admin)
    visitor = browser(app)
    login(visitor)
    for _ in range(5):
        assert visitor.post("/account/login/code", {"code": "000000"}).status_code == 422
    refused = visitor.post("/account/login/code", {"code": "000000"})
    assert refused.status_code == 429 and "zu viele falsche Codes" in refused.text


def test_the_code_step_expires_and_cannot_be_skipped(app, admin, monkeypatch):
    totp, _codes = set_up_two_factor(admin)
    visitor = browser(app)
    assert visitor.client.get("/account/login/code").headers["location"] == "/account/login"
    login(visitor)
    import shop.accounts.routes as account_routes

    real = account_routes.time.time
    monkeypatch.setattr(account_routes.time, "time", lambda: real() + 6 * 60)
    expired = visitor.post("/account/login/code", {"code": later(totp)})
    assert expired.status_code == 303 and expired.headers["location"] == "/account/login"


def test_a_password_reset_still_asks_for_the_code(app, admin):
    from shop.accounts import service

    totp, _codes = set_up_two_factor(admin)
    service.request_reset(app.state.settings, ADMIN_EMAIL)
    link = last_link("password-reset/confirm")
    visitor = browser(app)
    done = visitor.client.post(link, data={"csrf_token": visitor.csrf(link), "password": "ein ganz neues passwort"})
    assert done.status_code == 303 and done.headers["location"] == "/account/login/code"
    assert visitor.client.get("/admin/customers").status_code == 303
    assert visitor.post("/account/login/code", {"code": later(totp)}).status_code == 303
    assert visitor.client.get("/admin/customers").status_code == 200


def test_turning_two_factor_off_asks_for_the_password(app, admin):
    set_up_two_factor(admin)
    wrong = admin.post("/account/two-factor/off", {"off-current": "falsch falsch"})
    assert wrong.status_code == 422 and me().totp_enabled_at is not None
    done = admin.post("/account/two-factor/off", {"off-current": ADMIN_PASSWORD})
    assert done.status_code == 303
    assert me().totp_enabled_at is None and me().totp_secret is None and RecoveryCode.select().count() == 0
    assert login(browser(app)).headers["location"] == "/account/profile"  # no code asked


def test_new_recovery_codes_replace_the_old_ones(app, admin):
    _totp, old = set_up_two_factor(admin)
    assert admin.post("/account/two-factor/recovery-codes", {"codes-current": "falsch falsch"}).status_code == 422
    page = admin.post("/account/two-factor/recovery-codes", {"codes-current": ADMIN_PASSWORD})
    new = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", page.text)
    assert len(new) == 10 and not set(new) & set(old)
    visitor = browser(app)
    login(visitor)
    assert visitor.post("/account/login/code", {"code": old[0]}).status_code == 422
    assert visitor.post("/account/login/code", {"code": new[0]}).status_code == 303


def test_two_factor_pages_are_for_admins(app, database, client):
    User.create(name="Lea", email="lea@example.org", password_hash=hash_password(PASSWORD), email_verified_at=now())
    customer = browser(app)
    login(customer, "lea@example.org", PASSWORD)
    assert customer.client.get("/account/two-factor").status_code == 404
    assert customer.client.get("/account/two-factor/setup").status_code == 404
    assert client.get("/account/two-factor").status_code == 303  # guests sign in first
    for path in ("/account/two-factor/setup", "/account/two-factor/off", "/account/two-factor/recovery-codes",
                 "/account/login/code"):
        assert customer.client.post(path, data={"code": "123456"}).status_code == 403  # no token


def test_when_required_an_admin_without_two_factor_sets_it_up_first(app, admin):
    set_settings(app, admin_totp_required=True)
    sent = admin.client.get("/admin/customers")
    assert sent.status_code == 303
    assert sent.headers["location"] == "/account/two-factor/setup?next=%2Fadmin%2Fcustomers"
    page = admin.client.get(sent.headers["location"])
    assert "verlangt die Zwei-Faktor-Anmeldung" in page.text
    secret = re.search(r'<code class="totp-secret">([A-Z2-7 ]+)</code>', page.text).group(1).replace(" ", "")
    done = admin.post("/account/two-factor/setup", {"code": pyotp.TOTP(secret).now(), "next": "/admin/customers"})
    assert 'href="/admin/customers"' in done.text
    assert admin.client.get("/admin/customers").status_code == 200
    # Required: it cannot be turned off.
    refused = admin.post("/account/two-factor/off", {"off-current": ADMIN_PASSWORD})
    assert refused.status_code == 303 and me().totp_enabled_at is not None
