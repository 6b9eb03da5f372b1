"""The legal pages, linked from every page's footer."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from shop.catalog.queries import navigation
from shop.db import run_db
from shop.web import Area, render

from .texts import TITLES, VERSIONS


def _text_page(name: str):
    async def page(request: Request):
        return render(request, "legal/text.html", {
            "name": name, "title": TITLES[name], "versions": VERSIONS,
            "nav_categories": await run_db(navigation),
        })
    return page


async def shipping(request: Request):
    return render(request, "legal/shipping.html", {"nav_categories": await run_db(navigation)})


routes = [
    Area("legal", [
        *(Route(f"/{name}", _text_page(name), name=name) for name in TITLES),
        Route("/shipping", shipping, name="shipping"),
    ]),
]
