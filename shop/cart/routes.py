"""The cart page, adding to it and changing it: forms first, htmx on top."""
from __future__ import annotations

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Route

from shop.auth import current_user
from shop.db import run_db
from shop.i18n import _
from shop.security import safe_next
from shop.web import Area, PrivatePages, flash, form_data, is_htmx, render, see_other, url_path

from . import service, session
from .forms import AddToCartForm, QuantityForm


async def show_cart(request: Request):
    cart = await run_db(service.view, await session.cart_token(request), request.app.state.settings.shipping)
    session.keep(request, count=cart.totals.item_count)
    return render(request, "cart/cart.html", {"cart": cart}, fragment="fragments/cart/content.html")


async def add_item(request: Request):
    data = await form_data(request)
    form = AddToCartForm(data)
    error = None
    if not form.validate():
        error = next(iter(form.errors.values()))[0]
    else:
        user = await current_user(request)
        try:
            cart = await run_db(service.add, await session.cart_token(request), form.product_id.data,
                                form.quantity.data, user and user.id, form.form_key.data or None)
            session.keep(request, cart.token)
        except service.CartError as problem:
            error = str(problem)
    await session.refresh_count(request)
    if is_htmx(request):
        return render(request, "cart/cart.html", {"error": error, "product_id": form.product_id.data},
                      fragment="fragments/cart/added.html", status_code=422 if error else 200)
    if error:
        flash(request, error, "error")
        return see_other(safe_next(data.get("next"), url_path(request, "cart:show")))
    flash(request, _("The product is in your cart."), "success")
    return see_other(url_path(request, "cart:show"))


async def update_item(request: Request):
    form = QuantityForm(await form_data(request))
    error = None
    if not form.validate():
        error = next(iter(form.errors.values()))[0]
    else:
        try:
            await run_db(service.set_quantity, await session.cart_token(request),
                         request.path_params["product_id"], form.quantity.data)
        except service.CartError as problem:
            error = str(problem)
    if is_htmx(request):
        return await _cart_content(request, error)
    await session.refresh_count(request)
    if error:
        flash(request, error, "error")
    return see_other(url_path(request, "cart:show"))


async def _cart_content(request: Request, error: str | None):
    cart = await run_db(service.view, await session.cart_token(request), request.app.state.settings.shipping)
    session.keep(request, count=cart.totals.item_count)
    return render(request, "cart/cart.html", {"cart": cart, "error": error},
                  fragment="fragments/cart/content.html", status_code=422 if error else 200)


routes = [
    Area("cart", [
        Route("/cart", show_cart, name="show"),
        Route("/cart/items", add_item, methods=["POST"], name="add_item"),
        Route("/cart/items/{product_id:id}", update_item, methods=["POST"], name="update_item"),
    ], middleware=[Middleware(PrivatePages)]),
]
