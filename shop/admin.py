"""The back office. Every route under /admin needs the admin role, checked once here
for the whole mount: guests are sent to sign in, customers get a 404."""
from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from shop.accounts.auth import current_user
from shop.db import run_db
from shop.orders.models import Order
from shop.orders.service import order_token
from shop.security import protect_routes
from shop.web import PRIVATE, render, see_other, url_path

LATEST_ORDERS = 50


class RequireAdmin:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            user = await current_user(request)
            if user is None:
                target = url_path("accounts:login", query={"next": request.url.path})
                await see_other(target)(scope, receive, send)
                return
            if not user.is_admin:
                raise HTTPException(404)
        await self.app(scope, receive, send)


def latest_orders() -> list[Order]:
    return list(Order.select().order_by(Order.placed_at.desc(), Order.id.desc()).limit(LATEST_ORDERS))


async def dashboard(request: Request):
    orders = await run_db(latest_orders)
    settings = request.app.state.settings
    return render(request, "admin/index.html", {
        "orders": orders, "order_token": lambda number: order_token(settings, number),
    }, headers=PRIVATE)


async def to_dashboard(request: Request):
    return see_other("/admin/")


routes = [
    Route("/admin", to_dashboard),
    Mount("/admin", routes=protect_routes([
        Route("/", dashboard, name="admin:dashboard"),
    ]), middleware=[Middleware(RequireAdmin)]),
]
