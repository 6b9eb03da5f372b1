"""Rendering: the Jinja environment and the one helper that picks page or fragment."""
from __future__ import annotations

import hashlib
from functools import cache, lru_cache
from pathlib import Path
from urllib.parse import urlencode

import jinja2
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from shop import i18n, pricing
from shop.config import ROOT
from shop.security import csrf_token

STATIC_DIR = ROOT / "static"
THEMES = ("auto", "light", "dark")
# For pages with a shopper's own data (cart, checkout, orders): no shared or stored copies.
PRIVATE = {"Cache-Control": "private, no-store"}

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
env.install_gettext_callables(
    lambda message: i18n.translations(i18n.get_locale()).gettext(message),
    lambda singular, plural, n: i18n.translations(i18n.get_locale()).ngettext(singular, plural, n),
    newstyle=True,
)
env.filters["money"] = i18n.format_money
env.filters["number"] = i18n.format_number
env.filters["date"] = i18n.format_date
env.filters["datetime"] = i18n.format_datetime
env.globals["csrf_token"] = csrf_token
env.globals["country_name"] = i18n.country_name
env.globals["delivery_name"] = pricing.delivery_name
env.globals["payment_name"] = pricing.payment_name


class IdConvertor(Convertor):
    """`{name:id}` in a route: a database id, at most nine digits (huge numbers are a 404,
    not an overflow deep in the database driver)."""

    regex = "[0-9]{1,9}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())


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
    html = env.get_template(fragment if as_fragment else template).render(
        {**page_context, "as_fragment": as_fragment, **(context or {})}
    )
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Vary"] = "HX-Request"
    return response


def base_context(request: Request) -> dict:
    return {
        "request": request,
        "settings": request.app.state.settings,
        "theme": theme_of(request),
        "lang": i18n.get_locale(),
        "cart_count": request.session.get("cart_count", 0),
        "account": request.session.get("account"),
        # What every add-to-cart form on the page needs; computed once per page.
        "cart_form": {"csrf": csrf_token(request), "next": here(request)},
    }


def here(request: Request) -> str:
    """This page's path and query, to come back to after a form."""
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def flash(request: Request, message: str, category: str = "info") -> None:
    """A message shown once, on the next page this visitor sees."""
    request.session.setdefault("flash", []).append({"text": str(message), "category": category})


def theme_of(request: Request) -> str:
    theme = request.cookies.get("theme", "auto")
    return theme if theme in THEMES else "auto"


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def install_url_helpers(router) -> None:
    """`url('area:name', **params)` and `static('css/shop.css')` for templates."""

    @lru_cache(maxsize=10_000)
    def path_for(name: str, params: tuple) -> str:
        return str(router.url_path_for(name, **dict(params)))

    def url(name: str, query: dict | None = None, **path_params) -> str:
        path = path_for(name, tuple(sorted(path_params.items())))
        query = {k: v for k, v in (query or {}).items() if v not in (None, "", False)}
        return f"{path}?{urlencode(query)}" if query else path

    env.globals.update(url=url, static=static_url, media=media_url)


def url_path(name: str, query: dict | None = None, **path_params) -> str:
    """The path (and query) of a named route, as templates build it with `url()`."""
    return env.globals["url"](name, query=query, **path_params)


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

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and "session" in scope:
            i18n.set_locale(scope["session"].get("lang", i18n.DEFAULT_LOCALE))
        await self.app(scope, receive, send)
