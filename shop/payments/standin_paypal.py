"""A stand-in for the part of PayPal's REST API the shop uses, for the tests and the demo.

It answers with PayPal's documented shapes: an OAuth token for the client's id and
secret (HTTP basic auth), Orders v2 (create, idempotent per PayPal-Request-Id; get;
capture, idempotent too (a successful answer is repeated for the same id), 422 ORDER_NOT_APPROVED before approval and
ORDER_ALREADY_CAPTURED after), captures and their refunds, and the webhook signature
check. It serves an approval page of its own (`/checkoutnow?token=<order id>`) where a
visitor pays or cancels. Each change sends an event to the shop's webhook with PayPal's
PAYPAL-* headers, as PayPal does (or, with `deliver=False`, keeps it in `outbox` for a
test to send).

PayPal signs its events with a certificate (SHA256withRSA) that the shop has PayPal's
API check. The stand-in's `transmission_sig` instead is the HMAC-SHA256, keyed with the
client secret, of `transmission_id|transmission_time|webhook_id|sha256(event)` where the
event is hashed as canonical JSON (sorted keys, no spaces, UTF-8); its
verify-webhook-signature answers SUCCESS only for that. `sign()` makes one.

Not a payment service: nothing here moves money.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import html
import itertools
import json
import secrets
import threading
import time
import uuid
from typing import Any, Callable
from urllib.parse import urlencode

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

PAYER_ID = "TESTPAYER0001"
PAYER: dict[str, Any] = {"name": {"given_name": "Erika", "surname": "Mustermann"}, "email_address": "erika@example.org",
         "payer_id": PAYER_ID, "address": {"country_code": "DE"}}
MESSAGES = {
    "ORDER_NOT_APPROVED": "Payer has not yet approved the Order for payment.",
    "ORDER_ALREADY_CAPTURED": "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed.",
    "INSTRUMENT_DECLINED": "The instrument presented was either declined by the processor or bank, "
                           "or it can't be used for this payment.",
    "REFUND_AMOUNT_EXCEEDED": "The refund amount must be less than or equal to the capture amount "
                              "that has not yet been refunded.",
    "INVALID_RESOURCE_ID": "Specified resource ID does not exist. Please check the resource ID and try again.",
}


def canonical(event: dict) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(event: dict, transmission_id: str, transmission_time: str, webhook_id: str, secret: str) -> str:
    """The stand-in's `transmission_sig` for an event (see the module's docstring)."""
    message = f"{transmission_id}|{transmission_time}|{webhook_id}|{hashlib.sha256(canonical(event)).hexdigest()}"
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()).decode()


def timestamp(at: float | None = None) -> str:
    moment = dt.datetime.fromtimestamp(time.time() if at is None else at, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class PayPalStandIn:
    def __init__(self, client_id: str, secret: str, webhook_id: str, webhook_url: str = "", deliver: bool = True):
        self.client_id, self.secret, self.webhook_id, self.webhook_url = client_id, secret, webhook_id, webhook_url
        self.deliver = deliver
        self.base_url = ""  # where it is served; set by whoever serves it
        self.orders: dict[str, dict] = {}
        self.captures: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.tokens: set[str] = set()
        self.outbox: list[tuple[str, dict]] = []  # (body, headers) not delivered
        self.sent: list[dict] = []  # every event made
        self.requests: list[tuple[str, str, str]] = []  # (method, path, PayPal-Request-Id) of API calls
        self.fail_next = 0  # answer this many API requests (not the token's) with a 500 first
        self.decline: set[str] = set()  # orders whose capture PayPal declines (INSTRUMENT_DECLINED)
        self._idempotent: dict[tuple[str, str], tuple[Any, Response]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.app = Starlette(routes=[
            Route("/v1/oauth2/token", self.token, methods=["POST"]),
            Route("/v2/checkout/orders", self.create_order, methods=["POST"]),
            Route("/v2/checkout/orders/{id}", self.get_order),
            Route("/v2/checkout/orders/{id}/capture", self.capture_order, methods=["POST"]),
            Route("/v2/payments/captures/{id}", self.get_capture),
            Route("/v2/payments/captures/{id}/refund", self.refund_capture, methods=["POST"]),
            Route("/v1/notifications/verify-webhook-signature", self.verify_signature, methods=["POST"]),
            Route("/checkoutnow", self.approval_page, methods=["GET", "POST"]),
        ])

    def new_id(self) -> str:
        """PayPal's ids: 17 upper-case letters and digits."""
        return f"{next(self._ids):05d}{secrets.token_hex(6)}".upper()

    def link(self, path: str, rel: str, method: str = "GET") -> dict:
        return {"href": f"{self.base_url}{path}", "rel": rel, "method": method}

    # -- the API -------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        expected = base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
        form = await request.form()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client", "error_description": "Client Authentication failed"},
                                status_code=401)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"},
                                status_code=400)
        token = f"A21AA{secrets.token_urlsafe(24)}"
        self.tokens.add(token)
        return JSONResponse({"scope": "https://uri.paypal.com/services/payments/payment", "access_token": token,
                             "token_type": "Bearer", "app_id": "APP-STANDIN", "expires_in": 32400,
                             "nonce": secrets.token_hex(8)})

    async def _call(self, request: Request, handle: Callable[[Any], Response]) -> Response:
        if request.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return problem(401, "AUTHENTICATION_FAILURE", "Authentication failed due to invalid authentication "
                                                          "credentials or a missing Authorization header.")
        key = request.headers.get("paypal-request-id", "")
        self.requests.append((request.method, request.url.path, key))
        if self.fail_next:
            self.fail_next -= 1
            return problem(500, "INTERNAL_SERVER_ERROR", "An internal server error has occurred.")
        body = None
        if request.method == "POST":
            try:
                body = json.loads(await request.body() or b"{}")
            except ValueError:
                return problem(400, "INVALID_REQUEST", "Request is not well-formed, syntactically incorrect, "
                                                      "or violates schema.", "MALFORMED_REQUEST_JSON")
        with self._lock:
            seen = self._idempotent.get((request.url.path, key)) if key else None
            if seen is not None:
                if seen[0] != body:
                    return problem(422, "UNPROCESSABLE_ENTITY", "The same PayPal-Request-Id came with another "
                                                                "request (the stand-in is strict here).",
                                   "DUPLICATE_REQUEST_ID")
                return seen[1]
            response = handle(body)
            if key and response.status_code < 300:  # a refusal is not kept: asked again, asked anew
                self._idempotent[(request.url.path, key)] = (body, response)
        return response

    async def create_order(self, request: Request) -> Response:
        return await self._call(request, self._create_order)

    def _create_order(self, body: dict) -> Response:
        units = body.get("purchase_units") or []
        if body.get("intent") != "CAPTURE" or len(units) != 1 or "amount" not in units[0]:
            return problem(422, "UNPROCESSABLE_ENTITY", "The requested action could not be performed.",
                           "MISSING_REQUIRED_PARAMETER")
        unit = units[0]
        breakdown = unit["amount"].get("breakdown")
        if breakdown and sum(cents(part["value"]) for part in breakdown.values()) != cents(unit["amount"]["value"]):
            return problem(422, "UNPROCESSABLE_ENTITY", "Should equal item_total + tax_total + shipping …",
                           "AMOUNT_MISMATCH")
        order_id = self.new_id()
        context = ((body.get("payment_source") or {}).get("paypal") or {}).get("experience_context") or {}
        self.orders[order_id] = {
            "id": order_id, "intent": "CAPTURE", "status": "PAYER_ACTION_REQUIRED",
            "payment_source": {"paypal": {}}, "purchase_units": [{**unit, "reference_id": unit.get("reference_id",
                                                                                                  "default"),
                                                                  "payee": {"merchant_id": "STANDINMERCHANT"}}],
            "create_time": timestamp(), "experience_context": context,
        }
        return JSONResponse(self.shown(order_id, minimal=True), status_code=200)

    def shown(self, order_id: str, minimal: bool = False) -> dict:
        order = {key: value for key, value in self.orders[order_id].items() if key != "experience_context"}
        links = [self.link(f"/v2/checkout/orders/{order_id}", "self")]
        if order["status"] in ("CREATED", "PAYER_ACTION_REQUIRED"):
            links.append(self.link(f"/checkoutnow?token={order_id}", "payer-action"))
        if order["status"] == "APPROVED":
            links.append(self.link(f"/v2/checkout/orders/{order_id}/capture", "capture", "POST"))
        if minimal:
            return {"id": order_id, "status": order["status"], "payment_source": order["payment_source"],
                    "links": links}
        return {**order, "links": links}

    async def get_order(self, request: Request) -> Response:
        order_id = request.path_params["id"]
        return await self._call(request, lambda body: JSONResponse(self.shown(order_id)) if order_id in self.orders
                                else not_found())

    async def capture_order(self, request: Request) -> Response:
        return await self._call(request, lambda body: self._capture(request.path_params["id"]))

    def _capture(self, order_id: str) -> Response:
        order = self.orders.get(order_id)
        if order is None:
            return not_found()
        if order["status"] == "COMPLETED":
            return problem(422, "UNPROCESSABLE_ENTITY", "The requested action could not be performed.",
                           "ORDER_ALREADY_CAPTURED")
        if order["status"] != "APPROVED":
            return problem(422, "UNPROCESSABLE_ENTITY", "The requested action could not be performed.",
                           "ORDER_NOT_APPROVED")
        if order_id in self.decline:
            return problem(422, "UNPROCESSABLE_ENTITY", "The requested action could not be performed.",
                           "INSTRUMENT_DECLINED")
        self.capture(order_id)
        return JSONResponse(self.shown(order_id), status_code=201)

    async def get_capture(self, request: Request) -> Response:
        capture_id = request.path_params["id"]
        return await self._call(request, lambda body: JSONResponse(self.captures[capture_id])
                                if capture_id in self.captures else not_found())

    async def refund_capture(self, request: Request) -> Response:
        def handle(body: dict) -> Response:
            capture = self.captures.get(request.path_params["id"])
            if capture is None:
                return not_found()
            amount = (body or {}).get("amount") or capture["amount"]
            if cents(amount["value"]) > self.refundable(capture["id"]):
                return problem(422, "UNPROCESSABLE_ENTITY", "The requested action could not be performed.",
                               "REFUND_AMOUNT_EXCEEDED")
            refund = self.refund(capture["id"], cents(amount["value"]))
            return JSONResponse({"id": refund["id"], "status": refund["status"], "links": refund["links"]},
                                status_code=201)
        return await self._call(request, handle)

    async def verify_signature(self, request: Request) -> Response:
        def verify(body: dict) -> Response:
            fields = ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time",
                      "webhook_id", "webhook_event")
            if not isinstance(body, dict) or not all(body.get(field) for field in fields):
                return problem(400, "VALIDATION_ERROR", "Invalid request - see details.", "MISSING_REQUIRED_FIELD")
            expected = sign(body["webhook_event"], body["transmission_id"], body["transmission_time"],
                            body["webhook_id"], self.secret)
            genuine = body["webhook_id"] == self.webhook_id and hmac.compare_digest(
                expected, str(body["transmission_sig"]))
            return JSONResponse({"verification_status": "SUCCESS" if genuine else "FAILURE"})
        return await self._call(request, verify)

    # -- what happens at PayPal, also for tests to call --------------------------------------

    def approve(self, order_id: str) -> dict:
        """The buyer approves the payment on PayPal's page."""
        order = self.orders[order_id]
        order.update(status="APPROVED", payer=PAYER, payment_source={"paypal": {
            "email_address": PAYER["email_address"], "account_id": PAYER_ID, "name": PAYER["name"]}})
        return self.event("CHECKOUT.ORDER.APPROVED", self.shown(order_id))

    def capture(self, order_id: str, status: str = "COMPLETED") -> dict:
        """The order's money taken (as the shop's capture call does)."""
        order = self.orders[order_id]
        unit = order["purchase_units"][0]
        capture_id = self.new_id()
        capture = {
            "id": capture_id, "status": status,
            "amount": {key: value for key, value in unit["amount"].items() if key != "breakdown"},
            "final_capture": True, "seller_protection": {"status": "ELIGIBLE"},
            "custom_id": unit.get("custom_id"), "invoice_id": unit.get("invoice_id"),
            "supplementary_data": {"related_ids": {"order_id": order_id}},
            "create_time": timestamp(), "update_time": timestamp(),
            "links": [self.link(f"/v2/payments/captures/{capture_id}", "self"),
                      self.link(f"/v2/payments/captures/{capture_id}/refund", "refund", "POST"),
                      self.link(f"/v2/checkout/orders/{order_id}", "up")],
        }
        self.captures[capture_id] = capture
        order["status"] = "COMPLETED"
        unit["payments"] = {"captures": [{key: value for key, value in capture.items()
                                          if key != "supplementary_data"}]}
        self.event(f"PAYMENT.CAPTURE.{status}", capture)
        return capture

    def refundable(self, capture_id: str) -> int:
        refunded = sum(cents(r["amount"]["value"]) for r in self.refunds.values() if r["capture_id"] == capture_id)
        return cents(self.captures[capture_id]["amount"]["value"]) - refunded

    def refund(self, capture_id: str, amount_cents: int) -> dict:
        """Money paid back, as through the API or PayPal's dashboard."""
        capture = self.captures[capture_id]
        refund_id = self.new_id()
        refund = {"id": refund_id, "status": "COMPLETED", "capture_id": capture_id,
                  "amount": {"currency_code": capture["amount"]["currency_code"], "value": euros(amount_cents)},
                  "invoice_id": capture.get("invoice_id"), "create_time": timestamp(), "update_time": timestamp(),
                  "links": [self.link(f"/v2/payments/refunds/{refund_id}", "self"),
                            self.link(f"/v2/payments/captures/{capture_id}", "up")]}
        self.refunds[refund_id] = refund
        capture["status"] = "REFUNDED" if self.refundable(capture_id) == 0 else "PARTIALLY_REFUNDED"
        self.event("PAYMENT.CAPTURE.REFUNDED", {k: v for k, v in refund.items() if k != "capture_id"})
        return refund

    def dispute(self, capture_id: str) -> dict:
        capture = self.captures[capture_id]
        return self.event("CUSTOMER.DISPUTE.CREATED", {
            "dispute_id": f"PP-D-{next(self._ids)}", "create_time": timestamp(), "status": "OPEN",
            "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED", "dispute_amount": capture["amount"],
            "disputed_transactions": [{"seller_transaction_id": capture_id}]})

    def event(self, kind: str, resource: dict) -> dict:
        event = {"id": f"WH-{self.new_id()}", "event_version": "1.0", "create_time": timestamp(),
                 "resource_type": kind.split(".")[1].lower(), "event_type": kind,
                 "summary": f"{kind} (stand-in)", "resource": resource, "links": []}
        self.sent.append(event)
        body = json.dumps(event)
        headers = self.headers(event)
        if self.deliver and self.webhook_url:
            threading.Thread(target=self._post, args=(body, headers), daemon=True).start()
        else:
            self.outbox.append((body, headers))
        return event

    def headers(self, event: dict, sent_at: float | None = None, secret: str | None = None) -> dict:
        """PayPal's PAYPAL-* headers for an event (signed with another `secret`, for a test)."""
        transmission_id, sent = str(uuid.uuid4()), timestamp(sent_at)
        return {"Content-Type": "application/json", "PAYPAL-AUTH-ALGO": "SHA256withRSA",
                "PAYPAL-CERT-URL": f"{self.base_url}/v1/notifications/certs/CERT-STANDIN",
                "PAYPAL-TRANSMISSION-ID": transmission_id, "PAYPAL-TRANSMISSION-TIME": sent,
                "PAYPAL-TRANSMISSION-SIG": sign(event, transmission_id, sent, self.webhook_id,
                                                self.secret if secret is None else secret),
                "PAYPAL-AUTH-VERSION": "v2"}

    def _post(self, body: str, headers: dict) -> None:
        """Deliver as PayPal does: until the shop answers 2xx, a few times."""
        for pause in (0, 0.5, 2, 5):
            time.sleep(pause)
            try:
                if httpx2.post(self.webhook_url, content=body, headers=headers, timeout=10).status_code < 300:
                    return
            except httpx2.HTTPError:
                pass

    # -- the approval page ------------------------------------------------------------------

    async def approval_page(self, request: Request) -> Response:
        order_id = request.query_params.get("token", "")
        order = self.orders.get(order_id)
        if order is None:
            return HTMLResponse(page("Unbekannte Zahlung", ""), status_code=404)
        if order["status"] not in ("CREATED", "PAYER_ACTION_REQUIRED"):
            return HTMLResponse(page("Diese Zahlung ist schon freigegeben.", ""), status_code=410)
        context = order["experience_context"]
        if request.method == "POST":
            if (await request.form()).get("action") == "cancel":
                return RedirectResponse(with_query(context["cancel_url"], token=order_id), status_code=303)
            self.approve(order_id)
            return RedirectResponse(with_query(context["return_url"], token=order_id, PayerID=PAYER_ID),
                                    status_code=303)
        amount = order["purchase_units"][0]["amount"]["value"].replace(".", ",") + " €"
        buttons = """
<form method="post">
  <p>Angemeldet als Erika Mustermann (erika@example.org)</p>
  <button type="submit" name="action" value="pay">Jetzt zahlen</button>
  <button type="submit" name="action" value="cancel">Abbrechen und zurück zum Shop</button>
</form>"""
        reference = html.escape(str(order["purchase_units"][0].get("reference_id")))
        return HTMLResponse(page(f"Bestellung {reference}: {html.escape(amount)}", buttons))


def with_query(url: str, **params: str) -> str:
    """`url` with PayPal's parameters added, as PayPal adds them."""
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="de"><head><meta charset="utf-8"><title>PayPal-Testzahlung</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"></head>'
            f'<body><main><p>PayPal-Testzahlung (Stand-in, es fließt kein Geld)</p><h1>{title}</h1>{body}'
            f'</main></body></html>')


def cents(amount: str) -> int:
    euros, _, hundredths = str(amount).partition(".")
    return int(euros) * 100 + int((hundredths + "00")[:2])


def euros(amount_cents: int) -> str:
    return f"{amount_cents // 100}.{amount_cents % 100:02d}"


def problem(status: int, name: str, message: str, issue: str = "") -> JSONResponse:
    body: dict = {"name": name, "message": message, "debug_id": secrets.token_hex(7),
                  "links": [{"href": "https://developer.paypal.com/api/rest/reference/orders/v2/errors/",
                             "rel": "information_link"}]}
    if issue:
        body["details"] = [{"issue": issue, "description": MESSAGES.get(issue, message)}]
    return JSONResponse(body, status_code=status)


def not_found() -> JSONResponse:
    return problem(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.", "INVALID_RESOURCE_ID")
