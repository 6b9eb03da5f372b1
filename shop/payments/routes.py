"""The providers' webhooks, and the order page's payment part: paying (again) at the
provider's page, switching to bank transfer, and the status the page asks for while a
payment is being confirmed."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from shop.auth import current_user
from shop.db import run_db, with_connection
from shop.i18n import _
from shop.orders import service as orders
from shop.orders.models import AWAITING_PAYMENT, UNPAID, Order
from shop.security import CONTENT_SECURITY_POLICY
from shop.web import Area, PrivatePages, flash, form_data, is_htmx, render, see_other, url_path

from . import service
from .models import EXPIRED, FAILED, OPEN, PROCESSING
from .paypal import PayPal
from .providers import BANK_TRANSFER, PAYPAL, BadEvent, ProviderError
from .registry import available, hosted_origins

log = logging.getLogger("shop.payments")
MAX_EVENT_BYTES = 256 * 1024


# -- webhooks -------------------------------------------------------------------------------

async def webhook(request: Request) -> Response:
    """A provider's event: 400 unless it is genuine, 200 once applied (or applied before,
    or of no concern), 5xx when applying failed, so that the provider sends it again."""
    settings = request.app.state.settings
    provider = available(settings.payments).get(request.path_params["provider"])
    if provider is None or not provider.page_origin:
        raise HTTPException(404)
    body = await request.body()
    if len(body) > MAX_EVENT_BYTES:
        return PlainTextResponse("Too large", status_code=413)
    try:
        # PayPal's is checked by asking PayPal: in a thread, as the provider's other calls.
        event = await anyio.to_thread.run_sync(provider.verify, body, request.headers)
    except BadEvent as problem:
        log.warning("Refused a %s webhook request: %s", provider.name, problem)
        return PlainTextResponse("Invalid event", status_code=400)
    except ProviderError as problem:
        log.warning("Could not check a %s webhook request, it comes again: %s", provider.name, problem)
        return PlainTextResponse("Try again", status_code=503)
    try:
        # The provider is asked about the payment (outside any transaction), then it is applied.
        applied = await anyio.to_thread.run_sync(with_connection, provider.handle, settings, event)
    except ProviderError as problem:
        log.warning("%s event %s not applied, the provider will send it again: %s",
                    provider.name, event.get("id"), problem)
        return PlainTextResponse("Try again", status_code=503)
    return PlainTextResponse("Applied" if applied else "Already applied")


async def paypal_return(request: Request) -> Response:
    """The shopper back from PayPal's page (`token`: PayPal's order id, nothing else is
    believed): the payment is captured, then on to the order page."""
    settings = request.app.state.settings
    paypal = available(settings.payments).get(PAYPAL)
    if not isinstance(paypal, PayPal):
        raise HTTPException(404)
    target = await anyio.to_thread.run_sync(
        with_connection, paypal.came_back, settings, request.query_params.get("token", ""),
        request.query_params.get("payment") == "cancelled")
    if target is None:
        raise HTTPException(404, "No such payment.")
    return see_other(target)


# -- the order page's payment part -------------------------------------------------------------

CONFIRMING, CANCELLED_AT_PROVIDER, FAILED_AT_PROVIDER = "confirming", "cancelled", "failed"


@dataclass(frozen=True)
class PaymentPanel:
    """What the order page shows about paying: `state` is CONFIRMING (back from the
    provider, waiting for its event), CANCELLED/FAILED (offer to pay again or by
    transfer), "pay" (a provider's order not yet paid), or "" (nothing to do)."""

    state: str
    provider: str
    payable: bool  # the order may still be paid through its provider
    processing: bool  # a direct debit under way


def panel_for(settings, order: Order, returned: str) -> PaymentPanel:
    if order.status != AWAITING_PAYMENT or order.payment_status != UNPAID \
            or order.payment_method == BANK_TRANSFER:
        return PaymentPanel("", order.payment_method, False, False)
    attempt = service.latest_attempt(order.id)
    payable = order.payment_method in available(settings.payments)
    processing = attempt is not None and attempt.state == PROCESSING
    if returned == "returned" and attempt is not None and attempt.state == OPEN:
        state = CONFIRMING
    elif attempt is not None and attempt.state in (FAILED, EXPIRED):
        state = FAILED_AT_PROVIDER
    elif returned == "cancelled":
        state = CANCELLED_AT_PROVIDER
    else:
        state = "pay"
    return PaymentPanel(state, order.payment_method, payable, processing)


async def payment_part(request: Request, order: Order) -> tuple[dict, dict]:
    """The order page's payment context and the headers its forms need (the order page
    calls this through `app.state.payment_part`)."""
    settings = request.app.state.settings
    panel = await run_db(panel_for, settings, order, request.query_params.get("payment", ""))
    return {"payment_panel": panel}, payment_page_headers(settings)


def payment_page_headers(settings) -> dict:
    """A page whose form leads on to a provider's payment page: the browser must allow
    the form to go there (form-action), and nowhere else."""
    origins = hosted_origins(settings.payments)
    if not origins:
        return {}
    return {"Content-Security-Policy": CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", "form-action 'self' " + " ".join(origins))}


async def _order(request: Request, token: str | None) -> Order:
    settings = request.app.state.settings
    user = await current_user(request)
    state, order = await run_db(orders.order_for_visitor, settings, request.path_params["number"], token,
                                user and user.id)
    if state != orders.VALID or order is None:
        raise HTTPException(404, "No such order.")
    return order


async def status(request: Request) -> Response:
    """The payment part, asked for every few seconds while a payment is confirmed; once
    the order has moved on, the whole page is loaded again."""
    token = request.query_params.get("token")
    order = await _order(request, token)
    panel = await run_db(panel_for, request.app.state.settings, order, "returned")
    if panel.state != CONFIRMING:
        return Response(headers={"HX-Refresh": "true"}) if is_htmx(request) else see_other(
            _order_url(request, order, token))
    return render(request, "fragments/payments/panel.html",
                  {"o": order, "payment_panel": panel, "order_token": token or ""})


async def pay(request: Request) -> Response:
    """Pay (again) at the order's provider: a new attempt, the old ones closed."""
    token = str((await form_data(request)).get("token", ""))
    order = await _order(request, token)
    return await start_payment(request, order)


async def start_payment(request: Request, order: Order) -> Response:
    """Send the shopper to the provider's page for `order` (the checkout's order button
    lands here too); if the provider cannot be reached, back to the order page, which
    offers to try again."""
    settings = request.app.state.settings
    provider = available(settings.payments).get(order.payment_method)
    token = orders.order_token(settings, order.number)
    if provider is None or not provider.page_origin:
        raise HTTPException(409, "This order is not paid through a provider.")
    return_url = settings.base_url + _order_url(request, order, token)
    try:
        started = await anyio.to_thread.run_sync(
            with_connection, service.start, settings, provider, order.id, return_url)
    except service.NotPayable:
        flash(request, _("This order cannot be paid any more."), "info")
        return _go(request, _order_url(request, order, token))
    except ProviderError as problem:
        flash(request, str(problem), "error")
        return _go(request, _order_url(request, order, token))
    return _go(request, started.url)


async def pay_by_transfer(request: Request) -> Response:
    token = str((await form_data(request)).get("token", ""))
    order = await _order(request, token)
    settings = request.app.state.settings
    try:
        abandoned = await run_db(service.switch_to_transfer, order)
    except service.NotPayable:
        flash(request, _("This order cannot be paid any more."), "info")
    else:
        for attempt in abandoned:
            provider = available(settings.payments).get(attempt.provider)
            if provider is not None:
                await anyio.to_thread.run_sync(with_connection, provider.abandon, attempt)
        flash(request, _("Please pay by bank transfer: the bank details are below."), "success")
    return _go(request, _order_url(request, order, token))


def _order_url(request: Request, order: Order, token: str | None) -> str:
    return url_path(request, "orders:show", number=order.number, query={"token": token})


def _go(request: Request, target: str) -> Response:
    if is_htmx(request):
        return Response(headers={"HX-Redirect": target})
    return see_other(target)


routes = [
    Area("payments", [
        Route("/payments/{provider}/webhook", webhook, methods=["POST"], name="webhook"),
        Area(None, [
            Route("/orders/{number}/payment", status, name="status"),
            Route("/orders/{number}/pay", pay, methods=["POST"], name="pay"),
            Route("/orders/{number}/pay/transfer", pay_by_transfer, methods=["POST"], name="pay_by_transfer"),
            Route("/payments/paypal/return", paypal_return, name="paypal_return"),
        ], middleware=[Middleware(PrivatePages)]),
    ], csrf_exempt=frozenset({"webhook"})),
]
