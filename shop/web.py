"""Rendering and routing helpers: the template environment, the one helper that picks
page or fragment, and `Area`, the mount that holds one business area's routes."""
from __future__ import annotations

import hashlib
import secrets
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlencode

import jinja2
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import FormData, MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import BaseRoute, Match, Mount, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shop import auth, i18n
from shop.config import ROOT
from shop.security import csrf_token, protect_routes

STATIC_DIR = ROOT / "static"
THEMES = ("auto", "light", "dark")


def make_templates(router: Router) -> jinja2.Environment:
    """The Jinja environment of one app: pages, fragments and mail, with the helpers
    every template may use. Areas add their own helpers in `create_app`."""
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([
            jinja2.FileSystemLoader(ROOT / "templates"),
            jinja2.PrefixLoader({"fragments": jinja2.FileSystemLoader(ROOT / "fragments")}),
        ]),
        # Mail bodies (.txt) are plain text; everything else is escaped.
        autoescape=jinja2.select_autoescape(disabled_extensions=("txt",), default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.translations(i18n.get_locale()).gettext(message),
        lambda singular, plural, n: i18n.translations(i18n.get_locale()).ngettext(singular, plural, n),
        newstyle=True,
    )
    env.filters.update(money=i18n.format_money, number=i18n.format_number, date=i18n.format_date,
                       datetime=i18n.format_datetime, datetime_short=i18n.format_datetime_short)
    env.globals.update(csrf_token=csrf_token, country_name=i18n.country_name,
                       url=_url_builder(router), static=static_url, media=media_url,
                       page_numbers=page_numbers)
    return env


def _url_builder(router: Router):
    @lru_cache(maxsize=10_000)
    def path_for(name: str, params: tuple) -> str:
        return str(router.url_path_for(name, **dict(params)))

    def url(name: str, query: dict | None = None, **path_params) -> str:
        """The path of a named route (`area:name`), with a query string if given."""
        path = path_for(name, tuple(sorted(path_params.items())))
        query = {k: v for k, v in (query or {}).items() if v not in (None, "", False)}
        return f"{path}?{urlencode(query)}" if query else path

    return url


def url_path(request: Request, name: str, query: dict | None = None, **path_params) -> str:
    """The path (and query) of a named route, as templates build it with `url()`."""
    return request.app.state.templates.globals["url"](name, query=query, **path_params)


class IdConvertor(Convertor):
    """`{name:id}` in a route: a database id, at most nine digits (huge numbers are a 404,
    not an overflow deep in the database driver)."""

    regex = "[0-9]{1,9}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())


class Area(Mount):
    """One business area's routes under its name, behind its own middleware, with every
    unsafe route CSRF-checked.

    Areas share the root path (`/account/orders` belongs to orders, `/account/login` to
    accounts), so unlike a plain Mount an area only claims a request that one of its
    routes matches; any other path falls through to the next area.
    """

    def __init__(self, name: str | None, routes: Sequence[BaseRoute], *, path: str = "",
                 middleware: Sequence[Middleware] = (), csrf_exempt: frozenset[str] = frozenset()):
        super().__init__(path, routes=protect_routes(list(routes), exempt=csrf_exempt), name=name,
                         middleware=list(middleware))

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is Match.NONE:
            return match, child_scope
        inner = {**scope, **child_scope}
        best = Match.NONE
        for route in self.routes:
            found, _ = route.matches(inner)
            if found is Match.FULL:
                return Match.FULL, child_scope
            if found is Match.PARTIAL:
                best = Match.PARTIAL  # the path is ours, the method is not: a 405
        return best, child_scope


class PrivatePages:
    """For pages with a shopper's own data (cart, checkout, orders, account): no shared
    or stored copies anywhere on the way."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Cache-Control"] = "private, no-store"
            await send(message)

        await self.app(scope, receive, send_private)


async def form_data(request: Request) -> FormData:
    """The submitted form's text fields; an uploaded file where text belongs is dropped."""
    form = await request.form()
    return FormData([(key, value) for key, value in form.multi_items() if isinstance(value, str)])


def is_htmx(request: Request) -> bool:
    """An htmx request that wants a fragment (not a boosted link or a history restore)."""
    headers = request.headers
    return (
        headers.get("hx-request") == "true"
        and headers.get("hx-boosted") != "true"
        and headers.get("hx-history-restore-request") != "true"
    )


def render(
    request: Request,
    template: str,
    context: dict | None = None,
    *,
    fragment: str | None = None,
    status_code: int = 200,
    headers: dict | None = None,
) -> HTMLResponse:
    """The full page, or only `fragment` when htmx asked for it."""
    as_fragment = bool(fragment) and is_htmx(request)
    page_context = base_context(request)
    if not as_fragment:
        page_context["messages"] = request.session.pop("flash", [])
    templates = request.app.state.templates
    html = templates.get_template(fragment if as_fragment else template).render(
        {**page_context, "as_fragment": as_fragment, **(context or {})}
    )
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Vary"] = "HX-Request"
    return response


def base_context(request: Request) -> dict[str, Any]:
    return {
        "request": request,
        "settings": request.app.state.settings,
        "theme": theme_of(request),
        "lang": i18n.get_locale(),
        "account": auth.account_summary(request),
        "cart_form": CartFormValues(request),
    }


class CartFormValues(dict):
    """What every add-to-cart form on a page needs: the token, the way back and a key
    that makes each form on this page one of a kind (a resent form adds once). Made
    once per page when a form first asks; most back-office pages have none."""

    def __init__(self, request: Request):
        super().__init__()
        self._request = request

    def __missing__(self, name: str) -> str:
        make = {"csrf": csrf_token, "next": here, "key": lambda _request: form_key()}[name]
        value = self[name] = make(self._request)
        return value


def form_key() -> str:
    """A fresh one-time key for a rendered form."""
    return secrets.token_urlsafe(16)


def here(request: Request) -> str:
    """This page's path and query, to come back to after a form."""
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def flash(request: Request, message: str, category: str = "info", place: str = "") -> None:
    """A message shown once, on the next page this visitor sees: at its top, or in the
    part of the page that `place` names (which shows the messages with its name)."""
    request.session.setdefault("flash", []).append({"text": str(message), "category": category, "place": place})


def theme_of(request: Request) -> str:
    theme = request.cookies.get("theme", "auto")
    return theme if theme in THEMES else "auto"


def page_numbers(page: int, pages: int, around: int = 2) -> list[int | None]:
    """Page links to show: first, last and a window around the current; None is a gap."""
    shown = {1, pages, *range(page - around, page + around + 1)}
    numbers: list[int | None] = []
    for n in sorted(p for p in shown if 1 <= p <= pages):
        if numbers and n - numbers[-1] > 1:
            numbers.append(None)
        numbers.append(n)
    return numbers


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@cache
def static_url(path: str) -> str:
    """A cache-busting URL: the file's content hash in the query string."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    return f"/static/{path}?v={digest}"


def media_url(path: str) -> str:
    return f"/media/{path}" if path else ""


class CachedStaticFiles(StaticFiles):
    """Static files; versioned URLs (`?v=`) may be cached for a year."""

    def file_response(self, full_path, stat_result, scope: Scope, status_code: int = 200):
        response = super().file_response(full_path, stat_result, scope, status_code)
        versioned = b"v=" in scope.get("query_string", b"")
        response.headers["Cache-Control"] = (
            "public, max-age=31536000, immutable" if versioned else "public, max-age=3600"
        )
        return response


def static_files(directory: Path) -> CachedStaticFiles:
    directory.mkdir(parents=True, exist_ok=True)
    return CachedStaticFiles(directory=directory)


class LocaleMiddleware:
    """The language of this request: the visitor's choice kept in the session, else German."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "session" in scope:
            i18n.set_locale(scope["session"].get("lang", i18n.DEFAULT_LOCALE))
        await self.app(scope, receive, send)
