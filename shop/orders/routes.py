"""The order page (for its owner, or whoever holds the signed link from the mail),
the account's order history and "order again"."""
from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Route

from shop.accounts.forms import ResetForm
from shop.accounts.signin import sign_in
from shop.auth import SignInRequired, current_user, signed_in_user
from shop.cart import service as cart_service
from shop.cart import session as cart_session
from shop.catalog.queries import navigation
from shop.db import run_db
from shop.i18n import _
from shop.web import Area, PrivatePages, flash, form_data, render, see_other, url_path

from . import service


async def show_order(request: Request):
    settings = request.app.state.settings
    user = await current_user(request)
    page = await run_db(service.order_page, settings, request.path_params["number"],
                        request.query_params.get("token"), user and user.id)
    if page is None:
        raise HTTPException(404, "No such order.")
    return render(request, "orders/order.html", {"page": page, "user": user,
                                                 "nav_categories": await run_db(navigation)},
                  # The address holds the order's secret link: never send it on.
                  headers={"Referrer-Policy": "no-referrer"})


async def history(request: Request):
    user = await signed_in_user(request)
    orders = await run_db(service.order_history, user.id)
    return render(request, "orders/history.html", {"orders": orders})


async def order_again(request: Request):
    """Put an own order's products back into the cart, as many as are in stock."""
    user = await signed_in_user(request)
    lines = await run_db(service.lines_to_reorder, request.path_params["number"], user.id)
    if lines is None:
        raise HTTPException(404, "No such order.")
    cart, notes = await run_db(cart_service.add_lines, await cart_session.cart_token(request), user.id, lines)
    if cart:
        cart_session.keep(request, cart.token, await run_db(cart_service.item_count, cart.token))
    for note in notes:
        flash(request, note, "error")
    if cart and len(notes) < len(lines):
        flash(request, _("The products of your order are in your cart."), "success")
    return see_other(url_path(request, "cart:show"))


async def create_account(request: Request):
    """From a guest order's page: an account for its address, with this order in it."""
    settings = request.app.state.settings
    data = await form_data(request)
    number, token = request.path_params["number"], data.get("token")
    order = await run_db(service.order_for_token, settings, number, token if isinstance(token, str) else None)
    if order is None or order.user_id is not None:
        raise HTTPException(404, "No such order.")
    back = url_path(request, "orders:show", number=number, query={"token": token})
    form = ResetForm(data)
    if not form.validate():
        flash(request, " ".join(str(e) for e in form.password.errors), "error")
        return see_other(back)
    user = await run_db(service.account_from_order, settings, order, form.password.data)
    if user is None:
        flash(request, _("There already is an account for %(email)s. Please sign in to see your orders.",
                         email=order.email), "info")
        return see_other(url_path(request, "accounts:login", query={"next": url_path(request, "orders:history")}))
    await sign_in(request, user)
    flash(request, _("Your account is ready. Please confirm your email address with the link we sent you."),
          "success")
    return see_other(url_path(request, "orders:history"))


routes = [
    Area("orders", [
        Route("/orders/{number}", show_order, name="show"),
        Route("/orders/{number}/account", create_account, methods=["POST"], name="create_account"),
        Area(None, [
            Route("/account/orders", history, name="history"),
            Route("/account/orders/{number}/again", order_again, methods=["POST"], name="order_again"),
        ], middleware=[Middleware(SignInRequired)]),
    ], middleware=[Middleware(PrivatePages)]),
]
