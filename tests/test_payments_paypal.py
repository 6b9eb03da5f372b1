"""PayPal payments through the Orders v2 API, against a stand-in of PayPal's API served
over HTTP: approved on PayPal's page, captured by the shop, confirmed by PayPal's events."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time

import httpx2
import pytest

from shop.catalog.models import Product
from shop.config import Payments
from shop.mail.models import OutboxMessage
from shop.orders.models import Order, Payment, Refund
from shop.payments import paypal as paypal_provider
from shop.payments import service as payments
from shop.payments.models import PaymentAttempt, PaymentIssue
from shop.payments.registry import reconcile
from shop.payments.standin_paypal import PayPalStandIn

from .conftest import sign_in_admin
from .standins import order_paying_online, served

CLIENT_ID, SECRET, WEBHOOK_ID = "paypal-test-client", "paypal-test-secret", "WH-TEST-0001"
SHOP = "http://127.0.0.1:8000"


@pytest.fixture
def paypal_api():
    standin = PayPalStandIn(CLIENT_ID, SECRET, WEBHOOK_ID, deliver=False)
    with served(standin.app) as url:
        standin.base_url = url
        yield standin


@pytest.fixture
def settings(settings, paypal_api):
    return dataclasses.replace(settings, payments=Payments(
        paypal_client_id=CLIENT_ID, paypal_secret=SECRET, paypal_webhook_id=WEBHOOK_ID,
        paypal_api_base=paypal_api.base_url))


@pytest.fixture
def tea(make_product):
    return make_product("Grüner Tee", price_cents=1290, stock=5)


def order_by_paypal(shopper, product, quantity=1):
    return order_paying_online(shopper, product, "paypal", quantity)


def paypal_id(url: str) -> str:
    return url.split("token=")[1]


def approve_and_return(client, url: str):
    """The buyer pays on PayPal's page and comes back to the shop: the shop's answer."""
    page = httpx2.post(url, data={"action": "pay"})
    assert page.status_code == 303
    back = page.headers["location"]
    assert back.startswith(f"{SHOP}/payments/paypal/return?token=") and "PayerID=" in back
    return client.get(back.removeprefix(SHOP))


def deliver(client, paypal_api) -> list[int]:
    """Send the stand-in's events to the shop, as PayPal would."""
    statuses = []
    while paypal_api.outbox:
        body, headers = paypal_api.outbox.pop(0)
        statuses.append(post_event(client, body, headers).status_code)
    return statuses


def post_event(client, body: str, headers: dict):
    return client.post("/payments/paypal/webhook", content=body, headers=headers)


def mails(order, kind):
    return OutboxMessage.select().where((OutboxMessage.order_id == order.id) & (OutboxMessage.kind == kind)).count()


def paid_order(shopper, client, paypal_api, product, quantity=1):
    order, url = order_by_paypal(shopper, product, quantity)
    assert approve_and_return(client, url).status_code == 303
    paypal_api.outbox.clear()  # the capture's event: recorded already
    order = Order.get_by_id(order.id)
    assert order.status == "paid"
    return order, Payment.get(Payment.order == order.id).provider_id


def test_the_checkout_sends_the_shopper_to_paypals_page(shopper, client, tea, paypal_api, database):
    order, url = order_by_paypal(shopper, tea)
    assert url == f"{paypal_api.base_url}/checkoutnow?token={paypal_id(url)}"
    assert ("POST", "/v2/checkout/orders", f"{order.number}-1") in paypal_api.requests
    created = paypal_api.orders[paypal_id(url)]
    unit = created["purchase_units"][0]
    assert (unit["reference_id"], unit["invoice_id"], unit["custom_id"]) == (order.number, order.number,
                                                                            f"{order.number}-1")
    assert unit["amount"]["value"] == f"{order.total_cents / 100:.2f}" and unit["amount"]["currency_code"] == "EUR"
    assert unit["items"] == [{"name": "Grüner Tee", "quantity": "1", "category": "PHYSICAL_GOODS",
                              "unit_amount": {"currency_code": "EUR", "value": "12.90"}}]
    context = created["experience_context"]
    assert context["return_url"] == f"{SHOP}/payments/paypal/return"
    assert (context["user_action"], context["shipping_preference"], context["locale"]) == (
        "PAY_NOW", "NO_SHIPPING", "de-DE")
    assert (order.status, order.payment_method) == ("awaiting_payment", "paypal")
    assert PaymentAttempt.get().provider_id == paypal_id(url)
    assert Product.get_by_id(tea.id).stock == 4  # held for the buyer while paying


def test_the_review_page_lets_the_order_button_lead_to_paypal(shopper, client, tea, paypal_api):
    shopper.add(tea)
    shopper.address()
    assert 'value="paypal"' in client.get("/checkout/delivery").text
    shopper.delivery(payment="paypal")
    policy = client.get("/checkout/review").headers["content-security-policy"]
    assert f"form-action 'self' {paypal_api.base_url};" in policy


def test_without_keys_paypal_is_absent(shopper, client, tea, app):
    app.state.settings = dataclasses.replace(app.state.settings, payments=Payments())
    shopper.add(tea)
    shopper.address()
    assert 'value="paypal"' not in client.get("/checkout/delivery").text
    assert client.post("/payments/paypal/webhook", content="{}").status_code == 404
    assert client.get("/payments/paypal/return?token=5O190127TN364715T").status_code == 404


def test_approved_and_back_the_order_is_paid_once_with_paypal_shown(shopper, client, tea, paypal_api, database):
    order, url = order_by_paypal(shopper, tea)
    back = approve_and_return(client, url)
    assert back.status_code == 303
    assert back.headers["location"].startswith(f"{SHOP}/orders/{order.number}?token=")
    assert back.headers["location"].endswith("&payment=returned")
    order = Order.get_by_id(order.id)
    assert (order.status, order.payment_status) == ("paid", "paid")
    payment = Payment.get(Payment.order == order.id)
    assert (payment.provider, payment.amount_cents, payment.method) == ("paypal", order.total_cents, "paypal")
    assert payment.provider_id in paypal_api.captures
    assert ("POST", f"/v2/checkout/orders/{paypal_id(url)}/capture", f"capture-{paypal_id(url)}") \
        in paypal_api.requests
    assert mails(order, "order_paid") == 1
    page = client.get(back.headers["location"].removeprefix(SHOP)).text
    assert "PayPal" in page and "every 2s" not in page
    # PayPal's events for the approval and the capture: nothing more happens.
    assert deliver(client, paypal_api) == [200, 200]
    assert [e["event_type"] for e in paypal_api.sent] == ["CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED"]
    assert Payment.select().count() == 1 and mails(order, "order_paid") == 1
    assert len(paypal_api.captures) == 1


def test_approved_but_never_back_the_event_captures_and_pays(shopper, client, tea, paypal_api, database):
    order, url = order_by_paypal(shopper, tea)
    paypal_api.approve(paypal_id(url))  # the buyer closed the tab on PayPal's page
    assert deliver(client, paypal_api) == [200, 200]  # the approval, then the capture's own event
    order = Order.get_by_id(order.id)
    assert (order.status, order.payment_status) == ("paid", "paid")
    assert Payment.select().count() == 1 and mails(order, "order_paid") == 1
    assert len(paypal_api.captures) == 1


def tampered(paypal_api, how: str) -> tuple[str, dict]:
    body, headers = paypal_api.outbox.pop()
    event = json.loads(body)
    if how == "bad signature":
        headers = paypal_api.headers(event, secret="someone else's secret")
    elif how == "no headers":
        headers = {"Content-Type": "application/json"}
    elif how == "stale":
        headers = paypal_api.headers(event, sent_at=time.time() - 301)
    elif how == "changed event":
        event["resource"]["id"] = "0000OTHERORDER"
        body = json.dumps(event)
    elif how == "not json":
        body = body[:-1]
    return body, headers


@pytest.mark.parametrize("how", ["bad signature", "no headers", "stale", "changed event", "not json"])
def test_events_paypal_did_not_send_are_refused_and_change_nothing(shopper, client, tea, paypal_api, database, how):
    order, url = order_by_paypal(shopper, tea)
    paypal_api.approve(paypal_id(url))
    body, headers = tampered(paypal_api, how)
    checks = len([r for r in paypal_api.requests if "verify-webhook-signature" in r[1]])
    assert post_event(client, body, headers).status_code == 400
    assert Order.get_by_id(order.id).status == "awaiting_payment"
    assert not Payment.select().exists() and not paypal_api.captures
    verified = len([r for r in paypal_api.requests if "verify-webhook-signature" in r[1]]) - checks
    assert verified == (1 if how in ("bad signature", "changed event") else 0)  # PayPal asked only when it can say


def test_an_event_paypal_cannot_check_now_is_answered_503_to_come_again(shopper, client, tea, paypal_api, database):
    order, url = order_by_paypal(shopper, tea)
    paypal_api.approve(paypal_id(url))
    body, headers = paypal_api.outbox.pop()
    paypal_api.fail_next = 3
    assert post_event(client, body, headers).status_code == 503
    assert Order.get_by_id(order.id).status == "awaiting_payment"
    assert post_event(client, body, headers).status_code == 200
    assert Order.get_by_id(order.id).status == "paid"


def test_the_same_event_three_times_at_once_pays_once_and_mails_once(shopper, client, tea, paypal_api, database):
    order, url = order_by_paypal(shopper, tea)
    paypal_api.approve(paypal_id(url))
    body, headers = paypal_api.outbox.pop()
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(post_event(client, body, headers).status_code))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200, 200, 200]
    assert Payment.select().where(Payment.order == order.id).count() == 1
    assert mails(order, "order_paid") == 1
    assert len(paypal_api.captures) == 1


def test_coming_back_while_the_capture_event_arrives_pays_once(shopper, client, tea, paypal_api, database):
    order, url = order_by_paypal(shopper, tea)
    paypal_api.approve(paypal_id(url))
    capture = paypal_api.capture(paypal_id(url))  # captured, its event on the way while the shopper returns
    body, headers = paypal_api.outbox.pop()
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(post_event(client, body, headers).status_code)),
               threading.Thread(target=lambda: answers.append(
                   client.get(f"/payments/paypal/return?token={paypal_id(url)}&PayerID=X").status_code))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 303]
    assert [p.provider_id for p in Payment.select()] == [capture["id"]]
    assert not PaymentIssue.select().exists() and mails(order, "order_paid") == 1


def test_a_denied_capture_after_completed_leaves_the_order_paid(shopper, client, tea, paypal_api, database):
    order, capture_id = paid_order(shopper, client, paypal_api, tea)
    paypal_api.event("PAYMENT.CAPTURE.DENIED", {**paypal_api.captures[capture_id], "status": "DECLINED"})
    assert deliver(client, paypal_api) == [200]
    order = Order.get_by_id(order.id)
    assert (order.status, order.payment_status) == ("paid", "paid")
    assert mails(order, "order_payment_failed") == 0


def test_a_payment_of_another_amount_does_not_pay_the_order_and_is_reported(shopper, client, tea, paypal_api,
                                                                            database):
    order, url = order_by_paypal(shopper, tea)
    amount = paypal_api.orders[paypal_id(url)]["purchase_units"][0]["amount"]
    amount["value"] = f"{(order.total_cents - 100) / 100:.2f}"
    assert approve_and_return(client, url).status_code == 303
    assert Order.get_by_id(order.id).status == "awaiting_payment"
    issue = PaymentIssue.get()
    assert (issue.kind, issue.amount_cents, issue.order_id) == ("amount_mismatch", order.total_cents - 100, order.id)
    assert deliver(client, paypal_api) == [200, 200]
    assert PaymentIssue.select().count() == 1 and not Payment.select().exists()


@pytest.mark.parametrize("token", ["5O190127TN364715T", "../../v1/oauth2/token", ""])
def test_a_return_address_alone_pays_nothing(shopper, client, tea, paypal_api, database, token):
    order, url = order_by_paypal(shopper, tea)
    assert client.get(f"/payments/paypal/return?token={token}&PayerID=X").status_code == 404
    # This order's own PayPal id, not approved at PayPal: back to the order page, unpaid.
    back = client.get(f"/payments/paypal/return?token={paypal_id(url)}&PayerID=X")
    assert back.status_code == 303 and back.headers["location"].startswith(f"{SHOP}/orders/{order.number}?token=")
    assert Order.get_by_id(order.id).status == "awaiting_payment"
    assert not Payment.select().exists() and not paypal_api.captures


def test_paypal_answering_500_then_200_makes_one_order_under_one_request_id(shopper, client, tea, paypal_api,
                                                                          database):
    paypal_api.fail_next = 1
    order, url = order_by_paypal(shopper, tea)
    assert url.startswith(paypal_api.base_url + "/checkoutnow?token=")
    calls = [request for request in paypal_api.requests if request[1] == "/v2/checkout/orders"]
    assert [key for _, _, key in calls] == [f"{order.number}-1"] * 2
    assert len(paypal_api.orders) == 1 and Order.select().count() == 1


def test_paypal_unreachable_keeps_the_order_payable(shopper, client, tea, paypal_api, database):
    paypal_api.fail_next = 3  # the first call and both retries
    order, url = order_by_paypal(shopper, tea)
    assert url.startswith(f"/orders/{order.number}?token=")
    page = client.get(url).text
    assert "noch nicht bezahlt" in page or "not paid yet" in page
    response = shopper.post(f"/orders/{order.number}/pay", {"token": url.split("token=")[1]})
    assert response.status_code == 303 and response.headers["location"].startswith(paypal_api.base_url)


def test_a_shop_that_died_before_keeping_paypals_order_is_repaired_once(shopper, client, tea, paypal_api, database,
                                                                        settings, monkeypatch):
    def killed(attempt, started):
        raise RuntimeError("killed")

    monkeypatch.setattr(payments, "attempt_started", killed)
    with pytest.raises(RuntimeError, match="killed"):
        order_by_paypal(shopper, tea)
    monkeypatch.undo()
    order = Order.get()
    assert PaymentAttempt.get().provider_id is None and len(paypal_api.orders) == 1
    order_id = next(iter(paypal_api.orders))
    paypal_api.approve(order_id)  # approved in a tab the shop never saw
    paypal_api.outbox.clear()  # and its event never arrives
    monkeypatch.setattr(payments, "CHECK_AFTER", dt.timedelta(0))  # as a minute later
    reconcile(settings)
    reconcile(settings)
    order = Order.get_by_id(order.id)
    assert (order.status, order.payment_status) == ("paid", "paid")
    assert PaymentAttempt.get().provider_id == order_id
    assert Payment.select().count() == 1 and mails(order, "order_paid") == 1
    assert len(paypal_api.orders) == 1 and len(paypal_api.captures) == 1
    creates = [key for _, path, key in paypal_api.requests if path == "/v2/checkout/orders"]
    assert creates == [f"{order.number}-1"] * 2


def test_an_unapproved_order_is_cancelled_after_three_hours_and_its_stock_returns(shopper, client, tea, paypal_api,
                                                                                  database, settings, monkeypatch):
    order, url = order_by_paypal(shopper, tea, 2)
    monkeypatch.setattr(payments, "CHECK_AFTER", dt.timedelta(0))
    reconcile(settings)
    assert Order.get_by_id(order.id).status == "awaiting_payment"  # still within three hours
    monkeypatch.setattr(paypal_provider, "ORDER_OPEN", dt.timedelta(0))
    reconcile(settings)
    assert Order.get_by_id(order.id).status == "cancelled"
    assert Product.get_by_id(tea.id).stock == 5
    assert mails(order, "order_cancelled") == 1
    # Approved at PayPal afterwards: never captured.
    paypal_api.approve(paypal_id(url))
    assert deliver(client, paypal_api) == [200]
    back = client.get(f"/payments/paypal/return?token={paypal_id(url)}&PayerID=X")
    assert back.status_code == 303 and not paypal_api.captures and not Payment.select().exists()


def test_cancelled_at_paypal_the_order_can_be_paid_again_or_by_transfer(shopper, client, tea, paypal_api, database):
    order, url = order_by_paypal(shopper, tea)
    back = httpx2.post(url, data={"action": "cancel"}).headers["location"]
    assert back.startswith(f"{SHOP}/payments/paypal/return?payment=cancelled&token=")
    to_order = client.get(back.removeprefix(SHOP)).headers["location"]
    assert to_order.startswith(f"{SHOP}/orders/{order.number}?token=") and to_order.endswith("&payment=cancelled")
    page = client.get(to_order.removeprefix(SHOP)).text
    assert "abgebrochen" in page or "The payment was cancelled" in page
    token = to_order.split("token=")[1].split("&")[0]
    again = shopper.post(f"/orders/{order.number}/pay", {"token": token})
    assert again.status_code == 303 and again.headers["location"] == url  # PayPal's order is still open
    assert len(paypal_api.orders) == 1
    switched = shopper.post(f"/orders/{order.number}/pay/transfer", {"token": token})
    assert switched.status_code == 303 and Order.get_by_id(order.id).payment_method == "prepayment"
    # Approved at PayPal after switching to transfer: never captured.
    assert approve_and_return(client, url).status_code == 303
    assert not paypal_api.captures


def test_a_declined_means_of_paying_returns_to_a_payable_order(shopper, client, tea, paypal_api, database):
    order, url = order_by_paypal(shopper, tea)
    paypal_api.decline.add(paypal_id(url))
    back = approve_and_return(client, url)
    assert back.status_code == 303 and back.headers["location"].endswith("&payment=cancelled")
    assert Order.get_by_id(order.id).status == "awaiting_payment"
    page = client.get(back.headers["location"].removeprefix(SHOP)).text
    assert "Überweisung" in page or "bank transfer" in page


def test_a_pending_capture_is_on_its_way_until_paypal_completes_it(shopper, client, tea, paypal_api, database):
    order, url = order_by_paypal(shopper, tea)
    paypal_api.approve(paypal_id(url))
    paypal_api.outbox.clear()
    capture = paypal_api.capture(paypal_id(url), status="PENDING")
    assert deliver(client, paypal_api) == [200]
    assert Order.get_by_id(order.id).status == "awaiting_payment"
    assert PaymentAttempt.get().state == "processing"
    paypal_api.event("PAYMENT.CAPTURE.COMPLETED", {**capture, "status": "COMPLETED"})
    assert deliver(client, paypal_api) == [200]
    assert Order.get_by_id(order.id).status == "paid"


def test_a_partial_then_full_refund_from_the_back_office_goes_through_paypal(shopper, client, tea, paypal_api,
                                                                            database, app):
    order, capture_id = paid_order(shopper, client, paypal_api, tea, 2)
    admin = sign_in_admin(app)
    assert "PayPal" in admin.client.get(f"/admin/orders/{order.number}").text
    response = admin.post(f"/admin/orders/{order.number}/refund", {"amount": "5,00"})
    assert response.status_code == 303, response.text
    refund = Refund.get(Refund.order == order.id)
    assert refund.provider == "paypal" and refund.provider_id in paypal_api.refunds
    assert paypal_api.refunds[refund.provider_id]["amount"]["value"] == "5.00"
    assert paypal_api.requests[-1] == ("POST", f"/v2/payments/captures/{capture_id}/refund",
                                       f"{order.number}-refund-1")
    assert Order.get_by_id(order.id).payment_status == "partly_refunded"
    assert mails(order, "order_refunded_partly") == 1
    # PayPal's event for that refund: recorded already.
    assert deliver(client, paypal_api) == [200]
    assert Refund.select().count() == 1
    rest = order.total_cents - 500
    response = admin.post(f"/admin/orders/{order.number}/refund", {"amount": f"{rest / 100:.2f}".replace(".", ",")})
    assert response.status_code == 303
    assert Order.get_by_id(order.id).status == "refunded"
    assert paypal_api.captures[capture_id]["status"] == "REFUNDED"
    assert mails(order, "order_refunded") == 1
    assert deliver(client, paypal_api) == [200]
    assert Refund.select().count() == 2


def test_a_refund_paypal_refuses_changes_nothing_here(shopper, client, tea, paypal_api, database, app):
    order, capture_id = paid_order(shopper, client, paypal_api, tea)
    paypal_api.refund(capture_id, order.total_cents)  # all of it, in PayPal's dashboard
    paypal_api.outbox.clear()
    admin = sign_in_admin(app)
    response = admin.post(f"/admin/orders/{order.number}/refund", {"amount": "1,00"}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "PayPal" in response.text
    assert not Refund.select().exists()


def test_a_refund_made_at_paypal_is_recorded_from_its_event(shopper, client, tea, paypal_api, database):
    order, capture_id = paid_order(shopper, client, paypal_api, tea)
    paypal_api.refund(capture_id, 300)
    assert deliver(client, paypal_api) == [200]
    refund = Refund.get()
    assert (refund.amount_cents, refund.provider) == (300, "paypal")
    assert Order.get_by_id(order.id).payment_status == "partly_refunded"
    assert mails(order, "order_refunded_partly") == 1


def test_a_dispute_is_reported_in_the_back_office(shopper, client, tea, paypal_api, database, app):
    order, capture_id = paid_order(shopper, client, paypal_api, tea)
    paypal_api.dispute(capture_id)
    assert deliver(client, paypal_api) == [200]
    issue = PaymentIssue.get()
    assert (issue.kind, issue.order_id, issue.amount_cents) == ("dispute", order.id, order.total_cents)
    assert issue.reference in sign_in_admin(app).client.get("/admin/payments").text


def test_payments_marked_here_but_not_at_paypal_are_reported(shopper, client, tea, paypal_api, database, settings,
                                                             monkeypatch):
    order, capture_id = paid_order(shopper, client, paypal_api, tea)
    paypal_api.captures[capture_id]["status"] = "DECLINED"
    monkeypatch.setattr(payments, "CHECK_AFTER", dt.timedelta(0))
    reconcile(settings)
    reconcile(settings)
    issue = PaymentIssue.get()
    assert (issue.kind, issue.order_id, issue.reference) == ("not_at_provider", order.id, capture_id)
    assert Order.get_by_id(order.id).status == "paid"  # a person decides


def test_an_access_token_paypal_ended_early_is_renewed(shopper, client, tea, paypal_api, database):
    order_by_paypal(shopper, tea)
    paypal_api.tokens.clear()
    order, url = order_by_paypal(shopper, tea)
    assert url.startswith(paypal_api.base_url + "/checkoutnow?token=")


def test_unknown_events_are_acknowledged(client, paypal_api, database):
    paypal_api.event("BILLING.PLAN.CREATED", {"id": "P-1"})
    assert deliver(client, paypal_api) == [200]
