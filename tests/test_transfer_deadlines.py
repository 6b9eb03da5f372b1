"""Bank transfers left unpaid: a reminder after some days, cancellation after more, each
with its mail; the stock comes back. Orders are placed through the shop and aged with an
UPDATE of their order time."""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from email import message_from_string, policy

import pytest
from playhouse.test_utils import count_queries

from shop import worker
from shop.catalog.models import Product
from shop.db import now, with_connection
from shop.i18n import SHOP_TIMEZONE
from shop.mail.models import OutboxMessage
from shop.orders import service
from shop.orders.models import AWAITING_PAYMENT, CANCELLED, PAID, Order
from shop.payments.transfer_deadlines import remind_and_cancel

NOTHING = {"reminded": 0, "cancelled": 0}


@pytest.fixture
def buy(shopper, make_product):
    """Place a bank-transfer order of one product (20,00 € + 4,90 € shipping)."""
    def buy(product: Product | None = None, quantity: int = 1) -> Order:
        assert shopper.buy(product or make_product(price_cents=2000), quantity=quantity).status_code == 303
        return Order.select().order_by(Order.id.desc()).get()

    return buy


def placed_days_ago(order: Order, days: float) -> Order:
    Order.update(placed_at=now() - dt.timedelta(days=days)).where(Order.id == order.id).execute()
    return Order.get_by_id(order.id)


def placed_at_noon(order: Order, days_ago: int) -> Order:
    """Placed at noon in the shop's time zone, `days_ago` calendar days before today."""
    today = now().replace(tzinfo=dt.UTC).astimezone(SHOP_TIMEZONE).date()
    noon = dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(12), tzinfo=SHOP_TIMEZONE)
    Order.update(placed_at=noon.astimezone(dt.UTC).replace(tzinfo=None)).where(Order.id == order.id).execute()
    return Order.get_by_id(order.id)


def last_day(order: Order, days: int = 14) -> str:
    """The last day to pay as the German mail writes it."""
    placed = order.placed_at.replace(tzinfo=dt.UTC).astimezone(SHOP_TIMEZONE).date()
    return f"{placed + dt.timedelta(days=days):%d.%m.%Y}"


def mails(order: Order, kind: str) -> list[OutboxMessage]:
    return list(OutboxMessage.select().where((OutboxMessage.order_id == order.id) & (OutboxMessage.kind == kind)))


def text_of(mail: OutboxMessage) -> str:
    return message_from_string(mail.message, policy=policy.default).get_body(("plain",)).get_content()


def html_of(mail: OutboxMessage) -> str:
    return message_from_string(mail.message, policy=policy.default).get_body(("html",)).get_content()


def with_days(settings, reminder: int, cancel: int):
    return dataclasses.replace(settings, payments=dataclasses.replace(
        settings.payments, transfer_reminder_days=reminder, transfer_cancel_days=cancel))


def test_an_unpaid_transfer_is_reminded_once_with_amount_bank_details_and_last_day(settings, buy, client):
    order = placed_days_ago(buy(), 8)

    assert remind_and_cancel(settings) == {"reminded": 1, "cancelled": 0}
    assert remind_and_cancel(settings) == NOTHING

    [reminder] = mails(order, "order_payment_reminder")
    assert reminder.recipient == "anna@example.org"
    assert reminder.subject == f"Zahlungserinnerung zur Bestellung {order.number}"
    for body in (text_of(reminder), html_of(reminder)):
        assert "24,90\xa0€" in body
        assert "DE02 1001 0010 0006 8201 01" in body and "PBNKDEFFXXX" in body
        assert order.number in body and "Verwendungszweck" in body
        assert f"bis zum {last_day(order)}" in body
    link = text_of(reminder).split("Ihre Bestellung online: ")[1].split()[0]
    page = client.get(link.removeprefix(settings.base_url)).text
    assert "Zahlungserinnerung verschickt" in page
    assert Order.get_by_id(order.id).status == AWAITING_PAYMENT


def test_a_younger_order_is_not_reminded_yet(settings, buy):
    order = placed_days_ago(buy(), 6.9)
    assert remind_and_cancel(settings) == NOTHING
    assert not mails(order, "order_payment_reminder")


def test_an_order_unpaid_past_its_last_day_is_cancelled_with_its_stock_back(settings, buy, make_product, client):
    tea = make_product("Tee", price_cents=2000, stock=10)
    order = placed_at_noon(buy(tea, quantity=3), 15)
    assert Product.get_by_id(tea.id).stock == 7

    assert remind_and_cancel(settings) == {"reminded": 0, "cancelled": 1}
    assert remind_and_cancel(settings) == NOTHING

    assert Order.get_by_id(order.id).status == CANCELLED
    assert Product.get_by_id(tea.id).stock == 10
    assert not mails(order, "order_payment_reminder")  # too late for a reminder
    [cancelled] = mails(order, "order_cancelled")
    assert cancelled.subject == f"Bestellung {order.number} wurde storniert"
    for body in (text_of(cancelled), html_of(cancelled)):
        assert f"bis zum {last_day(order)}" in body and "nicht erhalten" in body
    link = text_of(cancelled).split("Ihre Bestellung online: ")[1].split()[0]
    assert f"Keine Zahlung bis zum {last_day(order)}" in client.get(link.removeprefix(settings.base_url)).text


def test_the_last_day_to_pay_is_a_whole_day_in_the_shops_time_zone(settings, buy):
    order = placed_at_noon(buy(), 14)
    assert remind_and_cancel(settings) == {"reminded": 1, "cancelled": 0}
    assert f"bis zum {last_day(order)}" in text_of(mails(order, "order_payment_reminder")[0])
    assert Order.get_by_id(order.id).status == AWAITING_PAYMENT


def test_a_paid_order_is_neither_reminded_nor_cancelled(settings, buy):
    order = buy()
    service.transition(settings, order, PAID, "chefin@example.org")
    placed_days_ago(order, 30)

    assert remind_and_cancel(settings) == NOTHING
    assert Order.get_by_id(order.id).status == PAID
    assert not mails(order, "order_payment_reminder") and not mails(order, "order_cancelled")


@pytest.mark.parametrize("method", ["stripe", "paypal"])
def test_card_and_paypal_orders_are_left_alone(settings, buy, method):
    order = buy()
    Order.update(payment_method=method).where(Order.id == order.id).execute()
    placed_days_ago(order, 30)

    assert remind_and_cancel(settings) == NOTHING
    assert Order.get_by_id(order.id).status == AWAITING_PAYMENT
    assert not mails(order, "order_payment_reminder") and not mails(order, "order_cancelled")


def test_no_reminders_with_zero_reminder_days(settings, buy):
    late, overdue = placed_days_ago(buy(), 10), placed_at_noon(buy(), 15)
    assert remind_and_cancel(with_days(settings, reminder=0, cancel=14)) == {"reminded": 0, "cancelled": 1}
    assert not mails(late, "order_payment_reminder") and Order.get_by_id(overdue.id).status == CANCELLED


def test_never_cancelled_with_zero_cancel_days(settings, buy):
    order = placed_days_ago(buy(), 400)
    assert remind_and_cancel(with_days(settings, reminder=7, cancel=0)) == {"reminded": 1, "cancelled": 0}
    assert Order.get_by_id(order.id).status == AWAITING_PAYMENT
    body = text_of(mails(order, "order_payment_reminder")[0])
    assert "DE02 1001 0010 0006 8201 01" in body and "bis zum" not in body


def test_nothing_to_do_costs_one_query_per_step(settings, buy):
    buy(), placed_days_ago(buy(), 8)
    remind_and_cancel(settings)
    with count_queries() as counted:
        assert remind_and_cancel(settings) == NOTHING
    assert counted.count == 2


def test_an_order_paid_while_its_reminder_is_written_is_not_reminded(settings, buy, monkeypatch):
    order = placed_days_ago(buy(), 8)
    write_mail = service.status_mail

    def paid_meanwhile(settings, order, template, *args, **kwargs):
        if template == "order_payment_reminder":
            service.transition(settings, order, PAID, "chefin@example.org")
        return write_mail(settings, order, template, *args, **kwargs)

    monkeypatch.setattr(service, "status_mail", paid_meanwhile)
    assert remind_and_cancel(settings) == NOTHING
    assert not mails(order, "order_payment_reminder") and Order.get_by_id(order.id).status == PAID


def test_orders_paid_while_the_worker_cancels_stay_paid_and_unrefunded(settings, buy):
    overdue = [placed_at_noon(buy(), 20) for _ in range(6)]

    def pay_every_other():
        for order in overdue[::2]:
            try:
                service.transition(settings, order, PAID, "chefin@example.org")
            except service.IllegalTransition:
                pass  # the worker was first

    results: list[dict] = []
    threads = [threading.Thread(target=with_connection, args=(pay_every_other,)),
               threading.Thread(target=lambda: results.append(with_connection(remind_and_cancel, settings)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    ended = [Order.get_by_id(order.id) for order in overdue]
    assert {order.status for order in ended} <= {PAID, CANCELLED}
    assert results[0]["cancelled"] == sum(order.status == CANCELLED for order in ended) >= 3
    for order in ended:
        assert order.payment_status == (PAID if order.status == PAID else "unpaid")
        assert len(mails(order, "order_cancelled")) == (order.status == CANCELLED)


def test_two_workers_at_once_remind_and_cancel_each_order_once(settings, buy):
    late = [placed_days_ago(buy(), 8) for _ in range(4)]
    overdue = [placed_at_noon(buy(), 20) for _ in range(4)]
    results: list[dict] = []
    workers = [threading.Thread(target=lambda: results.append(with_connection(remind_and_cancel, settings)))
               for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()

    assert sum(r["reminded"] for r in results) == 4 and sum(r["cancelled"] for r in results) == 4
    assert all(len(mails(order, "order_payment_reminder")) == 1 for order in late)
    assert all(len(mails(order, "order_cancelled")) == 1 for order in overdue)


def test_the_workers_round_reminds_and_cancels(settings, buy, tmp_path):
    settings = dataclasses.replace(settings, mail=dataclasses.replace(settings.mail, outbox_dir=tmp_path / "outbox"))
    late, overdue = placed_days_ago(buy(), 8), placed_at_noon(buy(), 20)

    results = worker.run_round(settings)

    assert results["payment reconciliation"]["prepayment"] == {"reminded": 1, "cancelled": 1}
    assert mails(late, "order_payment_reminder")[0].sent_at is not None  # the mail job runs after it
    assert mails(overdue, "order_cancelled")[0].sent_at is not None
