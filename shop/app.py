"""The application, assembled in one place: routes, middleware, error pages."""
from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.routing import Mount
from starlette_wtf import CSRFProtectMiddleware

from shop import accounts, admin, cart, catalog, checkout, health, legal, orders, theme, wishlist
from shop.catalog.queries import navigation
from shop.config import Settings
from shop.db import connect, run_db
from shop.ratelimit import TooMany, limiter_for
from shop.security import (
    BodySizeLimitMiddleware,
    CsrfFailure,
    SecurityHeadersMiddleware,
    SessionLifetimeMiddleware,
    protect_routes,
)
from shop.web import STATIC_DIR, LocaleMiddleware, install_url_helpers, is_htmx, render, static_files

log = logging.getLogger("shop")

# Routes that may change state without a CSRF token; each checks a signature of its own.
CSRF_EXEMPT: set[str] = set()
MAX_BODY_BYTES = 1024 * 1024


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_environ()
    connect(settings.database_url)

    routes = protect_routes(
        [*catalog.routes, *cart.routes, *checkout.routes, *orders.routes, *accounts.routes,
         *wishlist.routes, *legal.routes, *theme.routes, *health.routes],
        exempt=CSRF_EXEMPT,
    )
    routes += admin.routes
    routes += [
        Mount("/static", app=static_files(STATIC_DIR), name="static"),
        Mount("/media", app=static_files(settings.media_dir), name="media"),
    ]
    middleware = [
        Middleware(SecurityHeadersMiddleware),
        Middleware(BodySizeLimitMiddleware, max_bytes=MAX_BODY_BYTES),
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
    app = Starlette(
        debug=False,
        routes=routes,
        middleware=middleware,
        exception_handlers={
            HTTPException: http_error,
            CsrfFailure: csrf_failure,
            TooMany: too_many,
            Exception: server_error,
        },
    )
    app.state.settings = settings
    app.state.limiter = limiter_for(settings.redis_url)
    install_url_helpers(app.router)
    return app


async def http_error(request: Request, exc: HTTPException):
    headers = dict(exc.headers or {})
    if is_htmx(request):
        # The target of the failed request may be a small part of the page.
        headers.update({"HX-Retarget": "#main", "HX-Reswap": "innerHTML"})
    context = {"status": exc.status_code}
    if not is_htmx(request):
        context["nav_categories"] = await run_db(navigation)
    template = "errors/404.html" if exc.status_code == 404 else "errors/error.html"
    return render(
        request, template, context,
        fragment="fragments/errors/message.html", status_code=exc.status_code, headers=headers,
    )


async def csrf_failure(request: Request, exc: CsrfFailure):
    form = await request.form() if exc.retryable else {}
    fields = [(k, v) for k, v in form.multi_items() if k != "csrf_token" and isinstance(v, str)] \
        if form else []
    return render(
        request, "errors/csrf.html",
        {"retryable": exc.retryable, "fields": fields, "action": request.url.path},
        status_code=403,
    )


async def too_many(request: Request, exc: TooMany):
    return render(request, "errors/error.html", {"status": 429, "retry_after": exc.retry_after},
                  status_code=429, headers={"Retry-After": str(exc.retry_after)})


async def server_error(request: Request, exc: Exception):
    log.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return render(request, "errors/500.html", status_code=500)


def __getattr__(name: str):
    # `uvicorn shop.app:app` builds the app from the environment on first access.
    if name == "app":
        global app
        app = create_app()
        return app
    raise AttributeError(name)
