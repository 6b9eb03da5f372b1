"""Pages the law asks a shop to show. Shipping costs and delivery times, for now."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from shop.catalog.queries import navigation
from shop.db import run_db
from shop.web import render


async def shipping(request: Request):
    return render(request, "legal/shipping.html", {"nav_categories": await run_db(navigation)})


routes = [
    Route("/shipping", shipping, name="legal:shipping"),
]
