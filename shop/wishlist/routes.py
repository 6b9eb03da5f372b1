"""The wishlist page and the toggle on product cards and pages (a plain form; htmx swaps the button)."""
from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from shop.accounts.auth import current_user, require_user
from shop.cart import service as cart_service
from shop.db import run_db
from shop.i18n import _
from shop.security import safe_next
from shop.web import PRIVATE, flash, form_data, is_htmx, render, see_other, url_path

from . import service


async def show(request: Request):
    user, redirect = await require_user(request)
    if redirect:
        return redirect
    wished = await run_db(service.items, user.id)
    return render(request, "wishlist/wishlist.html", {"items": wished}, headers=PRIVATE)


async def toggle(request: Request):
    data = await form_data(request)
    back = safe_next(data.get("next"), url_path("wishlist:show"))
    user = await current_user(request)
    if user is None:
        flash(request, _("Please sign in to keep a wishlist."), "info")
        target = url_path("accounts:login", query={"next": back})
        return render(request, "fragments/wishlist/signin.html", {"target": target}) if is_htmx(request) \
            else see_other(target)
    product_id = request.path_params["product_id"]
    wished = data.get("wish") != "0"
    name = await run_db(service.set_wished, user.id, product_id, wished)
    if name is None:
        raise HTTPException(404, "No such product.")
    if is_htmx(request):
        # Focus goes to the new button, which says what it does now.
        return render(request, "fragments/wishlist/toggle.html",
                      {"product_id": product_id, "name": name, "wished": wished, "next": back, "focus": True})
    flash(request, _("Added to your wishlist.") if wished else _("Removed from your wishlist."), "success")
    return see_other(back)


async def to_cart(request: Request):
    user, redirect = await require_user(request)
    if redirect:
        return redirect
    product_id = request.path_params["product_id"]
    try:
        cart = await run_db(cart_service.add, request.session.get("cart"), product_id, 1, user.id)
    except cart_service.CartError as problem:
        flash(request, str(problem), "error")
        return see_other(url_path("wishlist:show"))
    await run_db(service.set_wished, user.id, product_id, False)  # moved: off the wishlist
    request.session["cart"] = cart.token
    request.session["cart_count"] = await run_db(cart_service.item_count, cart.token)
    flash(request, _("The product is in your cart."), "success")
    return see_other(url_path("wishlist:show"))


routes = [
    Route("/account/wishlist", show, name="wishlist:show"),
    Route("/account/wishlist/{product_id:id}", toggle, methods=["POST"], name="wishlist:toggle"),
    Route("/account/wishlist/{product_id:id}/to-cart", to_cart, methods=["POST"], name="wishlist:to_cart"),
]
