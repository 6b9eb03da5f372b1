"""The back office's routes: every area's under /admin, behind one guard (guests are sent
to sign in, customers get a 404) and private, uncached pages."""
from __future__ import annotations

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Route

from shop.auth import AdminRequired
from shop.web import Area, PrivatePages, see_other, url_path

from . import audit, categories, customers, dashboard, images, imports, order, orders, product_form, products, reauth, stock
from . import bank_statements, payment_issues


async def to_dashboard(request: Request):
    return see_other(url_path(request, "admin:dashboard"))


routes = [
    Route("/admin", to_dashboard),
    Area("admin", [
        *dashboard.routes, *products.routes, *product_form.routes, *images.routes,
        *categories.routes, *stock.routes, *imports.routes, *customers.routes, *reauth.routes,
        *orders.routes, *order.routes,
        *bank_statements.routes, *payment_issues.routes,
        *audit.routes,
    ], path="/admin", middleware=[Middleware(PrivatePages), Middleware(AdminRequired)]),
]
