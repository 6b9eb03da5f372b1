"""The wishlist page and the toggle on product cards and pages (a plain form; htmx swaps the button)."""
from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Route

from shop.auth import SignInRequired, current_user, signed_in_user
from shop.cart import service as cart_service
from shop.cart import session as cart_session
from shop.db import run_db
from shop.i18n import _
from shop.security import safe_next
from shop.web import Area, PrivatePages, flash, form_data, is_htmx, render, see_other, url_path

from . import service


async def wished_ids(request: Request, products) -> set[int]:
    """Which of these products the signed-in shopper keeps on the wishlist: the hearts
    on catalogue pages (handed to the catalogue as `app.state.wished_ids`)."""
    user = await current_user(request)
    if user is None:
        return set()
    return await run_db(service.wished_ids, user.id, [p.id for p in products])


async def show(request: Request):
    user = await signed_in_user(request)
    wished = await run_db(service.items, user.id)
    return render(request, "wishlist/wishlist.html", {"items": wished})


async def toggle(request: Request):
    data = await form_data(request)
    back = safe_next(data.get("next"), url_path(request, "wishlist:show"))
    user = await current_user(request)
    if user is None:
        flash(request, _("Please sign in to keep a wishlist."), "info")
        target = url_path(request, "accounts:login", query={"next": back})
        if is_htmx(request):
            return render(request, "wishlist/wishlist.html", {"target": target},
                          fragment="fragments/wishlist/signin.html")
        return see_other(target)
    product_id = request.path_params["product_id"]
    wished = data.get("wish") != "0"
    name = await run_db(service.set_wished, user.id, product_id, wished)
    if name is None:
        raise HTTPException(404, "No such product.")
    if is_htmx(request):
        # Focus goes to the new button, which says what it does now.
        return render(request, "wishlist/wishlist.html",
                      {"product_id": product_id, "name": name, "wished": wished, "next": back, "focus": True},
                      fragment="fragments/wishlist/toggle.html")
    flash(request, _("Added to your wishlist.") if wished else _("Removed from your wishlist."), "success")
    return see_other(back)


async def to_cart(request: Request):
    user = await signed_in_user(request)
    product_id = request.path_params["product_id"]
    try:
        cart = await run_db(cart_service.add, await cart_session.cart_token(request), product_id, 1, user.id)
    except cart_service.CartError as problem:
        flash(request, str(problem), "error")
        return see_other(url_path(request, "wishlist:show"))
    await run_db(service.set_wished, user.id, product_id, False)  # moved: off the wishlist
    cart_session.keep(request, cart.token, await run_db(cart_service.item_count, cart.token))
    flash(request, _("The product is in your cart."), "success")
    return see_other(url_path(request, "wishlist:show"))


routes = [
    Area("wishlist", [
        Route("/account/wishlist/{product_id:id}", toggle, methods=["POST"], name="toggle"),
        Area(None, [
            Route("/account/wishlist", show, name="show"),
            Route("/account/wishlist/{product_id:id}/to-cart", to_cart, methods=["POST"], name="to_cart"),
        ], middleware=[Middleware(SignInRequired)]),
    ], middleware=[Middleware(PrivatePages)]),
]
