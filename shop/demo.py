"""The demo shop's orders: placed through the real cart, checkout and order services
and moved through their states, spread over the last four weeks, so that the back
office (orders, dashboard, bank statements) has something to show from the start."""
from __future__ import annotations

import datetime as dt
import random

from shop.cart import service as cart_service
from shop.catalog.models import Product
from shop.checkout import service as checkout_service
from shop.db import now, write
from shop.mail.models import OutboxMessage
from shop.orders.carriers import CARRIERS
from shop.orders.models import CANCELLED, DELIVERED, PAID, SHIPPED, Order, OrderEvent, Payment
from shop.orders.refunds import RefundRequest, refund
from shop.orders.service import MAILED, place_order, transition

CUSTOMERS = [
    ("Anna Schmidt", "anna.schmidt@example.org", "Lindenweg 4", "10115", "Berlin"),
    ("Jonas Weber", "jonas.weber@example.org", "Hafenstraße 3", "20457", "Hamburg"),
    ("Lea Hoffmann", "lea.hoffmann@example.org", "Marienplatz 8", "80331", "München"),
    ("Mehmet Yılmaz", "mehmet.yilmaz@example.org", "Domstraße 12", "50668", "Köln"),
    ("Sophie Wagner", "sophie.wagner@example.org", "Königstraße 21", "70173", "Stuttgart"),
    ("Paul Becker", "paul.becker@example.org", "Am Markt 7", "04109", "Leipzig"),
    ("Marie Schulz", "marie.schulz@example.org", "Schloßstraße 5", "01067", "Dresden"),
    ("Lukas Fischer", "lukas.fischer@example.org", "Zeil 44", "60313", "Frankfurt am Main"),
]
ACTOR = "demo@kiezkaufhaus.example"


def add_demo_orders(settings, count: int = 40, seed: int = 2026) -> int:
    """`count` orders by the demo's customers, the oldest four weeks ago: most paid,
    shipped or delivered, some awaiting their transfer, one cancelled, one partly refunded."""
    rng = random.Random(seed)
    products = [p.id for p in Product.select(Product.id).where(Product.active & (Product.stock >= 20))
                .order_by(Product.id).limit(80)]
    if len(products) < 3:
        return 0  # a catalogue too small to shop from
    placed = []
    for n in range(count):
        age = dt.timedelta(days=28 * (count - n) / count, hours=rng.uniform(0, 8))
        placed.append((_place(settings, rng, products), now() - age))
    for n, (order, at) in enumerate(placed):
        _advance(settings, rng, order, now() - at, last=n >= count - 4)
        _backdate(order, at)
    _abandoned_carts(rng, products, count)
    return len(placed)


def _abandoned_carts(rng: random.Random, products: list[int], count: int) -> None:
    """Carts that never became an order, a third of them left in the checkout (the
    dashboard's funnel)."""
    for n in range(count):
        cart = cart_service.add(None, rng.choice(products), 1)
        if n % 3 == 0:
            name, email, street, postcode, city = rng.choice(CUSTOMERS)
            checkout_service.save(cart.token, email=email, billing={
                "name": name, "company": "", "street": street, "postcode": postcode, "city": city, "country": "DE"})


def _place(settings, rng: random.Random, products: list[int]) -> Order:
    name, email, street, postcode, city = rng.choice(CUSTOMERS)
    cart = None
    for product_id in rng.sample(products, rng.randint(1, 3)):
        cart = cart_service.add(cart.token if cart else None, product_id, rng.choice((1, 1, 2)))
    assert cart is not None
    checkout_service.save(cart.token, email=email, delivery="standard", payment="prepayment", billing={
        "name": name, "company": "", "street": street, "postcode": postcode, "city": city, "country": "DE"})
    view = cart_service.view(cart.token, settings.shipping)
    return place_order(settings, cart.token, checkout_service.order_token(cart.token), view.fingerprint)


def _backdate(order: Order, at: dt.datetime) -> None:
    """The order placed at `at`, each later step (and its mail) a day after the one before."""
    with write():
        Order.update(placed_at=at, updated_at=at).where(Order.id == order.id).execute()
        events = OrderEvent.select(OrderEvent.id, OrderEvent.status).where(OrderEvent.order == order.id).order_by(OrderEvent.id)
        for day, event in enumerate(events):
            when = min(at + dt.timedelta(days=day), now())
            OrderEvent.update(created_at=when).where(OrderEvent.id == event.id).execute()
            if day == 1:
                Payment.update(created_at=when, updated_at=when).where(Payment.order == order.id).execute()
            # The order's mails went out back then (the outbox keeps them as sent).
            kind = MAILED.get(event.status) or ("order_confirmation" if day == 0 else None)
            OutboxMessage.update(created_at=when, sent_at=when).where(
                (OutboxMessage.order_id == order.id) & (OutboxMessage.kind == kind)).execute()
        OutboxMessage.update(sent_at=OutboxMessage.created_at).where(  # a refund's, say
            (OutboxMessage.order_id == order.id) & OutboxMessage.sent_at.is_null()).execute()


def _advance(settings, rng: random.Random, order: Order, age: dt.timedelta, last: bool) -> None:
    """Move the order on as a merchant would have by now (the newest ones still await
    payment; none old enough for the payment reminder, whose mail a visitor would not have set off)."""
    unpaid = rng.random() < 0.1 and age < dt.timedelta(days=settings.payments.transfer_reminder_days or 7)
    if last or unpaid:
        return
    if rng.random() < 0.04:
        transition(settings, order, CANCELLED, ACTOR, note="Kundin hat storniert")
        return
    transition(settings, order, PAID, ACTOR, payment_reference=f"Bestellung {order.number}")
    if age > dt.timedelta(days=2):
        carrier = rng.choice(list(CARRIERS))
        transition(settings, order, SHIPPED, ACTOR, carrier=carrier,
                   tracking_number=f"{rng.randrange(10**11, 10**12)}")
    if age > dt.timedelta(days=6):
        order = transition(settings, order, DELIVERED, ACTOR)
        if rng.random() < 0.1:
            line = order.lines.first()
            refund(settings, order, RefundRequest(amount_cents=line.unit_price_cents, lines={line.id: 1},
                                                  reference=f"Erstattung {order.number}", restock=True,
                                                  note="Rücksendung"), ACTOR)
