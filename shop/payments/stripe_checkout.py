"""Stripe Checkout: the shopper pays on Stripe's hosted page, so no card field and no
Stripe script is on ours. Which methods appear there (cards, wallets, PayPal, Klarna,
SEPA direct debit) is the merchant's setting in the Stripe dashboard.

Only a signed event (or the reconciliation asking Stripe itself) marks an order paid,
never the shopper coming back.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, Mapping

import stripe

from shop.config import Payments
from shop.i18n import DEFAULT_LOCALE, _, in_language
from shop.orders.models import Order, OrderLine, Payment
from shop.pricing import delivery_name

from . import service
from .models import NOT_AT_PROVIDER, PaymentAttempt
from .providers import STRIPE, BadEvent, ProviderError, Received, Started, origin

log = logging.getLogger("shop.payments.stripe")
TOLERANCE = 300  # seconds a signed event stays acceptable
PAGE_OPEN = dt.timedelta(hours=1)  # then the page closes and an unpaid order is cancelled


class StripeCheckout:
    name = STRIPE

    def __init__(self, payments: Payments):
        base = payments.stripe_api_base
        self.client = stripe.StripeClient(payments.stripe_secret_key, max_network_retries=2,
                                          base_addresses={"api": base} if base else None)
        self.webhook_secret = payments.stripe_webhook_secret
        # The stand-in serves its payment page where it serves its API.
        self.page_origin = origin(base) if base else "https://checkout.stripe.com"

    # -- opening a payment -------------------------------------------------------------

    def start(self, order: Order, attempt: PaymentAttempt) -> Started:
        try:
            with in_language(DEFAULT_LOCALE):  # the same words whichever page or job asks
                params = self._session(order, attempt)
            session = self.client.v1.checkout.sessions.create(params, {"idempotency_key": attempt.key})
        except stripe.StripeError as error:
            log.warning("Stripe refused the Checkout Session for %s: %s", attempt.key, error)
            raise ProviderError(_("The payment page cannot be opened right now. Please try again.")) from error
        return Started(session.id, session.url or "")

    def _session(self, order: Order, attempt: PaymentAttempt) -> Any:
        """The session's parameters, the same each time for an attempt (Stripe refuses an
        idempotency key sent again with other parameters): nothing from the clock."""
        lines = order.lines.order_by(OrderLine.id)
        expires = attempt.created_at.replace(tzinfo=dt.UTC) + PAGE_OPEN
        params: Any = {
            "mode": "payment",
            "client_reference_id": order.number,
            "customer_email": order.email,
            "locale": "de",
            "expires_at": int(expires.timestamp()),
            "success_url": f"{attempt.return_url}&payment=returned",
            "cancel_url": f"{attempt.return_url}&payment=cancelled",
            "metadata": {"order": order.number, "attempt": attempt.key},
            "payment_intent_data": {"description": _("Order %(number)s", number=order.number),
                                    "metadata": {"order": order.number, "attempt": attempt.key}},
            "line_items": [{"quantity": line.quantity, "price_data": {
                "currency": "eur", "unit_amount": line.unit_price_cents, "product_data": {"name": line.name}}}
                for line in lines],
        }
        params["shipping_options"] = [{"shipping_rate_data": {
            "type": "fixed_amount", "display_name": delivery_name(order.delivery_option),
            "fixed_amount": {"amount": order.shipping_cents, "currency": "eur"}}}]
        return params

    def abandon(self, attempt: PaymentAttempt) -> None:
        """Close an attempt's page, so that it cannot be paid as well; failing that, an
        event for it still counts once."""
        try:
            session_id = attempt.provider_id or self.start(attempt.order, attempt).provider_id
            self.client.v1.checkout.sessions.expire(session_id)
        except (stripe.StripeError, ProviderError) as error:
            log.info("Stripe kept the Checkout Session of %s open: %s", attempt.key, error)

    # -- events ------------------------------------------------------------------------

    def verify(self, body: bytes, headers: Mapping[str, str]) -> dict:
        """The event, if Stripe signed exactly these bytes within the last five minutes."""
        try:
            stripe.WebhookSignature.verify_header(body.decode("utf-8"), headers.get("stripe-signature"),
                                                  self.webhook_secret, TOLERANCE)
            event = json.loads(body)
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
            raise BadEvent(str(error)) from error
        if not isinstance(event, dict) or not isinstance(event.get("id"), str) \
                or not isinstance(event.get("data"), dict):
            raise BadEvent("not an event")
        return event

    def handle(self, settings, event: dict) -> bool:
        """Apply a verified event; False if it was applied before (or concerns nothing here)."""
        kind, obj = event.get("type", ""), event["data"].get("object") or {}
        effect = None
        order_id = None
        if kind.startswith("checkout.session."):
            attempt = self._attempt(obj)
            if attempt is not None:
                order_id, effect = attempt.order_id, self._session_effect(settings, kind, obj, attempt)
        elif kind == "charge.refunded":
            payment = self._payment(obj.get("payment_intent"))
            if payment is not None:
                order_id, effect = payment.order_id, self._refunds_effect(settings, payment)
        elif kind == "charge.dispute.created":
            payment = self._payment(obj.get("payment_intent"))
            if payment is not None:
                order_id = payment.order_id
                effect = lambda: service.disputed(STRIPE, payment.order_id, obj.get("id", ""),
                                                  int(obj.get("amount") or 0), str(obj.get("reason") or ""))
        return service.apply_event(STRIPE, event["id"], kind, order_id, effect or (lambda: None))

    def _attempt(self, session: dict) -> PaymentAttempt | None:
        metadata = session.get("metadata") or {}
        return service.find_attempt(STRIPE, str(session.get("id")), str(session.get("client_reference_id")),
                                    str(metadata.get("attempt") or ""))

    def _payment(self, payment_intent) -> Payment | None:
        if not isinstance(payment_intent, str):
            return None
        return Payment.get_or_none((Payment.provider == STRIPE) & (Payment.provider_id == payment_intent))

    def _session_effect(self, settings, kind: str, session: dict, attempt: PaymentAttempt):
        """What a Checkout Session event does; Stripe is asked (before the transaction)
        how it was paid."""
        if kind == "checkout.session.expired":
            return lambda: service.expired(settings, attempt)
        if kind == "checkout.session.async_payment_failed":
            return lambda: service.failed(settings, attempt)
        paid = kind == "checkout.session.async_payment_succeeded" or (
            kind == "checkout.session.completed" and session.get("payment_status") == "paid")
        if paid:
            received = self._received(session)
            return lambda: service.paid(settings, attempt, received)
        if kind == "checkout.session.completed":  # a direct debit: the money follows
            return lambda: service.processing(attempt)
        return None

    def _received(self, session: dict) -> Received:
        """The money of a paid session. How it was paid (card brand, last digits) is asked
        by the worker (`_describe`): the event is answered without another call to Stripe."""
        return Received(str(session.get("payment_intent") or ""), int(session.get("amount_total") or 0),
                        str(session.get("currency") or "").upper())

    def _describe(self, payment: Payment) -> None:
        """Keep how a payment was made: the method, for a card its brand and last digits."""
        try:
            intent = self.client.v1.payment_intents.retrieve(str(payment.provider_id), {"expand": ["latest_charge"]})
        except stripe.StripeError as error:
            log.warning("Stripe did not tell how %s was paid: %s", payment.provider_id, error)
            return
        charge = intent.to_dict().get("latest_charge")
        details = (charge.get("payment_method_details") or {}) if isinstance(charge, dict) else {}
        card = details.get("card") or {}
        service.describe(payment, str(details.get("type") or STRIPE), str(card.get("brand") or ""),
                         str(card.get("last4") or ""))

    def _refunds_effect(self, settings, payment: Payment):
        """Refunds of a payment as Stripe has them, for those not recorded here (made in
        Stripe's dashboard, or recorded by a request that died before it committed)."""
        try:
            found = self.client.v1.refunds.list({"payment_intent": str(payment.provider_id), "limit": 100})
        except stripe.StripeError as error:
            raise ProviderError(str(error)) from error  # answered 5xx: Stripe sends the event again
        done = [refund.to_dict() for refund in found.data if refund.status in ("succeeded", "pending")]

        def effect():
            for refund in done:
                service.refunded(settings, payment.order_id, STRIPE, refund["id"], int(refund["amount"]),
                                 _("Paid back at Stripe"))
        return effect

    # -- refunds -------------------------------------------------------------------------

    def refund(self, payment: Payment, amount_cents: int, key: str) -> str:
        try:
            refund = self.client.v1.refunds.create(
                {"payment_intent": str(payment.provider_id), "amount": amount_cents}, {"idempotency_key": key})
        except stripe.StripeError as error:
            log.warning("Stripe refused refund %s: %s", key, error)
            raise ProviderError(_("Stripe did not pay back: %(reason)s",
                                  reason=getattr(error, "user_message", None) or str(error))) from error
        if refund.status in ("failed", "canceled"):
            raise ProviderError(_("Stripe did not pay back: %(reason)s", reason=refund.status))
        return refund.id

    # -- reconciliation --------------------------------------------------------------------

    def reconcile(self, settings) -> dict[str, int]:
        """Settle what no event settled, and report what Stripe has otherwise than here."""
        counts = {"attempts": 0, "payments": 0, "described": 0}
        for payment in service.payments_to_describe(STRIPE):
            self._describe(payment)
            counts["described"] += 1
        for attempt in service.attempts_to_check(STRIPE):
            self._check_attempt(settings, attempt)
            counts["attempts"] += 1
        for payment in service.payments_to_check(STRIPE):
            self._check_payment(settings, payment)
            counts["payments"] += 1
        return counts

    def _check_attempt(self, settings, attempt: PaymentAttempt) -> None:
        try:
            if attempt.provider_id:
                session = self.client.v1.checkout.sessions.retrieve(attempt.provider_id).to_dict()
            else:  # the shop died before it kept the session's id: the same key finds it
                created = self.start(attempt.order, attempt)
                attempt = service.attempt_started(attempt, created)
                session = self.client.v1.checkout.sessions.retrieve(created.provider_id).to_dict()
        except (stripe.StripeError, ProviderError) as error:
            log.warning("Could not check %s at Stripe: %s", attempt.key, error)
            return
        kind = "checkout.session.expired" if session.get("status") == "expired" else "checkout.session.completed"
        if session.get("status") in ("complete", "expired"):
            effect = self._session_effect(settings, kind, session, attempt)
            if effect:
                service.in_transaction(effect)
        service.checked(attempt)

    def _check_payment(self, settings, payment: Payment) -> None:
        try:
            intent = self.client.v1.payment_intents.retrieve(str(payment.provider_id))
        except stripe.StripeError as error:
            log.warning("Could not check payment %s at Stripe: %s", payment.provider_id, error)
            return
        if intent.status != "succeeded" or intent.amount_received < payment.amount_cents:
            service.in_transaction(lambda: service.issue(
                STRIPE, NOT_AT_PROVIDER, str(payment.provider_id), payment.order, payment.amount_cents, "EUR",
                _("Stripe has it as %(status)s.", status=intent.status)))
        service.in_transaction(self._refunds_effect(settings, payment))
        service.checked(payment)
