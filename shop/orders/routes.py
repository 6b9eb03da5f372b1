"""The order page (for its owner, or whoever holds the signed link from the mail), a
fresh link for an expired one, an account from a guest order, the account's order
history and "order again"."""
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
from shop.ratelimit import Limit
from shop.web import Area, PrivatePages, flash, form_data, render, see_other, url_path

from . import service

MAILS_PER_ORDER = Limit("order-mail", 3, 3600)  # fresh links and account links, together
# The address holds the order's secret link: never send it to another site.
NO_REFERRER = {"Referrer-Policy": "same-origin"}


async def show_order(request: Request):
    settings = request.app.state.settings
    user = await current_user(request)
    number, token = request.path_params["number"], request.query_params.get("token")
    state, page = await run_db(service.order_page, settings, number, token, user and user.id)
    if state == service.EXPIRED:
        return render(request, "orders/link_expired.html", {"number": number, "token": token},
                      status_code=403, headers=NO_REFERRER)
    if page is None:
        raise HTTPException(404, "No such order.")
    # How to pay (again) is the payments area's part of the page.
    payment, headers = await request.app.state.payment_part(request, page.order)
    return render(request, "orders/order.html", {"page": page, "user": user, **payment,
                                                 "nav_categories": await run_db(navigation)},
                  headers={**NO_REFERRER, **headers})


async def send_link(request: Request):
    """A fresh link, mailed to the order's address, for the holder of an expired one."""
    number, token = request.path_params["number"], (await form_data(request)).get("token")
    state, order = await run_db(service.order_for_link, request.app.state.settings, number, token)
    if order is None:
        raise HTTPException(404, "No such order.")
    request.app.state.limiter.hit(MAILS_PER_ORDER, number)
    await run_db(service.mail_fresh_link, request.app.state.settings, order)
    return render(request, "orders/check_inbox.html", {"fresh_link": True}, headers=NO_REFERRER)


async def create_account(request: Request):
    """From a guest order's page: mail a link that proves the address and leads to the
    page where the password is chosen."""
    settings = request.app.state.settings
    number, token = request.path_params["number"], (await form_data(request)).get("token")
    order = await run_db(service.order_for_token, settings, number, token)
    if order is None or order.user_id is not None:
        raise HTTPException(404, "No such order.")
    request.app.state.limiter.hit(MAILS_PER_ORDER, number)
    await run_db(service.mail_account_link, settings, order)
    return render(request, "orders/check_inbox.html", {"email": order.email}, headers=NO_REFERRER)


async def confirm_account(request: Request):
    """The mailed link: choose a password, and the account holds the address's guest orders."""
    number, token = request.path_params["number"], request.query_params.get("token", "")
    order = await run_db(service.order_for_account_link, request.app.state.settings, number, token)
    if order is None:
        return render(request, "accounts/link_invalid.html", {}, status_code=400, headers=NO_REFERRER)
    form = ResetForm(await form_data(request)) if request.method == "POST" else ResetForm()
    if request.method == "GET" or not form.validate():
        return render(request, "orders/account_form.html", {"form": form, "order": order, "token": token},
                      status_code=422 if form.errors else 200, headers=NO_REFERRER)
    user = await run_db(service.account_from_order, order, form.password.data)
    if user is None:
        flash(request, _("There already is an account for %(email)s. Please sign in to see your orders.",
                         email=order.email), "info")
        return see_other(url_path(request, "accounts:login", query={"next": url_path(request, "orders:history")}))
    await sign_in(request, user)
    flash(request, _("Your account is ready, with your orders in it."), "success")
    return see_other(url_path(request, "orders:history"))


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


routes = [
    Area("orders", [
        Route("/orders/{number}", show_order, name="show"),
        Route("/orders/{number}/link", send_link, methods=["POST"], name="send_link"),
        Route("/orders/{number}/account", create_account, methods=["POST"], name="create_account"),
        Route("/orders/{number}/account/confirm", confirm_account, methods=["GET", "POST"], name="confirm_account"),
        Area(None, [
            Route("/account/orders", history, name="history"),
            Route("/account/orders/{number}/again", order_again, methods=["POST"], name="order_again"),
        ], middleware=[Middleware(SignInRequired)]),
    ], middleware=[Middleware(PrivatePages)]),
]
