"""Card, wallet and direct-debit payments through Stripe Checkout, against a stand-in of
Stripe's API that the real `stripe` SDK talks to over HTTP."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import threading
import time

import httpx2
import pytest

from shop.catalog.models import Product
from shop.config import Payments
from shop.mail.models import OutboxMessage
from shop.orders.models import Order, Payment, Refund
from shop.payments import service as payments
from shop.payments.models import PaymentAttempt, PaymentIssue
from shop.payments.registry import available, reconcile
from shop.payments.standin_stripe import StripeStandIn, sign

from .conftest import sign_in_admin
from .standins import served

KEY, SECRET = "sk_test_shop", "whsec_test_shop"


@pytest.fixture
def stripe_api():
    standin = StripeStandIn(KEY, SECRET, deliver=False)
    with served(standin.app) as url:
        standin.base_url = url
        yield standin


@pytest.fixture
def settings(settings, stripe_api):
    return dataclasses.replace(settings, payments=Payments(
        stripe_secret_key=KEY, stripe_webhook_secret=SECRET, stripe_api_base=stripe_api.base_url))


@pytest.fixture
def tea(make_product):
    return make_product("Grüner Tee", price_cents=1290, stock=5)


def order_by_card(shopper, product, quantity=1):
    """Through the checkout to Stripe's page: the order and the page's address."""
    assert shopper.add(product, quantity).status_code == 303
    assert shopper.address().status_code == 303
    assert shopper.delivery(payment="stripe").status_code == 303
    response = shopper.place()
    assert response.status_code == 303, response.text
    return Order.select().order_by(Order.id.desc()).get(), response.headers["location"]


def session_of(stripe_api, url: str) -> dict:
    return stripe_api.sessions[url.rsplit("/", 1)[1]]


def deliver(client, stripe_api) -> list[int]:
    """Send the stand-in's events to the shop, as Stripe would."""
    statuses = []
    while stripe_api.outbox:
        body, signature = stripe_api.outbox.pop(0)
        statuses.append(post_event(client, body, signature).status_code)
    return statuses


def post_event(client, body: str, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post("/payments/stripe/webhook", content=body, headers=headers)


def mails(order, kind):
    return OutboxMessage.select().where((OutboxMessage.order_id == order.id) & (OutboxMessage.kind == kind)).count()


def test_the_checkout_offers_card_payment_and_sends_the_shopper_to_stripe(shopper, client, tea, stripe_api, database):
    order, url = order_by_card(shopper, tea)
    assert url.startswith(stripe_api.base_url + "/pay/cs_test_")
    session = session_of(stripe_api, url)
    assert session["client_reference_id"] == order.number
    assert session["amount_total"] == order.total_cents
    assert order.status == "awaiting_payment" and order.payment_method == "stripe"
    assert Product.get_by_id(tea.id).stock == 4  # held for the buyer while paying
    method, path, key = stripe_api.requests[0]
    assert (method, path, key) == ("POST", "/v1/checkout/sessions", f"{order.number}-1")


def test_the_delivery_step_offers_only_configured_providers(shopper, client, tea, settings):
    shopper.add(tea)
    shopper.address()
    page = client.get("/checkout/delivery").text
    assert 'value="stripe"' in page and 'value="prepayment"' in page and 'value="paypal"' not in page
    assert shopper.delivery(payment="paypal").status_code == 422


def test_without_keys_stripe_is_absent(shopper, client, tea, app):
    app.state.settings = dataclasses.replace(app.state.settings, payments=Payments())
    shopper.add(tea)
    shopper.address()
    assert 'value="stripe"' not in client.get("/checkout/delivery").text
    assert client.post("/payments/stripe/webhook", content="{}").status_code == 404


def test_the_review_page_lets_the_order_button_lead_to_stripe_and_nowhere_else(shopper, client, tea, stripe_api):
    shopper.add(tea)
    shopper.address()
    shopper.delivery(payment="stripe")
    policy = client.get("/checkout/review").headers["content-security-policy"]
    assert f"form-action 'self' {stripe_api.base_url};" in policy
    assert "script-src 'self';" in policy


def test_a_paid_session_makes_the_order_paid_once_with_the_card_shown(shopper, client, tea, stripe_api, database):
    order, url = order_by_card(shopper, tea)
    page = httpx2.post(url, data={"action": "pay", "method": "card"})
    assert page.status_code == 303
    back = page.headers["location"]
    assert back.startswith(f"http://127.0.0.1:8000/orders/{order.number}?token=") and back.endswith("payment=returned")
    # Back in the shop before the event: being confirmed, not paid.
    returned = client.get(back.removeprefix("http://127.0.0.1:8000")).text
    assert Order.get_by_id(order.id).status == "awaiting_payment"
    assert "hx-trigger=\"every 2s\"" in returned
    assert deliver(client, stripe_api) == [200]
    order = Order.get_by_id(order.id)
    assert (order.status, order.payment_status) == ("paid", "paid")
    payment = Payment.get(Payment.order == order.id)
    assert (payment.provider, payment.amount_cents, payment.card_brand, payment.card_last4) == (
        "stripe", order.total_cents, "visa", "4242")
    assert mails(order, "order_paid") == 1
    shown = client.get(back.removeprefix("http://127.0.0.1:8000")).text
    assert "Visa •••• 4242" in shown
    assert "every 2s" not in shown


def test_the_same_event_three_times_at_once_pays_once_and_mails_once(shopper, client, tea, stripe_api, database):
    order, url = order_by_card(shopper, tea)
    stripe_api.pay(session_of(stripe_api, url)["id"])
    body, signature = stripe_api.outbox.pop()
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(post_event(client, body, signature).status_code))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200, 200, 200]
    assert Payment.select().where(Payment.order == order.id).count() == 1
    assert mails(order, "order_paid") == 1


@pytest.mark.parametrize("tamper", ["bad signature", "no header", "reserialised", "stale"])
def test_events_not_signed_by_stripe_are_refused_and_change_nothing(shopper, client, tea, stripe_api, database, tamper):
    order, url = order_by_card(shopper, tea)
    stripe_api.pay(session_of(stripe_api, url)["id"])
    body, signature = stripe_api.outbox.pop()
    if tamper == "bad signature":
        signature = sign(body, "whsec_someone_else")
    elif tamper == "no header":
        signature = None
    elif tamper == "reserialised":
        body = json.dumps(json.loads(body), indent=2)
    else:
        signature = sign(body, SECRET, timestamp=int(time.time()) - 301)
    assert post_event(client, body, signature).status_code == 400
    assert Order.get_by_id(order.id).status == "awaiting_payment"
    assert not Payment.select().exists()


def test_a_failed_or_expired_event_after_payment_leaves_the_order_paid(shopper, client, tea, stripe_api, database):
    order, url = order_by_card(shopper, tea)
    session_id = session_of(stripe_api, url)["id"]
    stripe_api.pay(session_id)
    deliver(client, stripe_api)
    stripe_api.event("checkout.session.async_payment_failed", stripe_api.sessions[session_id])
    stripe_api.event("checkout.session.expired", {**stripe_api.sessions[session_id], "status": "expired"})
    assert deliver(client, stripe_api) == [200, 200]
    order = Order.get_by_id(order.id)
    assert (order.status, order.payment_status) == ("paid", "paid")
    assert Product.get_by_id(order.lines[0].product_id).stock == 4
    assert mails(order, "order_cancelled") == 0 and mails(order, "order_payment_failed") == 0


def test_a_payment_of_another_amount_does_not_pay_the_order_and_is_reported(shopper, client, tea, stripe_api, database):
    order, url = order_by_card(shopper, tea)
    session = session_of(stripe_api, url)
    session["amount_total"] = order.total_cents - 100
    stripe_api.pay(session["id"])
    assert deliver(client, stripe_api) == [200]
    assert Order.get_by_id(order.id).status == "awaiting_payment"
    issue = PaymentIssue.get()
    assert (issue.kind, issue.amount_cents, issue.order_id) == ("amount_mismatch", order.total_cents - 100, order.id)


def test_a_success_address_alone_pays_nothing(shopper, client, tea, make_product, stripe_api, database):
    order, url = order_by_card(shopper, tea)
    session = session_of(stripe_api, url)
    forged = session["success_url"].removeprefix("http://127.0.0.1:8000")
    assert client.get(forged).status_code == 200
    assert Order.get_by_id(order.id).status == "awaiting_payment"
    # Someone else's order number with this order's link: not found, nothing paid.
    other = forged.replace(order.number, "2026-999999")
    assert client.get(other).status_code == 404
    assert client.get(f"/orders/{order.number}/payment?token=forged").status_code == 404
    assert not Payment.select().exists()


def test_stripe_answering_500_then_200_makes_one_session_under_one_key(shopper, client, tea, stripe_api, database):
    stripe_api.fail_next = 1
    order, url = order_by_card(shopper, tea)
    assert url.startswith(stripe_api.base_url + "/pay/")
    calls = [request for request in stripe_api.requests if request[1] == "/v1/checkout/sessions"]
    assert [key for _, _, key in calls] == [f"{order.number}-1"] * 2
    assert len(stripe_api.sessions) == 1
    assert Order.select().count() == 1


def test_stripe_unreachable_keeps_the_order_payable(shopper, client, tea, stripe_api, database):
    stripe_api.fail_next = 3  # the first call and both retries
    order, url = order_by_card(shopper, tea)
    assert url.startswith(f"/orders/{order.number}?token=")
    page = client.get(url).text
    assert "Your order is not paid yet" in page or "noch nicht bezahlt" in page
    response = shopper.post(f"/orders/{order.number}/pay", {"token": url.split("token=")[1]})
    assert response.status_code == 303 and response.headers["location"].startswith(stripe_api.base_url)


def test_a_shop_that_died_before_keeping_the_session_is_repaired_once(shopper, client, tea, stripe_api, database,
                                                                        settings, monkeypatch):
    def die(*args):  # the process ends between Stripe's answer and the shop's commit
        raise RuntimeError("killed")

    monkeypatch.setattr(payments, "attempt_started", die)
    with pytest.raises(RuntimeError, match="killed"):
        order_by_card(shopper, tea)
    monkeypatch.undo()
    order = Order.get()
    attempt = PaymentAttempt.get()
    assert attempt.provider_id is None and len(stripe_api.sessions) == 1
    session_id = next(iter(stripe_api.sessions))
    stripe_api.pay(session_id)
    stripe_api.outbox.clear()  # the event never arrives
    monkeypatch.setattr(payments, "CHECK_AFTER", dt.timedelta(0))  # as a minute later
    reconcile(settings)
    reconcile(settings)
    order = Order.get_by_id(order.id)
    assert (order.status, order.payment_status) == ("paid", "paid")
    assert PaymentAttempt.get().provider_id == session_id
    assert Payment.select().count() == 1 and mails(order, "order_paid") == 1
    assert len(stripe_api.sessions) == 1
