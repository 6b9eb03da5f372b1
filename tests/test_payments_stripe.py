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
from .standins import order_paying_online, served

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
    return order_paying_online(shopper, product, "stripe", quantity)


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
    assert mails(order, "order_paid") == 1
    shown = client.get(back.removeprefix("http://127.0.0.1:8000")).text
    assert "bezahlt mit Stripe" in shown or "paid with Stripe" in shown
    assert "every 2s" not in shown
    # How it was paid, asked by the worker's next round.
    reconcile(client.app.state.settings)
    payment = Payment.get(Payment.order == order.id)
    assert (payment.provider, payment.amount_cents, payment.card_brand, payment.card_last4) == (
        "stripe", order.total_cents, "visa", "4242")
    assert "Visa •••• 4242" in client.get(back.removeprefix("http://127.0.0.1:8000")).text


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
    from shop.payments.stripe_checkout import StripeCheckout

    answered = StripeCheckout.start

    def die(self, order, attempt):  # the process ends right after Stripe has answered
        answered(self, order, attempt)
        raise RuntimeError("killed")

    monkeypatch.setattr(StripeCheckout, "start", die)
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


def paid_order(shopper, client, stripe_api, product, quantity=1):
    order, url = order_by_card(shopper, product, quantity)
    stripe_api.pay(session_of(stripe_api, url)["id"])
    assert deliver(client, stripe_api) == [200]
    reconcile(client.app.state.settings)  # how it was paid
    return Order.get_by_id(order.id), session_of(stripe_api, url)


def test_an_expired_page_cancels_the_unpaid_order_and_returns_its_stock(shopper, client, tea, stripe_api, database):
    order, url = order_by_card(shopper, tea, 2)
    assert Product.get_by_id(tea.id).stock == 3
    stripe_api.expire(session_of(stripe_api, url)["id"])
    assert deliver(client, stripe_api) == [200]
    assert Order.get_by_id(order.id).status == "cancelled"
    assert Product.get_by_id(tea.id).stock == 5
    assert mails(order, "order_cancelled") == 1


def test_a_direct_debit_is_on_its_way_until_its_money_arrives(shopper, client, tea, stripe_api, database):
    order, url = order_by_card(shopper, tea)
    session_id = session_of(stripe_api, url)["id"]
    stripe_api.pay(session_id, method="sepa_debit")
    assert deliver(client, stripe_api) == [200]
    assert Order.get_by_id(order.id).status == "awaiting_payment"
    page = client.get(url_of(order)).text
    assert "Your payment is on its way" in page or "unterwegs" in page
    stripe_api.settle(session_id)
    assert deliver(client, stripe_api) == [200]
    reconcile(client.app.state.settings)
    order = Order.get_by_id(order.id)
    assert order.status == "paid"
    assert Payment.get(Payment.order == order.id).method == "sepa_debit"
    assert "SEPA" in client.get(url_of(order)).text


def test_a_returned_direct_debit_tells_the_customer_how_to_pay(shopper, client, tea, stripe_api, database):
    order, url = order_by_card(shopper, tea)
    session_id = session_of(stripe_api, url)["id"]
    stripe_api.pay(session_id, method="sepa_debit")
    stripe_api.settle(session_id, succeeded=False)
    assert deliver(client, stripe_api) == [200, 200]
    assert Order.get_by_id(order.id).status == "awaiting_payment"
    assert mails(order, "order_payment_failed") == 1
    page = client.get(url_of(order)).text
    assert "Pay by bank transfer instead" in page or "Überweisung" in page


def url_of(order) -> str:
    from shop.orders.service import order_token
    from shop.config import Settings

    token = order_token(Settings(database_url="", secret_key="test-secret-key"), order.number)
    return f"/orders/{order.number}?token={token}"


def test_cancelled_at_stripe_the_order_can_be_paid_again_or_by_transfer(shopper, client, tea, stripe_api, database):
    order, url = order_by_card(shopper, tea)
    first = session_of(stripe_api, url)
    back = httpx2.post(url, data={"action": "cancel"}).headers["location"]
    assert back.endswith("payment=cancelled")
    page = client.get(back.removeprefix("http://127.0.0.1:8000")).text
    assert "The payment was cancelled" in page or "abgebrochen" in page
    token = back.split("token=")[1].split("&")[0]
    again = shopper.post(f"/orders/{order.number}/pay", {"token": token})
    assert again.status_code == 303 and again.headers["location"] == url  # the page is still open
    assert first["status"] == "open" and len(stripe_api.sessions) == 1
    switched = shopper.post(f"/orders/{order.number}/pay/transfer", {"token": token})
    assert switched.status_code == 303
    page = client.get(switched.headers["location"]).text
    assert Order.get_by_id(order.id).payment_method == "prepayment"
    assert "IBAN" in page
    assert all(session["status"] == "expired" for session in stripe_api.sessions.values())


def test_another_visitor_cannot_pay_or_switch_someone_elses_order(shopper, client, tea, stripe_api, database, app):
    from starlette.testclient import TestClient
    from .conftest import Shopper

    order, url = order_by_card(shopper, tea)
    stranger = Shopper(TestClient(app, follow_redirects=False))
    assert stranger.post(f"/orders/{order.number}/pay", {"token": "forged"}).status_code == 404
    assert stranger.post(f"/orders/{order.number}/pay/transfer", {"token": ""}).status_code == 404
    assert Order.get_by_id(order.id).payment_method == "stripe"


def test_a_partial_then_full_refund_from_the_back_office_goes_through_stripe(shopper, client, tea, stripe_api, database,
                                                                            app):
    order, session = paid_order(shopper, client, stripe_api, tea, 2)
    admin = sign_in_admin(app)
    page = admin.client.get(f"/admin/orders/{order.number}").text
    assert "Visa •••• 4242" in page
    response = admin.post(f"/admin/orders/{order.number}/refund", {"amount": "5,00"})
    assert response.status_code == 303, response.text
    refund = Refund.get(Refund.order == order.id)
    assert refund.provider == "stripe" and refund.provider_id.startswith("re_test_")
    assert stripe_api.refunds[refund.provider_id]["amount"] == 500
    assert stripe_api.requests[-1][2] == f"{order.number}-refund-1"
    assert Order.get_by_id(order.id).payment_status == "partly_refunded"
    assert mails(order, "order_refunded_partly") == 1
    # Stripe's event for that refund: already recorded.
    assert deliver(client, stripe_api) == [200]
    assert Refund.select().count() == 1
    rest = order.total_cents - 500
    response = admin.post(f"/admin/orders/{order.number}/refund", {"amount": f"{rest / 100:.2f}".replace(".", ",")})
    assert response.status_code == 303
    assert Order.get_by_id(order.id).status == "refunded"
    assert sum(r["amount"] for r in stripe_api.refunds.values()) == order.total_cents
    assert mails(order, "order_refunded") == 1
    assert "5,00" in client.get(url_of(order)).text


def test_a_refund_stripe_refuses_changes_nothing_here(shopper, client, tea, stripe_api, database, app):
    order, session = paid_order(shopper, client, stripe_api, tea)
    stripe_api.refund(session["payment_intent"], order.total_cents)  # all of it, in Stripe's dashboard
    stripe_api.outbox.clear()
    admin = sign_in_admin(app)
    response = admin.post(f"/admin/orders/{order.number}/refund", {"amount": "1,00"},
                          headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "Stripe" in response.text
    assert not Refund.select().exists()


def test_a_refund_made_in_stripes_dashboard_is_recorded_from_its_event(shopper, client, tea, stripe_api, database):
    order, session = paid_order(shopper, client, stripe_api, tea)
    stripe_api.refund(session["payment_intent"], 300)
    assert deliver(client, stripe_api) == [200]
    refund = Refund.get()
    assert (refund.amount_cents, refund.provider) == (300, "stripe")
    assert Order.get_by_id(order.id).payment_status == "partly_refunded"


def test_cancelling_a_paid_card_order_pays_everything_back_through_stripe(shopper, client, tea, stripe_api,
                                                                         database, app):
    order, session = paid_order(shopper, client, stripe_api, tea)
    admin = sign_in_admin(app)
    assert admin.post(f"/admin/orders/{order.number}/cancel", {"reason": "Kundin wünscht es"}).status_code == 303
    order = Order.get_by_id(order.id)
    assert (order.status, order.payment_status) == ("cancelled", "refunded")
    assert [r["amount"] for r in stripe_api.refunds.values()] == [order.total_cents]
    assert Refund.get().provider_id in stripe_api.refunds
    assert Product.get_by_id(tea.id).stock == 5


def test_a_dispute_is_reported_in_the_back_office(shopper, client, tea, stripe_api, database, app):
    order, session = paid_order(shopper, client, stripe_api, tea)
    stripe_api.dispute(session["payment_intent"])
    assert deliver(client, stripe_api) == [200]
    issue = PaymentIssue.get()
    assert (issue.kind, issue.order_id) == ("dispute", order.id)
    admin = sign_in_admin(app)
    listed = admin.client.get("/admin/payments").text
    assert order.number in listed and issue.reference in listed
    assert admin.post(f"/admin/payments/{issue.id}/settle").status_code == 303
    assert PaymentIssue.get().resolved_by == "chefin@example.org"
    assert "No payment issue to settle." in admin.client.get("/admin/payments").text or \
        "Kein" in admin.client.get("/admin/payments").text
    from shop.audit.models import AuditEntry
    assert AuditEntry.select().where(AuditEntry.action == "settle").count() == 1
    assert admin.post("/admin/payments/999999/settle").status_code == 404


def test_payments_marked_here_but_not_at_stripe_are_reported(shopper, client, tea, stripe_api, database, settings,
                                                             monkeypatch):
    order, session = paid_order(shopper, client, stripe_api, tea)
    stripe_api.intents[session["payment_intent"]]["status"] = "canceled"
    monkeypatch.setattr(payments, "CHECK_AFTER", dt.timedelta(0))
    reconcile(settings)
    reconcile(settings)
    issue = PaymentIssue.get()
    assert (issue.kind, issue.order_id) == ("not_at_provider", order.id)
    assert Order.get_by_id(order.id).status == "paid"  # a person decides


def test_unknown_events_are_acknowledged(client, stripe_api, database):
    stripe_api.event("customer.created", {"id": "cus_1", "object": "customer"})
    assert deliver(client, stripe_api) == [200]


def test_the_account_order_list_shows_how_each_order_was_paid_and_paid_back(client, tea, stripe_api, database,
                                                                             app):
    from .conftest import ADMIN_PASSWORD, Shopper
    from shop.accounts.models import User
    from shop.accounts.passwords import hash_password
    from shop.db import now

    User.create(email="anna@example.org", name="Anna", password_hash=hash_password(ADMIN_PASSWORD),
                email_verified_at=now())
    shopper = Shopper(client)
    assert shopper.post("/account/login", {"email": "anna@example.org", "password": ADMIN_PASSWORD}).status_code == 303
    order, session = paid_order(shopper, client, stripe_api, tea)
    stripe_api.refund(session["payment_intent"], 200)
    deliver(client, stripe_api)
    listed = client.get("/account/orders").text
    assert order.number in listed and "Visa •••• 4242" in listed
    assert "2,00" in listed


def test_money_for_an_order_paid_already_is_reported_not_counted(shopper, client, tea, stripe_api, database):
    order, session = paid_order(shopper, client, stripe_api, tea)
    stripe_api.pay(session["id"])  # paid a second time, in another tab
    assert deliver(client, stripe_api) == [200]
    assert Payment.select().count() == 1
    issue = PaymentIssue.get()
    assert (issue.kind, issue.amount_cents) == ("unexpected_payment", order.total_cents)
    assert "Bezahlt" in issue.detail or "Paid" in issue.detail
    assert mails(order, "order_paid") == 1


def test_after_an_expired_page_paying_again_opens_a_new_one(shopper, client, tea, stripe_api, database, app):
    order, url = order_by_card(shopper, tea)
    token = url_of(order).split("token=")[1]
    stripe_api.fail_next = 0
    # The page expired while the order was kept (a newer attempt keeps it open): simulated by
    # the attempt's state, as after a returned direct debit.
    stripe_api.pay(session_of(stripe_api, url)["id"], method="sepa_debit")
    stripe_api.settle(session_of(stripe_api, url)["id"], succeeded=False)
    deliver(client, stripe_api)
    again = shopper.post(f"/orders/{order.number}/pay", {"token": token})
    assert again.status_code == 303 and again.headers["location"] != url
    assert [a.number for a in PaymentAttempt.select().order_by(PaymentAttempt.number)] == [1, 2]
    stripe_api.pay(again.headers["location"].rsplit("/", 1)[1])
    assert deliver(client, stripe_api) == [200]
    assert Order.get_by_id(order.id).status == "paid"


def test_the_payment_mail_is_written_when_the_worker_sends_it(shopper, client, tea, stripe_api, database, settings,
                                                              tmp_path):
    from shop.mail.outbox import deliver_due

    order, session = paid_order(shopper, client, stripe_api, tea)
    queued = OutboxMessage.get((OutboxMessage.order_id == order.id) & (OutboxMessage.kind == "order_paid"))
    assert queued.message == "" and order.number in queued.subject  # the event only stored a row
    mail = dataclasses.replace(settings.mail, outbox_dir=tmp_path)
    assert deliver_due(mail) == (2, 0)  # the confirmation and this one
    written = OutboxMessage.get_by_id(queued.id).message
    assert order.number in written and "anna@example.org" in written
    sent = [path.read_text() for path in tmp_path.glob("*.eml")]
    assert sum(order.number in text for text in sent) == 2


def test_a_failure_inside_the_handler_answers_5xx_and_changes_nothing(shopper, client, tea, stripe_api, database,
                                                                      app, monkeypatch):
    from starlette.testclient import TestClient
    from shop.orders import service as orders

    order, url = order_by_card(shopper, tea)
    stripe_api.pay(session_of(stripe_api, url)["id"])
    body, signature = stripe_api.outbox.pop()
    real = orders.OrderEvent.create

    def broken(**fields):  # the database gives up half way through the payment
        raise RuntimeError("disk full")

    monkeypatch.setattr(orders.OrderEvent, "create", broken)
    stripe = TestClient(app, raise_server_exceptions=False)
    assert post_event(stripe, body, signature).status_code == 500
    assert Order.get_by_id(order.id).status == "awaiting_payment"
    assert not Payment.select().exists() and mails(order, "order_paid") == 0
    monkeypatch.setattr(orders.OrderEvent, "create", real)
    assert post_event(stripe, body, signature).status_code == 200  # Stripe sends it again
    assert Order.get_by_id(order.id).status == "paid" and Payment.select().count() == 1


def test_a_card_order_marked_paid_by_hand_counts_as_paid_by_transfer(shopper, client, tea, stripe_api, database,
                                                                      app):
    order, url = order_by_card(shopper, tea)
    admin = sign_in_admin(app)
    assert admin.post(f"/admin/orders/{order.number}/paid", {"reference": "Überweisung vom 3.12."}).status_code == 303
    order = Order.get_by_id(order.id)
    assert (order.status, order.payment_method) == ("paid", "prepayment")
    assert Payment.get().provider == "prepayment"
    # Paid back the same way: by transfer, with its reference; Stripe is not asked.
    refused = admin.post(f"/admin/orders/{order.number}/refund", {"amount": "1,00"}, headers={"HX-Request": "true"})
    assert refused.status_code == 422 and not stripe_api.refunds
    assert admin.post(f"/admin/orders/{order.number}/refund", {"amount": "1,00", "reference": "RÜ-1"}).status_code == 303
    assert Refund.get().provider == "prepayment"
