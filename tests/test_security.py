"""Headers, CSRF on every state-changing route, the theme switch and the session cookie."""
from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import replace

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from starlette.testclient import TestClient

from tests.conftest import migrated_app
from tests.routing import requests_to

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SAME_ORIGIN = {"Origin": "http://testserver"}


def unsafe_routes(app):
    return requests_to(app, UNSAFE)


def token_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def session_of(client) -> dict:
    cookie = client.cookies["session"]
    payload = TimestampSigner("test-secret-key").unsign(cookie.encode())
    return json.loads(base64.b64decode(payload))


def test_pages_send_the_security_headers(client):
    headers = client.get("/").headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'none'" in csp and "base-uri 'none'" in csp and "form-action 'self'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in headers


def test_hsts_and_secure_host_cookie_over_https(settings):
    app = migrated_app(replace(settings, base_url="https://shop.example"))
    with TestClient(app, base_url="https://shop.example") as client:
        response = client.get("/healthz")
        assert response.headers["strict-transport-security"].startswith("max-age=63072000")
        page = client.get("/shipping")
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("__Host-session=")
        assert "secure" in cookie.lower() and "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


def test_session_cookie_is_httponly_and_lax(client):
    cookie = client.get("/shipping").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie


def test_no_inline_scripts_styles_or_handlers_in_pages(client, demo):
    for url in ("/", "/products", "/products?q=tee", "/shipping", "/nirgendwo"):
        html = client.get(url).text
        assert not re.search(r"<script(?![^>]*\ssrc=)", html), url
        assert " style=" not in html and "<style" not in html, url
        assert not re.search(r"\son[a-z]+=", html), url
        assert "hx-on" not in html, url


def test_every_unsafe_route_refuses_a_request_without_a_valid_token(app, client, shopper, database):
    routes = list(unsafe_routes(app))
    assert routes, "the shop has state-changing routes"
    # A signed-in customer, so routes behind the sign-in are reached too.
    shopper.post("/account/register", {"name": "Lea", "email": "lea@example.org", "password": "ein sicheres passwort"})
    shopper.post("/account/login", {"email": "lea@example.org", "password": "ein sicheres passwort"})
    for method, path in routes:
        for data in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
            response = client.request(method, path, data=data)
            if path.startswith("/admin/"):
                assert response.status_code == 404, (method, path, data)  # customers see no back office
                continue
            if path.startswith("/payments/") and path.endswith("/webhook"):
                # A provider signs its events instead (tests/test_payments_*.py); here none is set up.
                assert response.status_code == 404, (method, path, data)
                continue
            assert response.status_code == 403, (method, path, data)
            assert "Dieses Formular konnte nicht angenommen werden" in response.text
    assert "theme" not in client.cookies


def test_theme_switch_works_without_javascript(client):
    token = token_from(client.get("/products").text)
    response = client.post("/theme", data={"csrf_token": token, "theme": "dark", "next": "/products?q=tee"})
    assert response.status_code == 303
    assert response.headers["location"] == "/products?q=tee"
    assert 'data-theme="dark"' in client.get("/products").text


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "https:evil.example",
                                    "https://evil.example/", "javascript:alert(1)", "/ok\r\nX: y"])
def test_theme_switch_only_redirects_inside_the_shop(client, target):
    token = token_from(client.get("/").text)
    response = client.post("/theme", data={"csrf_token": token, "theme": "light", "next": target})
    assert response.headers["location"] == "/"


def test_expired_token_gets_a_friendly_page_that_lets_the_shopper_retry(client):
    client.get("/")
    raw = session_of(client)["csrf_token"]
    class FiveHoursAgo(TimestampSigner):  # a page left open for five hours
        def get_timestamp(self):
            return int(time.time()) - 5 * 3600

    old = URLSafeTimedSerializer("test-secret-key", salt="wtf-csrf-token", signer=FiveHoursAgo)
    response = client.post("/theme", data={"csrf_token": old.dumps(raw), "theme": "dark", "next": "/shipping"},
                           headers=SAME_ORIGIN)
    assert response.status_code == 403 and "no-store" in response.headers["cache-control"]
    assert "Diese Seite war lange geöffnet" in response.text
    assert 'name="theme" value="dark"' in response.text and 'name="next" value="/shipping"' in response.text
    retry = client.post("/theme", data={"csrf_token": token_from(response.text), "theme": "dark",
                                        "next": "/shipping"})
    assert retry.status_code == 303 and retry.headers["location"] == "/shipping"


def test_session_has_an_absolute_lifetime(client, settings):
    client.get("/")
    session = session_of(client)
    token = token_from(client.get("/").text)
    session["born"] = int(time.time()) - settings.session_max_age - 10
    cookie = TimestampSigner("test-secret-key").sign(base64.b64encode(json.dumps(session).encode()))
    client.cookies.clear()
    client.cookies.set("session", cookie.decode())
    response = client.post("/theme", data={"csrf_token": token, "theme": "dark"}, headers=SAME_ORIGIN)
    assert response.status_code == 403
    assert "Diese Seite war lange geöffnet" in response.text


def test_wrong_method_is_a_clean_405(client):
    # A method the page does not take: 405 with the methods it does take (RFC 9110), in the
    # shop's layout; not a 403 for the missing token, as the form could never be sent there.
    for method, path in (("POST", "/products"), ("DELETE", "/products/x"), ("PUT", "/")):
        response = client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}, (method, path)
        assert "site-header" in response.text, (method, path)


def test_oversized_bodies_are_refused_before_reading(client):
    token = token_from(client.get("/").text)
    response = client.post("/theme", data={"csrf_token": token, "theme": "dark", "junk": "x" * 2_000_000})
    assert response.status_code == 413
    assert "theme" not in client.cookies


def test_a_cross_site_sign_in_is_refused_and_echoes_nothing(app, client, database):
    """Login CSRF: the attacker posts the sign-in form with a token of their own session."""
    attacker = TestClient(app, follow_redirects=False)
    token = token_from(attacker.get("/account/login").text)
    form = {"csrf_token": token, "email": "attacker@example.org", "password": "geheimes passwort 123"}
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Referer": "https://evil.example/page"}, {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
                    {"Origin": "null"}):
        response = client.post("/account/login", data=form, headers=headers)
        assert response.status_code == 403, headers
        assert "Dieses Formular konnte nicht angenommen werden" in response.text
        assert "geheimes passwort" not in response.text and token not in response.text
        assert "Erneut senden" not in response.text and "auth" not in session_of(client)


def test_a_valid_token_from_a_foreign_origin_is_refused(client):
    token = token_from(client.get("/").text)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "same-site"},
                    {"Referer": "http://testserver.evil.example/"}):
        response = client.post("/theme", data={"csrf_token": token, "theme": "dark"}, headers=headers)
        assert response.status_code == 403, headers
    assert "theme" not in client.cookies
    for headers in (SAME_ORIGIN, {"Sec-Fetch-Site": "same-origin"}, {"Referer": "http://testserver/products"},
                    {"Origin": "http://127.0.0.1:8000"}):  # BASE_URL: the shop's public address
        assert client.post("/theme", data={"csrf_token": token, "theme": "dark"}, headers=headers).status_code == 303


def test_an_expired_sign_in_form_is_offered_again_without_the_password(client, database):
    token = token_from(client.get("/account/login").text)
    client.cookies.clear()  # the session expired while the page was open
    response = client.post("/account/login", headers=SAME_ORIGIN, data={
        "csrf_token": token, "email": "lea@example.org", "password": "mein geheimes passwort", "next": "/cart"})
    assert response.status_code == 403 and "no-store" in response.headers["cache-control"]
    assert "Diese Seite war lange geöffnet" in response.text
    assert 'name="email" value="lea@example.org"' in response.text and 'name="next" value="/cart"' in response.text
    assert "mein geheimes passwort" not in response.text and 'name="password"' not in response.text
    assert token not in response.text


def test_an_expired_form_without_proof_of_origin_is_not_offered_again(client):
    token = token_from(client.get("/").text)
    client.cookies.clear()
    response = client.post("/theme", data={"csrf_token": token, "theme": "dark"})
    assert response.status_code == 403 and "Dieses Formular konnte nicht angenommen werden" in response.text


def _echo_client(trusted: str):
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from shop.config import networks
    from shop.security import ClientAddressMiddleware

    async def echo(request):
        return PlainTextResponse(f"{request.client.host} {request.url.scheme}")

    app = Starlette(routes=[Route("/", echo)],
                    middleware=[Middleware(ClientAddressMiddleware, trusted=networks(trusted))])
    return lambda peer, **headers: TestClient(app, client=(peer, 1234)).get("/", headers=headers).text


def test_forwarded_headers_count_only_from_trusted_proxies():
    seen = _echo_client("")  # the default: no proxy is trusted
    assert seen("198.51.100.4", **{"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https"}) == "198.51.100.4 http"
    seen = _echo_client("10.0.0.0/8, 2001:db8::1")
    assert seen("198.51.100.4", **{"X-Forwarded-For": "1.2.3.4"}) == "198.51.100.4 http"  # not a proxy of ours
    # Through our proxies: the right-most hop that is not one of them; what the client wrote is left of it.
    assert seen("10.0.0.2", **{"X-Forwarded-For": "6.6.6.6, 203.0.113.9, 10.0.0.3"}) == "203.0.113.9 http"
    assert seen("10.0.0.2", **{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}) == "203.0.113.9 https"
    assert seen("2001:db8::1", **{"X-Forwarded-For": "2001:db8::77"}) == "2001:db8::77 http"
    assert seen("10.0.0.2", **{"X-Forwarded-For": "nonsense, 203.0.113.9"}) == "203.0.113.9 http"
    assert seen("10.0.0.2", **{"X-Forwarded-For": "203.0.113.9, nonsense"}) == "10.0.0.2 http"
    assert seen("10.0.0.2") == "10.0.0.2 http"


def test_a_bad_trusted_proxy_setting_is_named(monkeypatch):
    from shop.config import Settings

    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, kaputt")
    with pytest.raises(RuntimeError, match="TRUSTED_PROXIES"):
        Settings.from_environ()


def test_a_client_that_leaves_mid_request_is_no_server_error(app, client, caplog):
    import asyncio

    client.get("/")  # the app has started
    messages = [{"type": "http.request", "body": b"csrf_token=abc&prod", "more_body": True},
                {"type": "http.disconnect"}]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/cart/items", "raw_path": b"/cart/items",
             "query_string": b"", "root_path": "", "scheme": "http", "server": ("testserver", 80),
             "client": ("127.0.0.1", 5000), "http_version": "1.1", "app": app,
             "headers": [(b"content-type", b"application/x-www-form-urlencoded"), (b"host", b"testserver")]}
    asyncio.run(app(scope, receive, send))
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert sent[0]["status"] == 400


@pytest.mark.parametrize("content_type,body,status", [
    # Bodies that can be read, but carry no token: refused as any form without one.
    ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--xyz", 403),
    ("application/x-www-form-urlencoded", b"\xff\xfe=%ZZ&a=%", 403),
    ("text/plain", b"hello", 403),
    # Multipart bodies without a usable boundary cannot be read at all: a bad request.
    ("multipart/form-data", b"garbage", 400),
    ("multipart/form-data; boundary=", b"\xff\xfe", 400),
])
def test_malformed_bodies_get_a_4xx_and_no_error_in_the_log(client, caplog, content_type, body, status):
    client.get("/")
    response = client.post("/cart/items", content=body, headers={"content-type": content_type})
    assert response.status_code == status
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
