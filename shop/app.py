"""The application, assembled in one place: areas, middleware, templates, error pages."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Mount, Router
from starlette_wtf import CSRFProtectMiddleware

from shop import health, pricing, theme, worker
from shop.accounts import routes as accounts
from shop.accounts import service as account_service
from shop.admin import bank_statements as admin_bank_statements
from shop.admin import images as admin_images
from shop.admin import imports as admin_imports
from shop.admin import routes as admin
from shop.cart import routes as cart
from shop.cart import session as cart_session
from shop.catalog import cards
from shop.catalog import images as product_images
from shop.catalog import routes as catalog
from shop.catalog.queries import navigation
from shop.checkout import routes as checkout
from shop.config import Settings
from shop.db import DatabaseBusy, connect, run_db
from shop.legal import routes as legal
from shop.mail import outbox
from shop.mail import routes as dev_mail
from shop.orders import routes as orders
from shop.orders import service as orders_service
from shop.payments import demo_providers
from shop.payments import routes as payments
from shop.orders.carriers import carrier_name, tracking_url
from shop.orders.models import paid_with, payment_label, status_label
from shop.ratelimit import TooMany, limiter_for
from shop.security import (
    BodySizeLimitMiddleware,
    BodyTooLarge,
    ClientAddressMiddleware,
    CsrfFailure,
    SecurityHeadersMiddleware,
    SessionLifetimeMiddleware,
    client_address,
)
from shop.web import (
    STATIC_DIR,
    CachedStaticFiles,
    LocaleMiddleware,
    form_data,
    is_htmx,
    make_templates,
    render,
    static_files,
)
from shop.wishlist import routes as wishlist

log = logging.getLogger("shop")

MAX_BODY_BYTES = 1024 * 1024
RETRY_AFTER_BUSY = 5  # seconds


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_environ()
    connect(settings.database_url, settings.database_wait_seconds)

    routes = [
        *catalog.routes, *cart.routes, *checkout.routes, *payments.routes, *orders.routes, *accounts.routes,
        *wishlist.routes, *legal.routes, *theme.routes, *health.routes, *admin.routes,
        *(dev_mail.routes if settings.debug else []),
        *(demo_providers.mounts(settings) if settings.demo_providers else []),
        Mount("/static", app=static_files(STATIC_DIR), name="static"),
        Mount("/media", app=media_files(settings.media_dir), name="media"),
    ]
    middleware = [
        Middleware(ClientAddressMiddleware, trusted=settings.trusted_proxies),
        Middleware(SecurityHeadersMiddleware),
        Middleware(BodySizeLimitMiddleware, max_bytes=MAX_BODY_BYTES, larger=[
            (admin_images.UPLOAD_PATH, settings.image_max_bytes + admin_images.FORM_HEADROOM),
            (admin_imports.UPLOAD_PATH, settings.import_max_bytes + admin_imports.FORM_HEADROOM),
            (admin_bank_statements.UPLOAD_PATH, admin_bank_statements.MAX_BYTES + admin_bank_statements.FORM_HEADROOM),
        ]),
        Middleware(GZipMiddleware, minimum_size=1000),
        Middleware(
            SessionMiddleware,
            secret_key=settings.secret_key,
            session_cookie="__Host-session" if settings.https else "session",
            max_age=settings.session_max_age,
            same_site="lax",
            https_only=settings.https,
        ),
        Middleware(SessionLifetimeMiddleware, max_age=settings.session_max_age),
        Middleware(LocaleMiddleware),
        Middleware(CSRFProtectMiddleware, csrf_secret=settings.secret_key,
                   csrf_time_limit=settings.csrf_time_limit),
    ]
    # Each handler takes its own kind of exception (Starlette looks it up by class).
    handlers: dict[Any, Callable[[Request, Any], Awaitable[Response]]] = {
        HTTPException: http_error,
        BodyTooLarge: body_too_large,
        CsrfFailure: csrf_failure,
        TooMany: too_many,
        ClientDisconnect: client_left,
        DatabaseBusy: database_busy,
        Exception: server_error,
    }
    app = Starlette(
        debug=False,
        routes=routes,
        middleware=middleware,
        lifespan=worker_in_process if settings.worker_in_process else None,
        exception_handlers=handlers,
    )
    app.state.settings = settings
    app.state.limiter = limiter_for(settings.redis_url)
    app.state.templates = templates(app.router)
    outbox.use_templates(app.state.templates)
    outbox.use_composer(lambda kind, order_id: orders_service.status_mail_of(settings, kind, order_id))
    # Where one area needs another's answer without importing it:
    app.state.find_session = account_service.session_user  # who is signed in (shop.auth)
    app.state.on_sign_in = [cart_session.join_account_cart]  # what a guest keeps at sign-in
    app.state.wished_ids = wishlist.wished_ids  # the hearts on catalogue pages
    app.state.payment_part = payments.payment_part  # paying (again) on the order page
    return app


class MediaFiles(CachedStaticFiles):
    """Uploaded media. A picture's renditions are named after their content: a URL never
    changes meaning, so browsers may keep them for a year."""

    def file_response(self, full_path, stat_result, scope, status_code: int = 200):
        response = super().file_response(full_path, stat_result, scope, status_code)
        if product_images.is_rendition(str(full_path)):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def media_files(directory: Path) -> MediaFiles:
    directory.mkdir(parents=True, exist_ok=True)
    return MediaFiles(directory=directory)


@contextlib.asynccontextmanager
async def worker_in_process(app: Starlette):
    """The demo delivers its own mail: a worker round every few seconds, in a thread."""
    settings = app.state.settings

    async def rounds():
        while True:
            await run_in_threadpool(worker.run_round, settings)
            await asyncio.sleep(settings.worker_in_process)

    task = asyncio.create_task(rounds())
    try:
        yield
    finally:
        task.cancel()


def templates(router: Router) -> jinja2.Environment:
    """The shop's template environment: the plumbing's helpers and the areas'."""
    env = make_templates(router)
    env.globals.update(
        product_card=cards.product_card,
        cart_count=cart_session.item_count,
        status_label=status_label,
        payment_label=payment_label,
        carrier_name=carrier_name,
        tracking_url=tracking_url,
        delivery_name=pricing.delivery_name,
        payment_name=pricing.payment_name,
        paid_with=paid_with,
    )
    return env


async def http_error(request: Request, exc: HTTPException):
    headers = dict(exc.headers or {})
    if is_htmx(request):
        # The target of the failed request may be a small part of the page.
        headers.update({"HX-Retarget": "#main", "HX-Reswap": "innerHTML"})
    context = {"status": exc.status_code}
    if not is_htmx(request):
        context["nav_categories"] = await run_db(navigation)
    return render(
        request, "errors/error.html", context,
        fragment="fragments/errors/message.html", status_code=exc.status_code, headers=headers,
    )


async def body_too_large(request: Request, exc: BodyTooLarge):
    """A file too large for its upload form (a picture, a CSV file, a bank statement)
    says so there; else as any 413."""
    return (await admin_images.upload_too_large(request, exc)
            or await admin_imports.upload_too_large(request, exc)
            or await admin_bank_statements.upload_too_large(request, exc) or await http_error(request, exc))


async def csrf_failure(request: Request, exc: CsrfFailure):
    """A form from a page left open too long may be sent again (what was typed, but never
    a password or a token); a cross-site or forged one is refused and logged."""
    fields: list[tuple[str, str]] = []
    if exc.retryable:
        fields = await _typed_fields(request)
    else:
        log.warning("Refused %s %s from %s: %s", request.method, request.url.path, client_address(request),
                    exc.reason)
    return render(
        request, "errors/csrf.html",
        {"retryable": exc.retryable, "fields": fields, "action": request.url.path},
        status_code=403, headers={"Cache-Control": "no-store"},
    )


async def database_busy(request: Request, exc: DatabaseBusy):
    """The database stayed locked past the wait limit: nothing was written, the cart is
    as it was, and what was typed can be sent again in a moment."""
    log.warning("Database busy on %s %s from %s: %s", request.method, request.url.path,
                client_address(request), exc)
    fields = await _typed_fields(request) if request.method == "POST" else []
    headers = {"Retry-After": str(RETRY_AFTER_BUSY), "Cache-Control": "no-store"}
    if is_htmx(request):
        headers.update({"HX-Retarget": "#main", "HX-Reswap": "innerHTML"})
    return render(request, "errors/busy.html", {"fields": fields, "action": request.url.path},
                  fragment="fragments/errors/busy.html", status_code=503, headers=headers)


async def _typed_fields(request: Request) -> list[tuple[str, str]]:
    """What the shopper typed into the form, to send again; never a password or a token."""
    form = await form_data(request)
    return [(name, value) for name, value in form.multi_items()
            if not any(word in name.lower() for word in ("password", "token", "current"))]


async def too_many(request: Request, exc: TooMany):
    return render(request, "errors/error.html", {"status": 429, "retry_after": exc.retry_after},
                  status_code=429, headers={"Retry-After": str(exc.retry_after)})


async def client_left(request: Request, exc: ClientDisconnect):
    """The client went away while sending: no one to answer, and nothing broke."""
    return Response(status_code=400)


async def server_error(request: Request, exc: Exception):
    log.exception("Unhandled error on %s %s from %s", request.method, request.url.path, client_address(request),
                  exc_info=exc)
    return render(request, "errors/500.html", status_code=500)


def __getattr__(name: str):
    # `uvicorn shop.app:app` builds the app from the environment on first access.
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
