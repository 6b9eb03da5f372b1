"""A stand-in for the part of Stripe's API the shop uses, for the tests and the demo.

It answers the real `stripe` SDK with Stripe's documented shapes: Checkout Sessions
(create with an idempotency key, retrieve, expire), PaymentIntents with their charge,
refunds; and it serves a payment page of its own where a visitor pays with a test card
or direct debit, or cancels. Each change sends a signed event to the shop's webhook, as
Stripe does (or, with `deliver=False`, keeps it in `outbox` for a test to send).

Not a payment service: nothing here moves money.
"""
from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
import re
import secrets
import threading
import time
from typing import Any, Callable

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CARDS = {"card": ("visa", "4242"), "mastercard": ("mastercard", "4444")}


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for `payload`, made as Stripe makes it."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def decode_form(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (`line_items[0][price_data][currency]=eur`) as nested data."""
    data: dict = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        node = data
        for part, following in zip(parts, parts[1:]):
            node = node.setdefault(part, {})
        last = parts[-1]
        if last == "[]":
            node.setdefault("__list__", []).append(value)
        else:
            node[last] = value
    return _lists(data)


def _lists(node):
    if not isinstance(node, dict):
        return node
    if "__list__" in node:
        return node["__list__"]
    if node and all(key.isdigit() for key in node):
        return [_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _lists(value) for key, value in node.items()}


class StripeStandIn:
    def __init__(self, api_key: str, webhook_secret: str, webhook_url: str = "", deliver: bool = True):
        self.api_key, self.webhook_secret, self.webhook_url = api_key, webhook_secret, webhook_url
        self.deliver = deliver
        self.base_url = ""  # where it is served; set by whoever serves it
        self.sessions: dict[str, dict] = {}
        self.intents: dict[str, dict] = {}
        self.charges: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.outbox: list[tuple[str, str]] = []  # (body, signature) not delivered
        self.sent: list[dict] = []  # every event made
        self.requests: list[tuple[str, str, str]] = []  # (method, path, idempotency key)
        self.fail_next = 0  # answer this many API requests with a 500 first
        self._idempotent: dict[str, tuple[dict, Response]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.app = Starlette(routes=[
            Route("/v1/checkout/sessions", self.create_session, methods=["POST"]),
            Route("/v1/checkout/sessions/{id}", self.get_session),
            Route("/v1/checkout/sessions/{id}/expire", self.expire_session, methods=["POST"]),
            Route("/v1/payment_intents/{id}", self.get_intent),
            Route("/v1/refunds", self.refunds_endpoint, methods=["GET", "POST"]),
            Route("/pay/{id}", self.payment_page, methods=["GET", "POST"]),
        ])

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids):06d}{secrets.token_hex(4)}"

    # -- the API -------------------------------------------------------------------------

    async def _call(self, request: Request, handle: Callable[[dict], Response]) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return error(401, "authentication_error", "Invalid API Key provided.")
        key = request.headers.get("idempotency-key", "")
        self.requests.append((request.method, request.url.path, key))
        if self.fail_next:
            self.fail_next -= 1
            return error(500, "api_error", "Something went wrong on Stripe's end.")
        pairs = (await request.form()).multi_items() if request.method == "POST" else request.query_params.multi_items()
        params = decode_form([(key, str(value)) for key, value in pairs])
        with self._lock:
            if key and request.method == "POST":
                seen = self._idempotent.get(key)
                if seen is not None:
                    if seen[0] != params:
                        return error(400, "idempotency_error", "Keys for idempotent requests can only be used "
                                                             "with the same parameters they were first used with.")
                    return seen[1]
            response = handle(params)
            if key and request.method == "POST" and response.status_code < 500:
                self._idempotent[key] = (params, response)
        return response

    async def create_session(self, request: Request) -> Response:
        return await self._call(request, self._create_session)

    def _create_session(self, params: dict) -> Response:
        items = params.get("line_items") or []
        subtotal = sum(int(item["price_data"]["unit_amount"]) * int(item["quantity"]) for item in items)
        shipping = sum(int(option["shipping_rate_data"]["fixed_amount"]["amount"])
                       for option in params.get("shipping_options") or [])
        session_id = self.new_id("cs")
        session = {
            "id": session_id, "object": "checkout.session", "mode": params.get("mode", "payment"),
            "amount_subtotal": subtotal, "amount_total": subtotal + shipping,
            "currency": items[0]["price_data"]["currency"] if items else "eur",
            "client_reference_id": params.get("client_reference_id"),
            "customer_email": params.get("customer_email"), "metadata": params.get("metadata") or {},
            "payment_intent": None, "payment_status": "unpaid", "status": "open",
            "success_url": params.get("success_url"), "cancel_url": params.get("cancel_url"),
            "expires_at": int(params.get("expires_at") or time.time() + 86400), "created": int(time.time()),
            "livemode": False, "url": f"{self.base_url}/pay/{session_id}",
            "payment_intent_data": params.get("payment_intent_data") or {},
        }
        self.sessions[session_id] = session
        return JSONResponse(public(session))

    async def get_session(self, request: Request) -> Response:
        return await self._call(request, lambda params: self._found(self.sessions, request.path_params["id"]))

    async def expire_session(self, request: Request) -> Response:
        def expire(params):
            session = self.sessions.get(request.path_params["id"])
            if session is None:
                return error(404, "invalid_request_error", "No such checkout.session")
            if session["status"] != "open":
                return error(400, "invalid_request_error", "Only Checkout Sessions with a status of "
                                                          "`open` can be expired.")
            self.expire(session["id"])
            return JSONResponse(public(session))
        return await self._call(request, expire)

    async def get_intent(self, request: Request) -> Response:
        def get(params):
            intent = self.intents.get(request.path_params["id"])
            if intent is None:
                return error(404, "invalid_request_error", "No such payment_intent")
            shown = dict(intent)
            if "latest_charge" in (params.get("expand") or []):
                shown["latest_charge"] = self.charges[intent["latest_charge"]]
            return JSONResponse(shown)
        return await self._call(request, get)

    async def refunds_endpoint(self, request: Request) -> Response:
        def handle(params):
            if request.method == "GET":
                found = [r for r in self.refunds.values() if r["payment_intent"] == params.get("payment_intent")]
                return JSONResponse({"object": "list", "data": found, "has_more": False, "url": "/v1/refunds"})
            return self._refund(params.get("payment_intent", ""), int(params.get("amount") or 0))
        return await self._call(request, handle)

    def _refund(self, intent_id: str, amount: int) -> Response:
        intent = self.intents.get(intent_id)
        if intent is None:
            return error(404, "invalid_request_error", f"No such payment_intent: '{intent_id}'")
        charge = self.charges[intent["latest_charge"]]
        amount = amount or charge["amount"] - charge["amount_refunded"]
        if amount <= 0 or amount > charge["amount"] - charge["amount_refunded"]:
            return error(400, "invalid_request_error", "Refund amount is greater than unrefunded amount on charge.",
                         code="charge_already_refunded")
        refund = self.refund(intent_id, amount)
        return JSONResponse(refund)

    def _found(self, objects: dict, object_id: str) -> Response:
        found = objects.get(object_id)
        return JSONResponse(public(found)) if found else error(404, "invalid_request_error", "No such object")

    # -- what happens at Stripe, also for tests to call --------------------------------------

    def pay(self, session_id: str, method: str = "card") -> dict:
        """The shopper pays on the page: a card at once, a direct debit later (`settle`)."""
        session = self.sessions[session_id]
        intent_id, charge_id = self.new_id("pi"), self.new_id("ch")
        brand, last4 = CARDS.get(method, ("", ""))
        details: dict[str, Any] = {"type": "card" if brand else method}
        if brand:
            details["card"] = {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2030}
        settled = details["type"] != "sepa_debit"
        self.charges[charge_id] = {"id": charge_id, "object": "charge", "amount": session["amount_total"],
                                   "amount_refunded": 0, "currency": session["currency"],
                                   "payment_intent": intent_id, "payment_method_details": details,
                                   "paid": settled, "refunded": False, "status": "succeeded" if settled else "pending"}
        self.intents[intent_id] = {"id": intent_id, "object": "payment_intent", "amount": session["amount_total"],
                                   "amount_received": session["amount_total"] if settled else 0,
                                   "currency": session["currency"], "latest_charge": charge_id,
                                   "status": "succeeded" if settled else "processing",
                                   "metadata": session["payment_intent_data"].get("metadata", {})}
        session.update(status="complete", payment_intent=intent_id, payment_status="paid" if settled else "unpaid")
        return self.event("checkout.session.completed", public(session))

    def settle(self, session_id: str, succeeded: bool = True) -> dict:
        """A direct debit's money arrives (or the debit is returned)."""
        session = self.sessions[session_id]
        intent = self.intents[session["payment_intent"]]
        if succeeded:
            intent.update(status="succeeded", amount_received=intent["amount"])
            session["payment_status"] = "paid"
            return self.event("checkout.session.async_payment_succeeded", public(session))
        intent["status"] = "requires_payment_method"
        return self.event("checkout.session.async_payment_failed", public(session))

    def expire(self, session_id: str) -> dict:
        session = self.sessions[session_id]
        session["status"] = "expired"
        return self.event("checkout.session.expired", public(session))

    def refund(self, intent_id: str, amount: int) -> dict:
        """Money paid back, as through the API or Stripe's dashboard."""
        intent = self.intents[intent_id]
        charge = self.charges[intent["latest_charge"]]
        refund_id = self.new_id("re")
        refund = {"id": refund_id, "object": "refund", "amount": amount, "currency": charge["currency"],
                  "charge": charge["id"], "payment_intent": intent_id, "status": "succeeded", "metadata": {}}
        self.refunds[refund_id] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self.event("charge.refunded", dict(charge))
        return refund

    def dispute(self, intent_id: str) -> dict:
        charge = self.charges[self.intents[intent_id]["latest_charge"]]
        return self.event("charge.dispute.created", {
            "id": self.new_id("dp"), "object": "dispute", "amount": charge["amount"], "charge": charge["id"],
            "payment_intent": intent_id, "reason": "fraudulent", "status": "needs_response"})

    def event(self, kind: str, obj: dict) -> dict:
        event = {"id": self.new_id("evt"), "object": "event", "type": kind, "created": int(time.time()),
                 "api_version": "2025-09-30.clover", "livemode": False, "data": {"object": obj}}
        self.sent.append(event)
        body = json.dumps(event)
        signature = sign(body, self.webhook_secret)
        if self.deliver and self.webhook_url:
            threading.Thread(target=self._post, args=(body, signature), daemon=True).start()
        else:
            self.outbox.append((body, signature))
        return event

    def _post(self, body: str, signature: str) -> None:
        """Deliver as Stripe does: until the shop answers 2xx, a few times."""
        for pause in (0, 0.5, 2, 5):
            time.sleep(pause)
            try:
                response = httpx2.post(self.webhook_url, content=body, timeout=10, headers={
                    "Content-Type": "application/json", "Stripe-Signature": signature})
                if response.status_code < 300:
                    return
            except httpx2.HTTPError:
                pass

    # -- the payment page ------------------------------------------------------------------

    async def payment_page(self, request: Request) -> Response:
        session = self.sessions.get(request.path_params["id"])
        if session is None:
            return HTMLResponse("<h1>Unbekannte Zahlung</h1>", status_code=404)
        if request.method == "POST":
            form = await request.form()
            if session["status"] != "open":
                return HTMLResponse(page("Diese Zahlungsseite ist nicht mehr gültig.", ""), status_code=410)
            if form.get("action") == "cancel":
                return RedirectResponse(session["cancel_url"], status_code=303)
            self.pay(session["id"], str(form.get("method") or "card"))
            return RedirectResponse(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]),
                                    status_code=303)
        if session["status"] != "open":
            return HTMLResponse(page("Diese Zahlungsseite ist nicht mehr gültig.", ""), status_code=410)
        amount = f"{session['amount_total'] / 100:.2f}".replace(".", ",") + " €"
        choices = f"""
<form method="post">
  <fieldset><legend>Zahlungsart</legend>
    <label><input type="radio" name="method" value="card" checked> Karte (Visa, Testkarte 4242 4242 4242 4242)</label>
    <label><input type="radio" name="method" value="mastercard"> Karte (Mastercard, Testkarte …4444)</label>
    <label><input type="radio" name="method" value="sepa_debit"> SEPA-Lastschrift</label>
  </fieldset>
  <button type="submit" name="action" value="pay">{html.escape(amount)} bezahlen</button>
  <button type="submit" name="action" value="cancel">Abbrechen und zurück zum Shop</button>
</form>"""
        return HTMLResponse(page(f"Bestellung {html.escape(str(session['client_reference_id']))}: {amount}", choices))


def page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Testzahlung</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"></head>'
            f'<body><main><p>Stripe-Testzahlung (Stand-in, es fließt kein Geld)</p><h1>{title}</h1>{body}'
            f'</main></body></html>')


def public(session: dict | None) -> dict:
    return {key: value for key, value in (session or {}).items() if key != "payment_intent_data"}


def error(status: int, kind: str, message: str, code: str = "") -> JSONResponse:
    body: dict = {"type": kind, "message": message}
    if code:
        body["code"] = code
    return JSONResponse({"error": body}, status_code=status)
