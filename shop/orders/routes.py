"""The order page: for whoever holds the signed link from the confirmation mail."""
from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from shop.catalog.queries import navigation
from shop.db import run_db
from shop.web import render

from . import service


async def show_order(request: Request):
    settings = request.app.state.settings
    page = await run_db(service.order_page, settings, request.path_params["number"],
                        request.query_params.get("token"))
    if page is None:
        raise HTTPException(404, "No such order.")
    return render(request, "orders/order.html", {"page": page, "nav_categories": await run_db(navigation)},
                  headers={"Referrer-Policy": "no-referrer", "Cache-Control": "private, no-store"})


routes = [
    Route("/orders/{number}", show_order, name="orders:show"),
]
