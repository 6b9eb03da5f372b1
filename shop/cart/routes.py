"""The cart page, adding to it and changing it: forms first, htmx on top."""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from shop.accounts.auth import current_user
from shop.db import run_db
from shop.i18n import _
from shop.security import safe_next
from shop.web import PRIVATE, flash, form_data, is_htmx, render, see_other

from . import service
from .forms import AddToCartForm, QuantityForm


async def _user_id(request: Request) -> int | None:
    user = await current_user(request)
    return user.id if user else None


async def cart_token(request: Request) -> str | None:
    """The cart of this visitor. An account's cart needs that account's live session:
    a cookie copied before sign-out does not reach it."""
    token = request.session.get("cart")
    if not token:
        return None
    owner = await run_db(service.owner_of, token)
    if owner is None:
        return token
    user = await current_user(request)
    if user and user.id == owner:
        return token
    request.session.pop("cart", None)
    request.session.pop("cart_count", None)
    return None


async def remember_count(request: Request) -> None:
    request.session["cart_count"] = await run_db(service.item_count, await cart_token(request))


async def show_cart(request: Request):
    cart = await run_db(service.view, await cart_token(request), request.app.state.settings.shipping)
    request.session["cart_count"] = cart.totals.item_count
    return render(request, "cart/cart.html", {"cart": cart}, fragment="fragments/cart/content.html",
                  headers=PRIVATE)


async def add_item(request: Request):
    data = await form_data(request)
    form = AddToCartForm(data)
    back = safe_next(data.get("next"), "/cart")
    error = None
    if not form.validate():
        error = next(iter(form.errors.values()))[0]
    else:
        try:
            cart = await run_db(service.add, await cart_token(request), form.product_id.data, form.quantity.data,
                                await _user_id(request))
            request.session["cart"] = cart.token
        except service.CartError as problem:
            error = str(problem)
    await remember_count(request)
    if is_htmx(request):
        return render(request, "fragments/cart/added.html", {"error": error},
                      status_code=422 if error else 200)
    if error:
        flash(request, error, "error")
        return see_other(back)
    flash(request, _("The product is in your cart."), "success")
    return see_other("/cart")


async def update_item(request: Request):
    form = QuantityForm(await form_data(request))
    error = None
    if not form.validate():
        error = next(iter(form.errors.values()))[0]
    else:
        try:
            await run_db(service.set_quantity, await cart_token(request),
                         request.path_params["product_id"], form.quantity.data)
        except service.CartError as problem:
            error = str(problem)
    if is_htmx(request):
        cart = await run_db(service.view, await cart_token(request), request.app.state.settings.shipping)
        request.session["cart_count"] = cart.totals.item_count
        return render(request, "cart/cart.html", {"cart": cart, "error": error},
                      fragment="fragments/cart/content.html", status_code=422 if error else 200,
                      headers=PRIVATE)
    await remember_count(request)
    if error:
        flash(request, error, "error")
    return see_other("/cart")


routes = [
    Route("/cart", show_cart, name="cart:show"),
    Route("/cart/items", add_item, methods=["POST"], name="cart:add_item"),
    Route("/cart/items/{product_id:id}", update_item, methods=["POST"], name="cart:update_item"),
]
