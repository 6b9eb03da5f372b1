"""The order page: for whoever holds the signed link from the confirmation mail."""
from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from shop.catalog.queries import navigation
from shop.db import run_db
from shop.web import PRIVATE, render

from . import service


async def show_order(request: Request):
    settings = request.app.state.settings
    page = await run_db(service.order_page, settings, request.path_params["number"],
                        request.query_params.get("token"))
    if page is None:
        raise HTTPException(404, "No such order.")
    return render(request, "orders/order.html", {"page": page, "nav_categories": await run_db(navigation)},
                  # The address holds the order's secret link: never send it on.
                  headers={"Referrer-Policy": "no-referrer", **PRIVATE})


routes = [
    Route("/orders/{number}", show_order, name="orders:show"),
]
