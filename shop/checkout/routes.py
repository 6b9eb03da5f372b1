"""Checkout in three steps: address, delivery and payment, review and order.

The server owns the steps: each one checks that those before it are done and
otherwise sends the shopper to the first missing one. With htmx the steps swap in
place; without JavaScript each step is its own page (POST, then redirect).
"""
from __future__ import annotations

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shop.accounts import service as account_service
from shop.auth import current_user
from shop.cart import session as cart_session
from shop.cart.session import cart_token
from shop.db import run_db
from shop.i18n import _
from shop.orders import service as orders
from shop.payments import service as payments
from shop.payments.providers import BANK_TRANSFER
from shop.payments.registry import available
from shop.payments.routes import payment_page_headers, start_payment
from shop.web import Area, PrivatePages, flash, form_data, is_htmx, render, see_other, url_path

from . import service
from .forms import AddressForm, DeliveryForm, PlaceOrderForm

STEP_URLS = {"cart": "cart:show", "address": "checkout:address", "delivery": "checkout:delivery",
             "review": "checkout:review"}


async def _state(request: Request):
    return await run_db(service.state, await cart_token(request), request.app.state.settings.shipping)


def _step(request: Request, step: str, context: dict, status_code: int = 200, push: bool = False):
    headers = {}
    if push and is_htmx(request):
        headers["HX-Push-Url"] = url_path(request, STEP_URLS[step])
    return render(request, "checkout/step.html", {"step": step, **context},
                  fragment=f"fragments/checkout/{step}.html", status_code=status_code, headers=headers)


def _redirect(request: Request, step: str, empty: bool = True) -> Response:
    if step == "cart" and empty:
        flash(request, _("Your cart is empty."), "info")
    target = url_path(request, STEP_URLS[step])
    if is_htmx(request):
        return Response(headers={"HX-Location": target})
    return see_other(target)


def _guard(request: Request, view, checkout: dict, step: str, check_stock: bool = True):
    """A redirect to the first missing step before `step`, if there is one."""
    if check_stock and view.unavailable:
        flash(request, _("Some products in your cart are not available in that quantity any more. "
                         "Please check your cart."), "error")
        return _redirect(request, "cart", empty=False)
    settings = request.app.state.settings
    missing = service.missing_step(view, checkout, settings.shipping, available(settings.payments))
    if missing and service.STEPS.index(step) > _position(missing):
        return _redirect(request, missing)
    return None


def _position(step: str) -> int:
    return -1 if step == "cart" else service.STEPS.index(step)


async def address(request: Request):
    view, checkout = await _state(request)
    if redirect := _guard(request, view, checkout, "address"):
        return redirect
    user = await current_user(request)
    if request.method == "GET":
        if not checkout.get("billing") and user:
            checkout = {**await run_db(service.checkout_prefill, user), **checkout}
        form = AddressForm(data={
            "email": checkout.get("email"), "billing": checkout.get("billing") or {},
            "separate_delivery": bool(checkout.get("shipping")),
            "delivery": checkout.get("shipping") or {},
        })
        return _step(request, "address", {"form": form, "cart": view, "user": user})
    form = AddressForm(await form_data(request))
    if not form.validate():
        return _step(request, "address", {"form": form, "cart": view, "user": user}, status_code=422)
    billing = _address(form.billing.data)
    shipping = _address(form.delivery.data) if form.separate_delivery.data else None
    await run_db(service.save, await cart_token(request), email=form.email.data, billing=billing, shipping=shipping)
    notice = None
    if user and form.save_addresses.data:
        if await run_db(account_service.keep_addresses, user, [a for a in (billing, shipping) if a]):
            notice = _("The addresses are saved in your account.")
    return await _next(request, "delivery", notice)


async def delivery(request: Request):
    view, checkout = await _state(request)
    if redirect := _guard(request, view, checkout, "delivery"):
        return redirect
    if request.method == "GET":
        return _step(request, "delivery", _delivery_context(request, view, checkout))
    form = _delivery_form(request, view, checkout, await form_data(request))
    if not form.validate():
        return _step(request, "delivery", _delivery_context(request, view, checkout, form), status_code=422)
    await run_db(service.save, await cart_token(request), delivery=form.delivery.data, payment=form.payment.data)
    return await _next(request, "review")


def _delivery_form(request: Request, view, checkout: dict, formdata=None) -> DeliveryForm:
    settings = request.app.state.settings
    costs = service.delivery_costs(view, settings.shipping)
    methods = available(settings.payments)
    chosen, paying = checkout.get("delivery"), checkout.get("payment")
    return DeliveryForm(formdata, costs=costs, payment_methods=methods, data={
        "delivery": chosen if chosen in costs else "standard",
        "payment": paying if paying in methods else BANK_TRANSFER})


def _delivery_context(request: Request, view, checkout: dict, form=None) -> dict:
    return {"form": form or _delivery_form(request, view, checkout), "cart": view, "checkout": checkout}


async def review(request: Request):
    view, checkout = await _state(request)
    if redirect := _guard(request, view, checkout, "review"):
        return redirect
    return await _review(request, view, checkout)


async def _review(request: Request, view, checkout, form=None, error: str = "", status_code=200,
                  push: bool = False):
    token = await run_db(service.order_token, await cart_token(request))
    form = form or PlaceOrderForm()
    response = _step(request, "review", {"form": form, "cart": view, "checkout": checkout,
                                         "order_token": token, "error": error},
                     status_code=status_code, push=push)
    # The order button leads on to the provider's payment page.
    response.headers.update(payment_page_headers(request.app.state.settings))
    return response


async def place_order(request: Request):
    form = PlaceOrderForm(await form_data(request))
    view, checkout = await _state(request)
    if not form.validate():
        # A replayed button press after the order was made: show that order.
        existing = await run_db(orders.order_by_key, form.token.data or "")
        if existing:
            return _to_order(request, existing)
        if redirect := _guard(request, view, checkout, "review", check_stock=False):
            return redirect
        return await _review(request, view, checkout, form, status_code=422)
    existing = await run_db(orders.order_by_key, form.token.data)
    if existing:
        return _to_order(request, existing)
    # Stock is checked by place_order itself, which names the line that ran out.
    if redirect := _guard(request, view, checkout, "review", check_stock=False):
        return redirect
    try:
        settings = request.app.state.settings
        order = await run_db(orders.place_order, settings, await cart_token(request), form.token.data,
                             form.fingerprint.data, lambda placed: payments.first_attempt(settings, placed))
    except orders.OrderProblem as problem:
        view, checkout = await _state(request)
        return await _review(request, view, checkout, error=str(problem), status_code=409)
    cart_session.emptied(request)
    flash(request, _("Thank you for your order!"), "success")
    if order.payment_method != BANK_TRANSFER:
        return await start_payment(request, order)
    return _to_order(request, order)


def _to_order(request: Request, order) -> Response:
    settings = request.app.state.settings
    target = url_path(request, "orders:show", number=order.number,
                      query={"token": orders.order_token(settings, order.number)})
    if is_htmx(request):
        return Response(headers={"HX-Redirect": target})
    return see_other(target)


async def _next(request: Request, step: str, notice: str | None = None) -> Response:
    """On to `step`: a redirect, or with htmx the step itself (which shows `notice`, as the
    next page shows a flash message)."""
    if not is_htmx(request):
        if notice:
            flash(request, notice, "success")
        return see_other(url_path(request, STEP_URLS[step]))
    view, checkout = await _state(request)
    if step == "delivery":
        return _step(request, "delivery", {**_delivery_context(request, view, checkout), "notice": notice},
                     push=True)
    return await _review(request, view, checkout, push=True)


def _address(data: dict) -> dict:
    return {key: (value or "").strip() for key, value in data.items() if key != "csrf_token"}


routes = [
    Area("checkout", [
        Route("/checkout/address", address, methods=["GET", "POST"], name="address"),
        Route("/checkout/delivery", delivery, methods=["GET", "POST"], name="delivery"),
        Route("/checkout/review", review, name="review"),
        Route("/checkout/place-order", place_order, methods=["POST"], name="place_order"),
    ], middleware=[Middleware(PrivatePages)]),
]
