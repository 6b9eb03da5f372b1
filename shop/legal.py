"""Pages the law asks a shop to show. Shipping costs and delivery times, for now."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from shop.web import render


async def shipping(request: Request):
    return render(request, "legal/shipping.html")


routes = [
    Route("/shipping", shipping, name="legal:shipping"),
]
