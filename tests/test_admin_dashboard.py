"""The dashboard at /admin: known orders, accounts and carts give exactly the figures an
admin reads (revenue gross and net, orders, average, new customers, the chart's days, the
funnel, top products, low stock), with the merchant's days in German time, across the
changes to and from summer time."""
from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from shop.accounts.models import User
from shop.admin import dashboard
from shop.cart.models import Cart
from shop.orders.models import Order, OrderLine, Refund

_numbers = iter(range(1, 10_000))


def at(text: str) -> dt.datetime:
    """A stored time: naive UTC."""
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def clock(monkeypatch):
    """Sets the dashboard's "now" (naive UTC)."""
    def set_clock(moment: str):
        monkeypatch.setattr(dashboard, "now", lambda: at(moment))
    return set_clock


def order(placed: str, total: int, vat: int, status: str = "paid", lines=(), refunds=()) -> Order:
    n = next(_numbers)
    made = Order.create(
        number=f"2025-{n:06d}", email=f"kunde{n}@example.org", billing_address={"name": f"Kunde {n}", "country": "DE"},
        delivery_option="standard", payment_method="prepayment", status=status, subtotal_cents=total,
        shipping_cents=0, total_cents=total, vat_by_rate={"19": vat}, vat_cents=vat, legal_versions={},
        idempotency_key=f"key-{n}", placed_at=at(placed), updated_at=at(placed), customer_name=f"Kunde {n}",
        country="DE")
    for product, quantity, cents in lines:
        OrderLine.create(order=made, product=product, sku=product.sku, name=product.name, unit_price_cents=cents,
                         vat_rate=19, quantity=quantity, total_cents=cents, vat_cents=round(cents * 19 / 119))
    for cents, state in refunds:
        Refund.create(order=made, provider="prepayment", amount_cents=cents, state=state)
    return made


def customer(created: str, role: str = "customer") -> User:
    n = next(_numbers)
    return User.create(email=f"neu{n}@example.org", password_hash="!", name=f"Neu {n}", role=role,
                       created_at=at(created), updated_at=at(created))


def cart(created: str, checkout_started: str | None = None) -> Cart:
    return Cart.create(created_at=at(created), updated_at=at(created),
                       checkout_started_at=at(checkout_started) if checkout_started else None)


def text(response) -> str:
    return response.text.replace("\xa0", " ")


def figure(page: str, name: str) -> str:
    return html.unescape(re.search(rf'data-figure="{name}">([^<]*)<', page).group(1))


def day_row(page: str, day: str) -> list[str]:
    """The cells of one day in the chart's table: orders, gross, net."""
    row = re.search(rf'<tr data-day="{day}">(.*?)</tr>', page, re.S).group(1)
    return re.findall(r'<td class="num">([^<]*)</td>', row)


@pytest.fixture
def shop_month(database, make_product, clock):
    """A month of trade, seen on 15 June 2025 at 12:00 in Berlin (10:00 UTC, summer time)."""
    clock("2025-06-15 10:00:00")
    cup = make_product("Tasse", stock=50)
    jug = make_product("Kanne", stock=0)
    pot = make_product("Topf", stock=3)
    pan = make_product("Pfanne", stock=8, low_stock_threshold=10)
    make_product("Alte Schüssel", stock=0, active=False)
    make_product("Brett", stock=6)
    # Today (15 June in Berlin starts at 14 June 22:00 UTC):
    order("2025-06-15 08:00:00", 11900, 1900, "paid", lines=[(cup, 1, 10000)])
    order("2025-06-14 22:30:00", 5000, 798, "awaiting_payment", lines=[(jug, 5, 5000)])  # 00:30 in Berlin
    cancelled = order("2025-06-15 09:00:00", 9999, 1596, "cancelled", lines=[(pot, 9, 9999)])
    # Yesterday at 23:30 in Berlin, partly refunded (a failed refund does not count):
    order("2025-06-14 21:30:00", 2000, 319, "delivered", lines=[(cup, 3, 1500)],
          refunds=[(500, "succeeded"), (300, "failed")])
    order("2025-06-10 12:00:00", 3000, 479, "refunded", refunds=[(3000, "succeeded")])
    order("2025-06-09 10:00:00", 4000, 639, "shipped")  # the first of the 7 days
    order("2025-06-08 12:00:00", 1000, 65, "delivered")  # the day before them
    order("2025-05-16 22:30:00", 700, 112, "delivered")  # 17 May, 00:30: the first of 30 days
    order("2025-05-16 21:30:00", 100000, 15966, "delivered", lines=[(pot, 1, 100000)])  # 16 May: too early
    customer("2025-06-15 05:00:00")
    customer("2025-06-10 05:00:00")
    customer("2025-05-20 05:00:00")
    customer("2025-05-01 05:00:00")
    customer("2025-06-15 06:00:00", role="admin")
    cart("2025-06-14 09:00:00", "2025-06-14 09:05:00")
    cart("2025-06-01 09:00:00")
    cart("2025-05-20 09:00:00", "2025-05-20 09:30:00")
    cart("2025-04-01 09:00:00")
    return {"cup": cup, "jug": jug, "pot": pot, "pan": pan, "cancelled": cancelled}


def test_the_periods_figures_are_exact(admin, shop_month):
    page = text(admin.client.get("/admin/"))
    # Today: the order at 10:00 and the one at 00:30 (22:30 UTC the day before).
    assert [figure(page, f"{name}-today") for name in ("gross", "net", "orders", "average", "customers")] == [
        "169,00 €", "142,02 €", "2", "84,50 €", "1"]
    # 7 days: and yesterday's order less its refund of 5 € (net: 16,81 € − 4,20 €), and 9 June's.
    assert [figure(page, f"{name}-7") for name in ("gross", "net", "orders", "average", "customers")] == [
        "224,00 €", "188,24 €", "4", "56,00 €", "2"]
    # 30 days: and 8 June's and 17 May's; neither the cancelled nor the refunded order counts.
    assert [figure(page, f"{name}-30") for name in ("gross", "net", "orders", "average", "customers")] == [
        "241,00 €", "203,47 €", "6", "40,17 €", "3"]
    assert "Stand: 12:00" in page


def test_the_chart_shows_each_day_and_the_same_numbers_in_a_table(admin, shop_month):
    page = text(admin.client.get("/admin/"))
    chart = re.search(r'<svg class="bar-chart".*?</svg>', page, re.S).group(0)
    assert 'role="img"' in chart and "<title" in chart and "<desc" in chart
    assert chart.count('<rect class="bar') == 30
    assert "So., 15. Juni: 169,00 €" in chart and "Sa., 17. Mai: 7,00 €" in chart
    assert day_row(page, "2025-06-15") == ["2", "169,00 €", "142,02 €"]
    assert day_row(page, "2025-06-14") == ["1", "15,00 €", "12,61 €"]
    assert day_row(page, "2025-06-10") == ["0", "0,00 €", "0,00 €"]  # refunded in full
    assert day_row(page, "2025-05-17") == ["1", "7,00 €", "5,88 €"]
    assert 'data-day="2025-05-16"' not in page and 'data-day="2025-06-16"' not in page
    assert len(re.findall(r'<tr data-day=', page)) == 30
    # The highest bar reaches the top of a round scale: 169 € of 200 €.
    assert "200,00 €" in re.search(r'class="chart-scale".*?</div>', page, re.S).group(0)


def test_states_funnel_top_products_and_low_stock(admin, shop_month):
    page = text(admin.client.get("/admin/"))
    states = dict(re.findall(r'data-state="(\w+)">([^<]*)<', page))
    assert states == {"awaiting_payment": "1", "paid": "1", "shipped": "1", "delivered": "4", "cancelled": "1",
                      "refunded": "1"}
    assert '<a href="/admin/orders?status=delivered">Zugestellt</a>' in page
    # Carts created and checkouts started in 30 days; every order placed, cancelled ones too.
    assert dict(re.findall(r'data-funnel="(\w+)">([^<]*)<', page)) == {"carts": "3", "checkouts": "2", "orders": "8"}
    top = re.search(r'id="top-heading".*?</section>', page, re.S).group(0)
    cup, jug = shop_month["cup"], shop_month["jug"]
    assert re.findall(r'href="/admin/products/(\d+)"', top) == [str(cup.id), str(jug.id)]
    assert "4 Stück · 115,00 €" in top and "5 Stück · 50,00 €" in top
    assert "Topf" not in top  # only in a cancelled order and one older than 30 days
    low = re.search(r'id="low-heading".*?</section>', page, re.S).group(0)
    assert "3 aktive Produkte" in low
    assert re.findall(r'href="/admin/products/\d+">([^<]*)<', low) == ["Kanne", "Topf", "Pfanne"]
    assert 'href="/admin/stock"' in low
    latest = re.search(r'id="latest-heading".*?</section>', page, re.S).group(0)
    numbers = re.findall(r'href="/admin/orders/([\d-]+)"', latest)
    assert len(numbers) == 9 and numbers[0] == shop_month["cancelled"].number  # at 11:00, the latest


@pytest.mark.parametrize("clock_at, days", [
    # Summer time begins on 30 March 2025 at 2:00: that day has 23 hours.
    ("2025-03-31 10:00:00", {"2025-03-29": 1, "2025-03-30": 2, "2025-03-31": 1}),
    # It ends on 26 October 2025 at 3:00: that day has 25 hours.
    ("2025-10-27 10:00:00", {"2025-10-25": 1, "2025-10-26": 2, "2025-10-27": 1}),
])
def test_days_follow_german_time_across_the_clock_change(admin, database, clock, clock_at, days):
    clock(clock_at)
    if clock_at.startswith("2025-03"):
        times = ["2025-03-29 22:59:59", "2025-03-29 23:00:00", "2025-03-30 21:59:59", "2025-03-30 22:00:00"]
    else:
        times = ["2025-10-25 21:59:59", "2025-10-25 22:00:00", "2025-10-26 22:59:59", "2025-10-26 23:00:00"]
    for moment in times:
        order(moment, 1000, 160)
    page = text(admin.client.get("/admin/"))
    for day, count in days.items():
        assert day_row(page, day)[0] == str(count), day
    assert figure(page, "orders-today") == "1"
    assert figure(page, "orders-30") == "4"


def test_figures_are_kept_for_the_minute(admin, database, clock):
    clock("2025-06-15 10:00:00")
    order("2025-06-15 08:00:00", 1000, 160)
    assert figure(text(admin.client.get("/admin/")), "orders-today") == "1"
    order("2025-06-15 09:00:00", 1000, 160)
    page = text(admin.client.get("/admin/"))
    assert figure(page, "orders-today") == "1"  # the same minute: as before
    assert page.count('href="/admin/orders/2025-') == 2  # the latest orders are read afresh
    clock("2025-06-15 10:01:00")
    page = text(admin.client.get("/admin/"))
    assert figure(page, "orders-today") == "2" and "Stand: 12:01" in page


def test_an_empty_shop(admin, database):
    page = text(admin.client.get("/admin/"))
    assert figure(page, "gross-today") == "0,00 €" and figure(page, "average-30") == "–"
    assert "Keine Umsätze in den letzten 30 Tagen." in page
    assert "Noch keine Bestellungen." in page


def test_a_checkout_started_and_an_order_placed_are_counted(admin, shopper, make_product):
    product = make_product("Tasse", stock=5)
    shopper.add(product)
    assert shopper.address().status_code == 303
    started = Cart.get().checkout_started_at
    assert started is not None
    assert shopper.delivery().status_code == 303
    assert Cart.get().checkout_started_at == started  # the later steps are the same checkout
    assert shopper.place().status_code == 303
    page = text(admin.client.get("/admin/"))
    assert dict(re.findall(r'data-funnel="(\w+)">([^<]*)<', page)) == {"carts": "1", "checkouts": "1", "orders": "1"}
    assert figure(page, "orders-today") == "1"
    assert "100 % der Warenkörbe wurden zu einer Bestellung." in page
