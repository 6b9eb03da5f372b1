"""PayPal through its Orders v2 REST API: the shopper approves the payment on PayPal's
page, the shop then captures it on its own, server to server. So the money is taken only
by the shop's capture call, and an order is paid only from PayPal's answer to it (or
from PayPal's verified event, or the reconciliation asking PayPal), never from the
shopper's way back alone.

PayPal's return carries only its order id, so that id is kept before the shopper is sent
to PayPal: the way back finds its attempt by it, or is a 404.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping
from urllib.parse import quote, urlsplit

import httpx2

from shop.config import Payments
from shop.db import locked, now
from shop.i18n import DEFAULT_LOCALE, _, in_language
from shop.orders.models import SUCCEEDED, Order, OrderLine, Payment

from . import service
from .models import NOT_AT_PROVIDER, OPEN, UNFINISHED, PaymentAttempt
from .providers import PAYPAL, BadEvent, ProviderError, Received, Started, origin

log = logging.getLogger("shop.payments.paypal")
TOLERANCE = 300  # seconds an event's transmission time may be off
ORDER_OPEN = dt.timedelta(hours=3)  # an order not paid by then is cancelled
TOKEN_MARGIN = 120  # seconds before its end an access token is renewed
RETRY_PAUSES = (0.25, 1.0)  # a network error or a 5xx is tried again after these pauses
TIMEOUT = httpx2.Timeout(10.0, connect=5.0)
ORDER_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
PAGES = {"api-m.paypal.com": "https://www.paypal.com", "api.paypal.com": "https://www.paypal.com",
         "api-m.sandbox.paypal.com": "https://www.sandbox.paypal.com",
         "api.sandbox.paypal.com": "https://www.sandbox.paypal.com"}
# A capture's event and the capture state it reports.
CAPTURE_EVENTS = {"PAYMENT.CAPTURE.COMPLETED": "COMPLETED", "PAYMENT.CAPTURE.PENDING": "PENDING",
                  "PAYMENT.CAPTURE.DENIED": "DECLINED", "PAYMENT.CAPTURE.DECLINED": "DECLINED"}
HELD = ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED")  # a capture whose money PayPal has (had)
SIGNATURE_HEADERS = {"auth_algo": "paypal-auth-algo", "cert_url": "paypal-cert-url",
                     "transmission_id": "paypal-transmission-id", "transmission_sig": "paypal-transmission-sig",
                     "transmission_time": "paypal-transmission-time"}


class Refused(ProviderError):
    """PayPal answered 4xx; `issue` says why (ORDER_ALREADY_CAPTURED, INSTRUMENT_DECLINED, …)."""

    def __init__(self, status: int, issue: str, message: str):
        super().__init__(f"{status} {issue}: {message}")
        self.status, self.issue = status, issue


class PayPalAPI:
    """PayPal's REST API with an OAuth access token, kept until shortly before it ends.
    A network error or a 5xx is tried again: every POST that moves money carries a
    PayPal-Request-Id, so PayPal answers a repeat with the first result."""

    def __init__(self, payments: Payments):
        self.client = httpx2.Client(base_url=payments.paypal_api_base.rstrip("/"), timeout=TIMEOUT)
        self.credentials = (payments.paypal_client_id, payments.paypal_secret)
        self._token, self._token_until = "", 0.0
        self._lock = threading.Lock()

    def call(self, method: str, path: str, body: dict | None = None, request_id: str = "") -> dict:
        headers = {"PayPal-Request-Id": request_id} if request_id else {}
        try:
            return self._send(method, path, json=body, headers={**headers, **self._authorization(renew=False)})
        except Refused as refused:
            if refused.status != 401:
                raise
        # A token PayPal ended early: once more with a new one.
        return self._send(method, path, json=body, headers={**headers, **self._authorization(renew=True)})

    def _authorization(self, renew: bool) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._access_token(renew)}"}

    def _access_token(self, renew: bool) -> str:
        with self._lock:
            if renew or not self._token or time.monotonic() >= self._token_until:
                answer = self._send("POST", "/v1/oauth2/token", data={"grant_type": "client_credentials"},
                                    auth=self.credentials)
                self._token = str(answer.get("access_token") or "")
                self._token_until = time.monotonic() + int(answer.get("expires_in") or 0) - TOKEN_MARGIN
            return self._token

    def _send(self, method: str, path: str, **kwargs: Any) -> dict:
        problem = ""
        for pause in (0, *RETRY_PAUSES):
            time.sleep(pause)
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx2.HTTPError as error:
                problem = f"{method} {path}: {error!r}"
                continue
            if response.status_code >= 500:
                problem = f"{method} {path}: {response.status_code}"
                continue
            answer = _json(response)
            if response.status_code >= 400:
                raise Refused(response.status_code, _issue(answer), str(answer.get("message")
                                                                           or answer.get("error_description") or ""))
            return answer
        raise ProviderError(problem)


class PayPal:
    name = PAYPAL

    def __init__(self, payments: Payments):
        self.api = PayPalAPI(payments)
        self.webhook_id = payments.paypal_webhook_id
        host = urlsplit(payments.paypal_api_base).netloc
        # The stand-in serves its approval page where it serves its API.
        self.page_origin = PAGES.get(host) or origin(payments.paypal_api_base)

    # -- opening a payment -------------------------------------------------------------

    def start(self, order: Order, attempt: PaymentAttempt) -> Started:
        """PayPal's order for the attempt, its id kept (the way back has nothing else)."""
        with in_language(DEFAULT_LOCALE):  # the same words whichever page or job asks
            request = self._order_request(order, attempt)
        try:
            created = self.api.call("POST", "/v2/checkout/orders", request, request_id=attempt.key)
        except ProviderError as error:
            log.warning("PayPal refused the order for %s: %s", attempt.key, error)
            raise ProviderError(_("The payment page cannot be opened right now. Please try again.")) from error
        links = {link.get("rel"): link.get("href") for link in created.get("links") or []}
        started = Started(str(created.get("id") or ""), str(links.get("payer-action") or links.get("approve") or ""))
        if not started.provider_id or not started.url:
            raise ProviderError(_("The payment page cannot be opened right now. Please try again."))
        service.attempt_started(attempt, started)
        return started

    def _order_request(self, order: Order, attempt: PaymentAttempt) -> dict:
        """The order's parameters, the same each time for an attempt (the reconciliation
        sends them again under the same PayPal-Request-Id): nothing from the clock."""
        lines = list(order.lines.order_by(OrderLine.id))
        item_total = sum(line.unit_price_cents * line.quantity for line in lines)
        unit: dict[str, Any] = {
            "reference_id": order.number, "custom_id": attempt.key, "invoice_id": order.number,
            "description": _("Order %(number)s", number=order.number)[:127], "amount": money(order.total_cents)}
        if item_total + order.shipping_cents == order.total_cents:  # PayPal refuses a breakdown that does not add up
            unit["amount"]["breakdown"] = {"item_total": money(item_total), "shipping": money(order.shipping_cents)}
            unit["items"] = [{"name": line.name[:127], "quantity": str(line.quantity),
                              "unit_amount": money(line.unit_price_cents), "category": "PHYSICAL_GOODS"}
                             for line in lines]
        back = return_address(attempt)
        return {"intent": "CAPTURE", "purchase_units": [unit], "payment_source": {"paypal": {"experience_context": {
            "return_url": back, "cancel_url": f"{back}?payment=cancelled", "user_action": "PAY_NOW",
            "shipping_preference": "NO_SHIPPING", "locale": "de-DE"}}}}

    def abandon(self, attempt: PaymentAttempt) -> None:
        """PayPal's orders cannot be closed; an abandoned attempt's order is never captured."""

    # -- the shopper back from PayPal ----------------------------------------------------------

    def came_back(self, settings, order_id: str, cancelled: bool) -> str | None:
        """Where to send the shopper back from PayPal's page with PayPal's order id: the
        order page, after capturing the approved payment (if PayPal cannot be asked now,
        the page shows it being confirmed: the event or the reconciliation captures it).
        None: no attempt of this shop has that id."""
        attempt = service.find_attempt(PAYPAL, order_id) if ORDER_ID.fullmatch(order_id) else None
        if attempt is None:
            return None
        if cancelled:
            return f"{attempt.return_url}&payment=cancelled"
        if attempt.state != OPEN:  # settled before (by the event), or replaced: nothing to capture
            return f"{attempt.return_url}&payment=returned"
        try:
            capture = self._capture(order_id)
        except Refused as refused:
            log.warning("PayPal did not capture %s: %s", order_id, refused)
            return attempt.return_url  # not approved: the order page offers to pay
        except ProviderError as error:
            log.warning("PayPal could not capture %s now: %s", order_id, error)
            return f"{attempt.return_url}&payment=returned"
        if capture is None:  # declined: the order page offers to pay again or by transfer
            return f"{attempt.return_url}&payment=cancelled"
        effect = self._capture_effect(settings, attempt, capture)
        if effect:
            service.in_transaction(effect)
        return f"{attempt.return_url}&payment=returned"

    def _capture(self, order_id: str) -> dict | None:
        """PayPal's capture of an approved order (captured before: the one it has); None
        when PayPal declined the buyer's means of paying."""
        path = f"/v2/checkout/orders/{quote(order_id, safe='')}"
        try:
            answer = self.api.call("POST", f"{path}/capture", {}, request_id=f"capture-{order_id}")
        except Refused as refused:
            if refused.issue == "INSTRUMENT_DECLINED":
                return None
            if refused.issue != "ORDER_ALREADY_CAPTURED":
                raise
            answer = self.api.call("GET", path)
        return first_capture(answer)

    def _capture_effect(self, settings, attempt: PaymentAttempt, capture: dict) -> Callable[[], object] | None:
        """What PayPal's capture means for the attempt."""
        status = capture.get("status")
        if status == "COMPLETED":
            received = self._received(capture)
            return lambda: self._paid(settings, attempt, received)
        if status == "PENDING":  # PayPal reviews it; its event tells the outcome
            return lambda: service.processing(attempt)
        if status in ("DECLINED", "FAILED"):
            return lambda: service.failed(settings, attempt)
        return None

    @staticmethod
    def _paid(settings, attempt: PaymentAttempt, received: Received) -> None:
        """The shopper's return and PayPal's event come at the same moment: the order's
        lock makes one wait, then find the payment recorded by the other."""
        locked(Order.select(Order.id).where(Order.id == attempt.order_id)).get()
        service.paid(settings, attempt, received)

    @staticmethod
    def _received(capture: dict) -> Received:
        amount = capture.get("amount") or {}
        return Received(str(capture.get("id") or ""), cents(amount.get("value")),
                        str(amount.get("currency_code") or "").upper(), method=PAYPAL)

    # -- events ------------------------------------------------------------------------

    def verify(self, body: bytes, headers: Mapping[str, str]) -> dict:
        """The event, if PayPal's API confirms that PayPal sent it, within five minutes.
        Raises ProviderError when PayPal cannot be asked (the webhook answers 503)."""
        try:
            event = json.loads(body)
        except (UnicodeDecodeError, ValueError) as error:
            raise BadEvent(str(error)) from error
        if not isinstance(event, dict) or not isinstance(event.get("id"), str) \
                or not isinstance(event.get("event_type"), str) or not isinstance(event.get("resource"), dict):
            raise BadEvent("not an event")
        signature = {field: headers.get(header, "") for field, header in SIGNATURE_HEADERS.items()}
        if not all(signature.values()):
            raise BadEvent("PayPal's signature headers are missing")
        if not recent(signature["transmission_time"]):
            raise BadEvent(f"sent at {signature['transmission_time']}")
        try:
            answer = self.api.call("POST", "/v1/notifications/verify-webhook-signature",
                                   {**signature, "webhook_id": self.webhook_id, "webhook_event": event})
        except Refused as refused:
            if refused.status in (401, 403):  # the shop's own keys: not the event's fault
                raise ProviderError(str(refused)) from refused
            raise BadEvent(str(refused)) from refused
        if answer.get("verification_status") != "SUCCESS":
            raise BadEvent(f"verification {answer.get('verification_status')}")
        return event

    def handle(self, settings, event: dict) -> bool:
        """Apply a verified event; False if it was applied before (or concerns nothing here).
        PayPal is asked (the capture) before the transaction."""
        kind, resource = event["event_type"], event["resource"]
        effect = None
        order_id = None
        if kind == "CHECKOUT.ORDER.APPROVED":  # the buyer approved but never came back
            attempt = self._attempt_of_order(resource)
            if attempt is not None:
                order_id, effect = attempt.order_id, self._approved_effect(settings, attempt)
        elif kind in CAPTURE_EVENTS:
            attempt = self._attempt_of_capture(resource)
            if attempt is not None:
                order_id = attempt.order_id
                effect = self._capture_effect(settings, attempt, {**resource, "status": CAPTURE_EVENTS[kind]})
        elif kind == "PAYMENT.CAPTURE.REFUNDED":
            payment = self._refunded_payment(resource)
            if payment is not None and resource.get("status") in ("COMPLETED", "PENDING"):
                order_id, refund_id = payment.order_id, str(resource.get("id") or "")
                amount = cents((resource.get("amount") or {}).get("value"))
                effect = lambda: service.refunded(settings, payment.order_id, PAYPAL, refund_id, amount,
                                                  _("Paid back at PayPal"))
        elif kind == "CUSTOMER.DISPUTE.CREATED":
            transactions = resource.get("disputed_transactions") or [{}]
            payment = self._payment(transactions[0].get("seller_transaction_id"))
            if payment is not None:
                order_id, dispute_id = payment.order_id, str(resource.get("dispute_id") or "")
                amount = cents((resource.get("dispute_amount") or {}).get("value"))
                effect = lambda: service.disputed(PAYPAL, payment.order_id, dispute_id, amount,
                                                  str(resource.get("reason") or ""))
        return service.apply_event(PAYPAL, event["id"], kind, order_id, effect or (lambda: None))

    def _approved_effect(self, settings, attempt: PaymentAttempt) -> Callable[[], object] | None:
        if attempt.state != OPEN:  # captured by the shopper's return, or replaced
            return None
        capture = self._capture(str(attempt.provider_id))
        return self._capture_effect(settings, attempt, capture) if capture else None

    @staticmethod
    def _attempt_of_order(order: dict) -> PaymentAttempt | None:
        unit = (order.get("purchase_units") or [{}])[0]
        return service.find_attempt(PAYPAL, str(order.get("id") or ""), str(unit.get("reference_id") or ""),
                                    str(unit.get("custom_id") or ""))

    @staticmethod
    def _attempt_of_capture(capture: dict) -> PaymentAttempt | None:
        order_id = ((capture.get("supplementary_data") or {}).get("related_ids") or {}).get("order_id")
        key = str(capture.get("custom_id") or "")
        return service.find_attempt(PAYPAL, str(order_id or ""), key.rpartition("-")[0], key)

    def _refunded_payment(self, refund: dict) -> Payment | None:
        """The payment a refund pays back: the capture its "up" link leads to, else the
        attempt named by its custom_id."""
        up = next((link.get("href", "") for link in refund.get("links") or [] if link.get("rel") == "up"), "")
        payment = self._payment(up.rstrip("/").rsplit("/", 1)[-1]) if "/captures/" in up else None
        if payment is not None or not refund.get("custom_id"):
            return payment
        key = str(refund["custom_id"])
        attempt = service.find_attempt(PAYPAL, "", key.rpartition("-")[0], key)
        if attempt is None:
            return None
        return Payment.select().where((Payment.order == attempt.order_id) & (Payment.provider == PAYPAL)
                                      & (Payment.state == SUCCEEDED)).order_by(Payment.id.desc()).first()

    @staticmethod
    def _payment(capture_id) -> Payment | None:
        if not isinstance(capture_id, str) or not capture_id:
            return None
        return Payment.get_or_none((Payment.provider == PAYPAL) & (Payment.provider_id == capture_id))

    # -- refunds -------------------------------------------------------------------------

    def refund(self, payment: Payment, amount_cents: int, key: str) -> str:
        try:
            refund = self.api.call("POST", f"/v2/payments/captures/{quote(str(payment.provider_id), safe='')}/refund",
                                   {"amount": money(amount_cents)}, request_id=key)
        except ProviderError as error:
            log.warning("PayPal refused refund %s: %s", key, error)
            reason = getattr(error, "issue", "") or _("PayPal cannot be reached")
            raise ProviderError(_("PayPal did not pay back: %(reason)s", reason=reason)) from error
        if refund.get("status") not in ("COMPLETED", "PENDING") or not refund.get("id"):
            raise ProviderError(_("PayPal did not pay back: %(reason)s", reason=refund.get("status")))
        return str(refund["id"])

    # -- reconciliation --------------------------------------------------------------------

    def reconcile(self, settings) -> dict[str, int]:
        """Settle what no event settled, and report what PayPal has otherwise than here."""
        counts = {"attempts": 0, "payments": 0}
        for attempt in service.attempts_to_check(PAYPAL):
            self._check_attempt(settings, attempt)
            counts["attempts"] += 1
        for payment in service.payments_to_check(PAYPAL):
            self._check_payment(payment)
            counts["payments"] += 1
        return counts

    def _check_attempt(self, settings, attempt: PaymentAttempt) -> None:
        try:
            if not attempt.provider_id:  # the shop died before it kept the id: the same request finds it
                attempt.provider_id = self.start(attempt.order, attempt).provider_id
            effect = self._order_effect(settings, attempt, self._order(attempt.provider_id))
        except ProviderError as error:
            log.warning("Could not check %s at PayPal: %s", attempt.key, error)
            return
        if effect:
            service.in_transaction(effect)
        service.checked(attempt)

    def _order(self, order_id: str) -> dict | None:
        """PayPal's order; None once PayPal no longer has it."""
        try:
            return self.api.call("GET", f"/v2/checkout/orders/{quote(order_id, safe='')}")
        except Refused as refused:
            if refused.status == 404:
                return None
            raise

    def _order_effect(self, settings, attempt: PaymentAttempt, order: dict | None) -> Callable[[], object] | None:
        status = order.get("status") if order else None
        if order and status == "COMPLETED":
            return self._capture_effect(settings, attempt, first_capture(order))
        if status == "APPROVED" and attempt.state == OPEN:
            capture = self._capture(str(attempt.provider_id))
            if capture is not None:
                return self._capture_effect(settings, attempt, capture)
        if attempt.state in UNFINISHED and (status == "VOIDED" or now() - attempt.created_at > ORDER_OPEN):
            return lambda: service.expired(settings, attempt)
        return None

    def _check_payment(self, payment: Payment) -> None:
        try:
            capture = self.api.call("GET", f"/v2/payments/captures/{quote(str(payment.provider_id), safe='')}")
        except Refused as refused:
            capture = {"status": refused.issue}
        except ProviderError as error:
            log.warning("Could not check payment %s at PayPal: %s", payment.provider_id, error)
            return
        status = str(capture.get("status"))
        if status not in HELD or cents((capture.get("amount") or {}).get("value")) < payment.amount_cents:
            service.in_transaction(lambda: service.issue(
                PAYPAL, NOT_AT_PROVIDER, str(payment.provider_id), payment.order, payment.amount_cents, "EUR",
                _("PayPal has it as %(status)s.", status=status)))
        service.checked(payment)


# -- PayPal's shapes -------------------------------------------------------------------------

def money(amount_cents: int) -> dict:
    """PayPal's amount: euros as a string with two decimals."""
    return {"currency_code": "EUR", "value": str(Decimal(amount_cents).scaleb(-2).quantize(Decimal("0.01")))}


def cents(value) -> int:
    """PayPal's "12.34" as 1234, exactly; anything else is no amount this shop asked for."""
    try:
        exact = Decimal(str(value)).scaleb(2)
    except InvalidOperation:
        return -1
    return int(exact) if exact.is_finite() and exact == exact.to_integral_value() else -1


def first_capture(order: dict) -> dict:
    units = order.get("purchase_units") or [{}]
    captures = (units[0].get("payments") or {}).get("captures") or [{}]
    return captures[0]


def return_address(attempt: PaymentAttempt) -> str:
    """Where PayPal sends the shopper back: the shop's PayPal return, at the address the
    attempt's order page has (BASE_URL, kept with the attempt)."""
    return attempt.return_url.split("/orders/", 1)[0] + "/payments/paypal/return"


def recent(sent: str) -> bool:
    try:
        moment = dt.datetime.fromisoformat(sent)
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return abs((dt.datetime.now(dt.UTC) - moment).total_seconds()) <= TOLERANCE


def _json(response: httpx2.Response) -> dict:
    try:
        answer = response.json()
    except ValueError:
        answer = None
    return answer if isinstance(answer, dict) else {}


def _issue(answer: dict) -> str:
    details = answer.get("details") or [{}]
    return str(details[0].get("issue") or answer.get("name") or answer.get("error") or "UNKNOWN")
