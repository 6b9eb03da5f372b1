"""The back office's first page: the latest orders."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from shop.db import run_db
from shop.orders.models import Order
from shop.orders.service import order_token
from shop.web import render

LATEST_ORDERS = 50


def latest_orders() -> list[Order]:
    return list(Order.select().order_by(Order.placed_at.desc(), Order.id.desc()).limit(LATEST_ORDERS))


async def dashboard(request: Request):
    orders = await run_db(latest_orders)
    settings = request.app.state.settings
    return render(request, "admin/index.html", {
        "orders": orders, "order_token": lambda number: order_token(settings, number),
    })


routes = [
    Route("/", dashboard, name="dashboard"),
]
