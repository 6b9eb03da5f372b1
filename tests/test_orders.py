"""The order lifecycle, and stock that stays right however many buy at once."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.testclient import TestClient

from shop.catalog.models import Product
from shop.mail.models import OutboxMessage
from shop.orders.models import Order, OrderEvent
from shop.orders.service import IllegalTransition, transition
from tests.conftest import Shopper


@pytest.fixture
def order(shopper, make_product, database):
    lamp = make_product("Leuchte", price_cents=4990, stock=5)
    shopper.buy(lamp, quantity=2)
    return Order.get()


def stock_of(order):
    return Product.get_by_id(order.lines.get().product_id).stock


def test_paid_shipped_delivered_is_recorded_with_time_and_actor(order, settings):
    transition(settings, order, "paid", actor="admin@shop")
    transition(settings, order, "shipped", actor="admin@shop", carrier="DHL", tracking_number="00340434")
    order = transition(settings, order, "delivered", actor="dhl-webhook")
    assert order.status == "delivered" and order.tracking_number == "00340434"
    history = [(e.status, e.actor) for e in OrderEvent.select().order_by(OrderEvent.id)]
    assert history == [("awaiting_payment", "customer"), ("paid", "admin@shop"),
                       ("shipped", "admin@shop"), ("delivered", "dhl-webhook")]
    subjects = [m.subject for m in OutboxMessage.select().order_by(OutboxMessage.id)]
    assert subjects == [f"Ihre Bestellung {order.number}", f"Zahlung für Bestellung {order.number} eingegangen",
                        f"Bestellung {order.number} ist unterwegs"]
    assert "00340434" in OutboxMessage.select().order_by(OutboxMessage.id.desc()).get().message


@pytest.mark.parametrize("steps,refused", [
    ([], "shipped"), ([], "delivered"), ([], "refunded"),
    (["paid"], "paid"), (["paid"], "awaiting_payment"), (["cancelled"], "paid"),
    (["paid", "refunded"], "cancelled"),
])
def test_illegal_transitions_are_refused(order, settings, steps, refused):
    for step in steps:
        transition(settings, order, step, actor="admin")
    before = Order.get_by_id(order.id).status
    with pytest.raises(IllegalTransition):
        transition(settings, order, refused, actor="admin", carrier="DHL", tracking_number="1")
    assert Order.get_by_id(order.id).status == before


def test_a_shipment_needs_carrier_and_tracking_number(order, settings):
    transition(settings, order, "paid", actor="admin")
    with pytest.raises(IllegalTransition):
        transition(settings, order, "shipped", actor="admin")


def test_cancelling_puts_the_stock_back(order, settings):
    assert stock_of(order) == 3
    transition(settings, order, "cancelled", actor="admin", note="Kunde hat nicht gezahlt")
    assert stock_of(order) == 5
    assert "storniert" in OutboxMessage.select().order_by(OutboxMessage.id.desc()).get().subject


def test_a_refund_after_shipping_keeps_the_stock(order, settings):
    transition(settings, order, "paid", actor="admin")
    transition(settings, order, "shipped", actor="admin", carrier="DHL", tracking_number="1")
    transition(settings, order, "refunded", actor="admin")
    assert stock_of(order) == 3


def test_the_order_page_shows_the_history(order, settings, client):
    from shop.orders.service import order_token

    transition(settings, order, "paid", actor="admin")
    html = client.get(f"/orders/{order.number}?token={order_token(settings, order.number)}").text
    assert "Bezahlt" in html and "Wartet auf Zahlung" in html and "Bitte überweisen" not in html


def test_twenty_buyers_for_the_last_five(app, make_product, database):
    """Each buyer has the last item in the cart; all press the order button at once."""
    lamp = make_product("Leuchte", stock=5)
    buyers = []
    for _ in range(20):
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        shopper = Shopper(client)
        shopper.add(lamp)
        shopper.address()
        shopper.delivery()
        buyers.append((shopper, shopper.review(), shopper.csrf()))
    start = threading.Barrier(len(buyers))

    def press(buyer):
        shopper, review, csrf = buyer
        start.wait()
        return shopper.client.post("/checkout/place-order",
                                   data={"csrf_token": csrf, "accept_terms": "y", **review})

    with ThreadPoolExecutor(len(buyers)) as pool:
        responses = list(pool.map(press, buyers))
    for shopper, _, _ in buyers:
        shopper.client.__exit__(None, None, None)

    codes = sorted(r.status_code for r in responses)
    assert codes == [303] * 5 + [409] * 15
    assert all("ausverkauft" in r.text for r in responses if r.status_code == 409)
    assert Order.select().count() == 5
    assert Product.get_by_id(lamp.id).stock == 0
    numbers = sorted(o.number[-6:] for o in Order.select())
    assert numbers == ["000001", "000002", "000003", "000004", "000005"]
