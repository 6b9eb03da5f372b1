"""Security headers, the client's true address, the session's absolute lifetime, and
CSRF checks (origin and token) on every unsafe request."""
from __future__ import annotations

import functools
import ipaddress
import logging
import re
import time
from typing import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_wtf.util import generate_csrf, validate_csrf
from wtforms import ValidationError

log = logging.getLogger("shop.security")

CSRF_FIELD = "csrf_token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "manifest-src 'self'",
])


class SecurityHeadersMiddleware:
    """Adds the headers Mozilla's HTTP Observatory asks for to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Cross-Origin-Resource-Policy"] = "same-origin"
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
                if https:
                    headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ClientAddressMiddleware:
    """Puts the client's true address into the request, once, for everything after it
    (rate limits, logs, the audit trail).

    X-Forwarded-For and X-Forwarded-Proto count only when the connection comes from a
    trusted proxy; then the address is the right-most hop that is not a trusted proxy
    itself, since everything left of it may have been written by the client.
    """

    def __init__(self, app: ASGIApp, trusted: tuple = ()) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.trusted and scope.get("client"):
            peer, port = scope["client"]
            if self._is_trusted(peer):
                headers = Headers(scope=scope)
                scope = dict(scope, client=(self._client(peer, headers), port))
                proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
                if proto in ("http", "https"):
                    scope["scheme"] = proto
        await self.app(scope, receive, send)

    def _client(self, peer: str, headers: Headers) -> str:
        hops = [hop.strip() for value in headers.getlist("x-forwarded-for") for hop in value.split(",")]
        for hop in reversed(hops):
            if not _address(hop):
                return peer  # garbage in the chain: believe only the proxy itself
            if not self._is_trusted(hop):
                return hop
        return hops[0] if hops else peer

    def _is_trusted(self, address: str) -> bool:
        ip = _address(address)
        return ip is not None and any(ip in network for network in self.trusted)


def client_address(request: Request) -> str:
    """The client's address as ClientAddressMiddleware resolved it: the one used by rate
    limits and every log line."""
    return request.client.host if request.client else "unknown"


def _address(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class BodyTooLarge(HTTPException):
    """A request body over the limit of its path (`limit` bytes): answered with 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, "Request body too large.")
        self.limit = limit


class BodySizeLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413, before anything reads them whole.
    Paths matching a pattern in `larger` (an upload) have that limit instead. The bytes
    are counted as they arrive, so a body without a declared length is cut off too."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = [(re.compile(pattern), limit) for pattern, limit in larger]

    def limit_for(self, path: str) -> int:
        return next((limit for pattern, limit in self.larger if pattern.fullmatch(path)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length", "0")
        too_large = not re.fullmatch(r"[0-9]{1,12}", declared) or int(declared) > limit
        received = 0

        async def limited_receive() -> Message:
            # Raised where the body is read, so the shop's own error page answers.
            nonlocal received
            if too_large:
                raise BodyTooLarge(limit)
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


class SessionLifetimeMiddleware:
    """Ends a session a fixed time after it began, however active it was.

    Starlette's session cookie is re-signed on every response, so its own
    max_age only limits idle time. Sits inside SessionMiddleware.
    """

    def __init__(self, app: ASGIApp, max_age: int) -> None:
        self.app = app
        self.max_age = max_age

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "session" not in scope:
            await self.app(scope, receive, send)
            return
        session = scope["session"]
        born = session.get("born")
        if not isinstance(born, (int, float)) or time.time() - born > self.max_age:
            session.clear()

        async def stamp(message: Message) -> None:
            if message["type"] == "http.response.start" and session and "born" not in session:
                session["born"] = int(time.time())
            await send(message)

        await self.app(scope, receive, stamp)


class CsrfFailure(Exception):
    """A state-changing request without a valid token; `retryable` if it only expired."""

    def __init__(self, reason: str, retryable: bool):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


def csrf_token(request: Request) -> str:
    return generate_csrf(request, secret_key=_secret(request), field_name=CSRF_FIELD)


def foreign_origin(request: Request) -> str | None:
    """Where a cross-site request came from, or None for this shop's own pages.

    The browser's `Origin` decides; where it says nothing useful ("null", sent under a
    strict referrer policy) `Sec-Fetch-Site`, then the `Referer`. A request that carries
    none of them (not a browser) is left to the token.
    """
    own = {_origin_of(request.app.state.settings.base_url), _origin_of(str(request.base_url))}
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return None if origin in own else origin
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site:
        return None if fetch_site in ("same-origin", "none") else fetch_site
    referer = request.headers.get("referer")
    if referer:
        return None if _origin_of(referer) in own else _origin_of(referer)
    return None


def _proven_same_origin(request: Request) -> bool:
    """The browser says this request comes from one of the shop's own pages."""
    said = request.headers.get("origin", "null") != "null" or any(
        request.headers.get(name) for name in ("sec-fetch-site", "referer"))
    return said and foreign_origin(request) is None


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def check_csrf(request: Request) -> None:
    if source := foreign_origin(request):
        raise CsrfFailure(f"cross-site request from {source}", retryable=False)
    token = request.headers.get("x-csrf-token")
    if not token:
        form = await request.form()
        token = form.get(CSRF_FIELD)
    if not isinstance(token, str):
        raise CsrfFailure("The CSRF token is missing.", retryable=False)
    try:
        validate_csrf(
            request,
            token,
            secret_key=_secret(request),
            field_name=CSRF_FIELD,
            time_limit=request.app.state.settings.csrf_time_limit,
        )
    except ValidationError as error:
        reason = str(error.args[0])
        # An old page of this shop (expired token) or an expired session: the shopper
        # did nothing wrong and may send the form again.
        expired = "expired" in reason or "session token is missing" in reason
        raise CsrfFailure(reason, retryable=expired and _proven_same_origin(request)) from None
    request.state.csrf_valid = True


def csrf_protected(endpoint):
    @functools.wraps(endpoint)
    async def checked(request: Request):
        if request.method not in SAFE_METHODS:
            await check_csrf(request)
        return await endpoint(request)

    return checked


def protect_routes(routes: list[BaseRoute], exempt: frozenset[str] = frozenset()) -> list[BaseRoute]:
    """Wrap every route that accepts an unsafe method in the CSRF check, unless exempt by name."""
    protected = []
    for route in routes:
        if isinstance(route, Route) and route.name not in exempt and set(route.methods or ()) - SAFE_METHODS:
            route = Route(route.path, csrf_protected(route.endpoint), methods=list(route.methods),
                          name=route.name)
        protected.append(route)
    return protected


def safe_next(target: object, default: str = "/") -> str:
    """A redirect target inside this shop, or `default`: refuses other hosts and schemes."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(c in target for c in "\\\r\n\t") or urlsplit(target).netloc:
        return default
    return target


def _secret(request: Request) -> str:
    return request.app.state.settings.secret_key
