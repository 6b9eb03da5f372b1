"""The back office. Every route under /admin needs the admin role, checked once for
the whole area: guests are sent to sign in, customers get a 404."""
from __future__ import annotations

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Route

from shop.auth import AdminRequired
from shop.db import run_db
from shop.orders.models import Order
from shop.orders.service import order_token
from shop.web import Area, PrivatePages, render, see_other, url_path

LATEST_ORDERS = 50


def latest_orders() -> list[Order]:
    return list(Order.select().order_by(Order.placed_at.desc(), Order.id.desc()).limit(LATEST_ORDERS))


async def dashboard(request: Request):
    orders = await run_db(latest_orders)
    settings = request.app.state.settings
    return render(request, "admin/index.html", {
        "orders": orders, "order_token": lambda number: order_token(settings, number),
    })


async def to_dashboard(request: Request):
    return see_other(url_path(request, "admin:dashboard"))


routes = [
    Route("/admin", to_dashboard),
    Area("admin", [
        Route("/", dashboard, name="dashboard"),
    ], path="/admin", middleware=[Middleware(PrivatePages), Middleware(AdminRequired)]),
]
