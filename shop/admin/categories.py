"""(being built)"""
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from shop.web import render


async def placeholder(request: Request):
    return render(request, "admin/index.html", {"orders": []})


routes: list[BaseRoute] = [Route("/categories", placeholder, name="categories")]
