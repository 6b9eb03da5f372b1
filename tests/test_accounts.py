"""Accounts: registration with double opt-in, sign-in sessions, reset, rate limits, roles."""
from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from concurrent.futures import ThreadPoolExecutor

from starlette.testclient import TestClient

from shop import cli
from shop.accounts import service
from shop.accounts.models import User, UserSession
from shop.mail.models import OutboxMessage
from shop.ratelimit import MemoryCounter, RateLimiter
from tests.conftest import Shopper
from tests.routing import requests_to

PASSWORD = "korrekt pferd batterie"


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


@pytest.fixture
def clock(app):
    clock = Clock()
    app.state.limiter = RateLimiter(MemoryCounter(clock))
    return clock


def last_link(kind: str) -> str:
    """The link in the newest mail whose path starts with `kind` (under /account/ unless
    it starts with a slash)."""
    message = OutboxMessage.select().order_by(OutboxMessage.id.desc()).get().message
    message = message.replace("=\r\n", "").replace("=3D", "=")
    start = re.escape(kind if kind.startswith("/") else f"/account/{kind}")
    return re.search(rf"http://127\.0\.0\.1:8000({start}[^\s\"<]*)", message).group(1)


def register(shopper, email="lea@example.org", password=PASSWORD, name="Lea Kunde"):
    return shopper.post("/account/register", {"name": name, "email": email, "password": password})


def login(shopper, email="lea@example.org", password=PASSWORD, headers=None, **extra):
    return shopper.post("/account/login", {"email": email, "password": password, **extra}, headers=headers)


def test_register_confirm_and_sign_in(shopper, client, database):
    response = register(shopper)
    assert response.status_code == 200 and "Bitte prüfen Sie Ihr Postfach" in response.text
    user = User.get()
    assert user.email == "lea@example.org" and not user.verified
    assert user.password_hash.startswith("$argon2id$")
    assert login(shopper).headers["location"] == "/account/profile"
    assert "Bitte bestätigen Sie Ihre E-Mail-Adresse" in client.get("/").text  # the banner
    link = last_link("verify")
    assert client.get(link).status_code == 303
    assert User.get().verified
    assert "Bitte bestätigen Sie Ihre E-Mail-Adresse" not in client.get("/").text


@pytest.mark.parametrize("password,message", [
    ("kurz", "mindestens 10 Zeichen"), ("1234567890", "zu leicht zu erraten"),
    ("password123", "zu leicht zu erraten"), ("lea@example.org", "zu leicht zu erraten"),
    ("aaaaaaaaaaaa", "zu leicht zu erraten"),
])
def test_weak_passwords_are_refused(shopper, database, password, message):
    response = register(shopper, password=password)
    assert response.status_code == 422 and message in response.text
    assert User.select().count() == 0


def test_registration_does_not_reveal_existing_accounts(shopper, database):
    first = register(shopper)
    second = register(shopper, name="Someone Else", password="ein anderes langes passwort")
    assert first.status_code == second.status_code == 200
    strip = lambda html: re.sub(r'value="[^"]+"', "", html)  # noqa: E731
    assert strip(first.text) == strip(second.text)
    assert User.select().count() == 1
    notice = OutboxMessage.select().order_by(OutboxMessage.id.desc()).get()
    assert notice.recipient == "lea@example.org" and "registrieren" in notice.subject


def test_tampered_or_old_confirmation_links_do_nothing(shopper, client, settings, database):
    register(shopper)
    link = last_link("verify")
    assert client.get(link[:-3] + "abc").status_code == 400
    old = URLSafeTimedSerializer(settings.secret_key, salt="account-verify")
    user = User.get()
    token = old.dumps({"uid": user.id, "email": "other@example.org"})
    assert client.get(f"/account/verify?token={token}").status_code == 400
    assert not User.get().verified


def test_wrong_password_and_unknown_address_get_the_same_answer(shopper, database):
    register(shopper)
    wrong = login(shopper, password="falsches passwort!")
    unknown = login(shopper, email="niemand@example.org")
    assert wrong.status_code == unknown.status_code == 422
    assert "E-Mail-Adresse oder das Passwort stimmt nicht" in wrong.text
    assert re.sub(r'value="[^"]*"', "", wrong.text) == re.sub(r'value="[^"]*"', "", unknown.text)


def test_sign_in_renews_the_session_and_sign_out_revokes_it(app, shopper, client, database):
    register(shopper)
    before = client.cookies["session"]
    login(shopper)
    after = client.cookies["session"]
    assert before != after
    copied = TestClient(app, follow_redirects=False)
    copied.cookies.set("session", after)
    assert copied.get("/account/profile").status_code == 200
    shopper.post("/account/logout")
    assert UserSession.select().count() == 0
    assert copied.get("/account/profile").headers["location"].startswith("/account/login")


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "https:evil.example",
                                    "https://evil.example/x", "javascript:alert(1)"])
def test_next_only_redirects_inside_the_shop(shopper, database, target):
    register(shopper)
    assert login(shopper, next=target).headers["location"] == "/account/profile"


def test_next_inside_the_shop_is_followed(shopper, database):
    register(shopper)
    assert login(shopper, next="/cart").headers["location"] == "/cart"


def test_password_reset_works_once_within_an_hour(app, shopper, client, settings, database):
    register(shopper)
    answer_known = shopper.post("/account/password-reset", {"email": "lea@example.org"})
    link = last_link("password-reset/confirm")
    answer_unknown = shopper.post("/account/password-reset", {"email": "niemand@example.org"})
    strip = lambda html: re.sub(r'value="[^"]+"|niemand@example.org|lea@example.org', "", html)  # noqa: E731
    assert strip(answer_known.text) == strip(answer_unknown.text)
    assert OutboxMessage.select().where(OutboxMessage.recipient == "niemand@example.org").count() == 0
    other_browser = Shopper(TestClient(app, follow_redirects=False))
    login(other_browser)
    assert client.get(link).status_code == 200
    response = shopper.post(link, {"password": "ein ganz neues passwort"})
    assert response.headers["location"] == "/account/profile"  # the mailed link signs in
    assert shopper.client.get("/account/profile").status_code == 200
    assert other_browser.client.get("/account/profile").status_code == 303  # signed out everywhere else
    assert client.get(link).status_code == 400  # used
    assert login(Shopper(TestClient(app, follow_redirects=False)), password="ein ganz neues passwort").status_code == 303


def test_a_newer_reset_link_makes_every_older_one_invalid(shopper, client, database):
    register(shopper)
    shopper.post("/account/password-reset", {"email": "lea@example.org"})
    first = last_link("password-reset/confirm")
    shopper.post("/account/password-reset", {"email": "lea@example.org"})
    second = last_link("password-reset/confirm")
    assert client.get(first).status_code == 400
    assert client.get(second).status_code == 200


def test_a_reset_link_carries_nothing_of_the_password_hash(shopper, settings, database):
    register(shopper)
    shopper.post("/account/password-reset", {"email": "lea@example.org"})
    token = last_link("password-reset/confirm").split("token=")[1]
    payload = URLSafeTimedSerializer(settings.secret_key, salt="account-reset").loads(token)
    password_hash = User.get().password_hash
    assert set(payload) == {"uid", "secret"}
    assert not any(password_hash[i:i + 8] in token or password_hash[i:i + 8] in str(payload)
                   for i in range(0, len(password_hash) - 8))


def test_changing_the_password_kills_an_open_reset_link(shopper, client, database):
    register(shopper)
    login(shopper)
    shopper.post("/account/password-reset", {"email": "lea@example.org"})
    link = last_link("password-reset/confirm")
    response = shopper.post("/account/password", {"password-current": PASSWORD,
                                                  "password-password": "ein anderes neues passwort"})
    assert response.status_code == 303
    assert client.get(link).status_code == 400


def test_reset_links_expire_after_an_hour(shopper, client, settings, database):
    register(shopper)
    user = User.get()

    class TwoHoursAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 7200

    shopper.post("/account/password-reset", {"email": "lea@example.org"})
    fresh = last_link("password-reset/confirm").split("token=")[1]
    secret = URLSafeTimedSerializer(settings.secret_key, salt="account-reset").loads(fresh)["secret"]
    expired = URLSafeTimedSerializer(settings.secret_key, salt="account-reset", signer=TwoHoursAgo)
    token = expired.dumps({"uid": user.id, "secret": secret})  # the live secret, but two hours old
    assert client.get(f"/account/password-reset/confirm?token={token}").status_code == 400


def test_links_in_mail_use_the_configured_base_url(shopper, database):
    register(shopper, email="host@example.org")
    message = OutboxMessage.select().order_by(OutboxMessage.id.desc()).get().message
    assert "http://127.0.0.1:8000/account/verify?token=" in message.replace("=\r\n", "").replace("=3D", "=")
    client = shopper.client
    mails = OutboxMessage.select().count()
    response = client.post("/account/password-reset", headers={"Host": "evil.example"},
                           data={"csrf_token": shopper.csrf(), "email": "host@example.org"})
    assert response.status_code == 200 and "Bitte prüfen Sie Ihr Postfach" in response.text
    assert OutboxMessage.select().count() == mails + 1  # the reset mail goes out, with the shop's own address
    assert last_link("password-reset/confirm").startswith("/account/password-reset/confirm?token=")
    assert "evil.example" not in OutboxMessage.select().order_by(OutboxMessage.id.desc()).get().message


def test_changing_the_password_ends_other_sessions(app, shopper, database):
    register(shopper)
    login(shopper)
    other = Shopper(TestClient(app, follow_redirects=False))
    login(other)
    wrong = shopper.post("/account/password", {"password-current": "nicht das passwort", "password-password": "ganz neues passwort"})
    assert wrong.status_code == 422 and "nicht Ihr aktuelles Passwort" in wrong.text
    assert shopper.post("/account/password", {"password-current": PASSWORD, "password-password": "ganz neues passwort"}).status_code == 303
    assert shopper.client.get("/account/profile").status_code == 200
    assert other.client.get("/account/profile").status_code == 303


def test_the_account_page_lists_sessions_and_ends_one(app, shopper, database):
    register(shopper)
    login(shopper)
    other = Shopper(TestClient(app, follow_redirects=False))
    login(other)
    page = shopper.client.get("/account/profile").text
    assert "Dieser Browser" in page
    other_id = re.search(r'name="session" value="(\d+)"', page).group(1)
    shopper.post("/account/sessions/end", {"session": other_id})
    assert other.client.get("/account/profile").status_code == 303
    assert shopper.post("/account/sessions/end", {"session": "abc"}).status_code == 404


def test_sign_in_is_rate_limited_per_account_with_retry_after(shopper, clock, database):
    register(shopper)
    for _ in range(5):
        assert login(shopper, password="falsch falsch falsch").status_code == 422
    blocked = login(shopper)  # even the right password, for now
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert "zu viele Anmeldeversuche" in blocked.text and 'href="/account/password-reset"' in blocked.text
    clock.now += 15 * 60 + 1
    assert login(shopper).status_code == 303


def test_a_locked_out_owner_gets_in_through_the_mailed_reset_link(shopper, clock, database):
    """A stranger's guesses cannot hold an account shut."""
    register(shopper)
    for _ in range(5):
        login(shopper, password="falsch falsch falsch")
    assert login(shopper).status_code == 429
    shopper.post("/account/password-reset", {"email": "lea@example.org"})
    response = shopper.post(last_link("password-reset/confirm"), {"password": "ein ganz neues passwort"})
    assert response.headers["location"] == "/account/profile"
    assert shopper.client.get("/account/profile").status_code == 200
    assert User.get().verified  # the link proved the address too


def test_a_burst_of_parallel_guesses_checks_at_most_the_limit(app, client, database, monkeypatch):
    register(Shopper(client))
    checked = []
    real = service.authenticate
    monkeypatch.setattr(service, "authenticate", lambda *a: checked.append(1) or real(*a))
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/account/login").text).group(1)
    guess = {"csrf_token": token, "email": "lea@example.org", "password": "falsch falsch falsch"}
    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(lambda _: client.post("/account/login", data=guess), range(30)))
    assert len(checked) == 5
    assert sorted(a.status_code for a in answers) == [422] * 5 + [429] * 25


def test_random_forwarded_for_headers_do_not_get_around_the_limit(shopper, clock, database):
    for n in range(20):
        login(shopper, email=f"raten{n}@example.org", headers={"X-Forwarded-For": f"203.0.113.{n}"})
    answer = login(shopper, email="noch-einer@example.org", headers={"X-Forwarded-For": "198.51.100.7"})
    assert answer.status_code == 429


def test_sign_in_is_rate_limited_per_client(shopper, clock, database):
    for n in range(20):
        login(shopper, email=f"raten{n}@example.org")
    assert login(shopper, email="noch-einer@example.org").status_code == 429


def test_registration_and_reset_are_rate_limited(shopper, clock, database):
    for n in range(5):
        assert register(shopper, email=f"neu{n}@example.org").status_code == 200
    assert register(shopper, email="neu9@example.org").status_code == 429
    for _ in range(3):
        shopper.post("/account/password-reset", {"email": "lea@example.org"})
    assert shopper.post("/account/password-reset", {"email": "lea@example.org"}).status_code == 429


def test_resend_is_rate_limited(shopper, clock, database):
    register(shopper)
    login(shopper)
    for _ in range(3):
        assert shopper.post("/account/verify/resend").status_code == 303
    assert shopper.post("/account/verify/resend").status_code == 429


def admin_paths(app) -> list[tuple[str, str]]:
    """Every route under /admin/, with each of its methods."""
    return requests_to(app, {"GET", "POST"}, under="/admin/")


def test_admin_routes_show_nothing_to_guests_and_customers(app, shopper, client, database):
    paths = admin_paths(app)
    assert ("GET", "/admin/") in paths
    for method, path in paths:  # guests are sent to sign in, and back here afterwards
        response = client.request(method, path)
        assert response.status_code == 303, (method, path)
        assert response.headers["location"] == f"/account/login?next={quote(path, safe='')}"
        assert "Neueste Bestellungen" not in response.text
    register(shopper)
    login(shopper)
    for method, path in paths:  # customers find nothing there
        response = shopper.client.request(method, path, follow_redirects=True)
        assert response.status_code == 404, (method, path)
        assert "Neueste Bestellungen" not in response.text


def test_create_admin_and_the_first_back_office_page(app, shopper, make_product, settings, monkeypatch, database):
    Shopper(TestClient(app, follow_redirects=False)).buy(make_product("Kerze"))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("ADMIN_PASSWORD", "kurz")
    assert cli.main(["create-admin", "chefin@example.org"]) == 1
    monkeypatch.setenv("ADMIN_PASSWORD", "ein sehr sicheres passwort")
    assert cli.main(["create-admin", "chefin@example.org"]) == 0
    login(shopper, email="chefin@example.org", password="ein sehr sicheres passwort")
    page = shopper.client.get("/admin/")
    assert page.status_code == 200 and "Neueste Bestellungen" in page.text
    assert "Wartet auf Zahlung" in page.text and re.search(r'href="/admin/orders/\d{4}-000001"', page.text)


def test_a_typed_password_is_never_sent_back_into_the_page(shopper, database):
    register(shopper)
    failed = login(shopper, password="falsch falsch falsch")
    assert failed.status_code == 422 and "falsch falsch falsch" not in failed.text
    too_short = register(shopper, email="neu@example.org", password="kurz1")
    assert too_short.status_code == 422 and 'value="kurz1"' not in too_short.text
