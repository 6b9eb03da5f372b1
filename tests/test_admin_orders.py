"""The orders in the back office: the table, one order's page and every step on it,
packing slips. Through HTTP, as an admin's browser sends them, with JavaScript (htmx)
and without."""
from __future__ import annotations

import email
from concurrent.futures import ThreadPoolExecutor
from email import policy

import pytest

from shop.audit.models import AuditEntry
from shop.catalog.models import Product, StockMovement
from shop.mail.models import OutboxMessage
from shop.orders.models import Order, OrderNote, Payment, Refund
from shop.orders.service import order_token
from tests.conftest import ADDRESS, Shopper

HTMX = {"HX-Request": "true"}


@pytest.fixture
def order(shopper, make_product, database):
    lamp = make_product("Leuchte", price_cents=4990, stock=5)
    vase = make_product("Vase", price_cents=1990, stock=5)
    shopper.buy(lamp, vase)
    return Order.get()


def page(admin, order) -> str:
    response = admin.client.get(f"/admin/orders/{order.number}")
    assert response.status_code == 200
    return response.text


def step(admin, order, name: str, data: dict | None = None, htmx: bool = False):
    return admin.post(f"/admin/orders/{order.number}/{name}", data or {}, headers=HTMX if htmx else None)


def fresh(order) -> Order:
    return Order.get_by_id(order.id)


def stock(name: str) -> int:
    return Product.get(Product.name == name).stock


# -- the table ----------------------------------------------------------------------

def test_the_table_lists_orders_with_customer_payment_and_state(admin, order):
    html = admin.client.get("/admin/orders").text
    assert order.number in html and "Anna Beispiel" in html and "anna@example.org" in html
    assert "Offen" in html or "Unbezahlt" in html
    assert "Wartet auf Zahlung" in html and "DE" in html and "69,80" in html


@pytest.mark.parametrize("query,found", [
    ("q={number}", True), ("q={year}+{tail}", True), ("q=Beispiel", True), ("q=anna@", True),
    ("q=Niemand", False), ("status=awaiting_payment", True), ("status=paid", False),
    ("payment=unpaid", True), ("payment=paid", False), ("method=prepayment", True),
    ("from=2000-01-01", True), ("to=2000-01-01", False),
])
def test_search_and_filters(admin, order, query, found):
    year, tail = order.number.split("-")
    html = admin.client.get("/admin/orders?" + query.format(number=order.number, year=year, tail=tail)).text
    assert (f">{order.number}</a>" in html) == found


def test_nonsense_in_the_address_falls_back_to_the_defaults(admin, order):
    for query in ("status=nope", "from=31.12.2026", "to=2026-13-45", "sort=evil", "page=-3", "size=10000",
                  "q=" + "x" * 500, "from=２０２６-01-01"):
        response = admin.client.get(f"/admin/orders?{query}")
        assert response.status_code == 200, query


def test_the_table_sorts_and_an_htmx_request_gets_only_the_table(admin, order):
    response = admin.client.get("/admin/orders?sort=-total", headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="orders-table"') and "<html" not in response.text
    assert 'aria-sort="descending"' in response.text


def test_bulk_mark_paid_asks_first_then_pays_once(admin, order, shopper, make_product):
    confirm = admin.post("/admin/orders/paid", {"ids": str(order.id)})
    assert confirm.status_code == 200 and order.number in confirm.text
    assert fresh(order).status == "awaiting_payment"  # nothing happens before the confirmation
    for _ in range(2):  # sent twice: paid once
        done = admin.post("/admin/orders/paid/apply", {"ids": str(order.id)})
        assert done.status_code == 303
    assert fresh(order).status == "paid" and fresh(order).payment_status == "paid"
    assert Payment.select().count() == 1
    assert OutboxMessage.select().where(OutboxMessage.kind == "order_paid").count() == 1
    assert AuditEntry.get(AuditEntry.action == "paid").object_label == order.number


def test_bulk_without_ticks_says_so(admin, order):
    response = admin.post("/admin/orders/paid", {"ids": "x"})
    assert response.status_code == 303
    assert "Bitte kreuzen Sie" in admin.client.get(response.headers["location"]).text


def test_packing_slips_for_ticked_orders(admin, order):
    html = admin.client.get(f"/admin/orders/packing-slips?ids={order.id}&ids=999999").text
    assert "Lieferschein" in html and order.number in html and "Leuchte" in html and "Vase" in html
    assert "49,90" not in html  # no prices on a packing slip
    assert 'class="admin-nav"' not in html
    single = admin.client.get(f"/admin/orders/{order.number}/packing-slip").text
    assert "Anna Beispiel" in single and "Lindenweg 4" in single


# -- one order --------------------------------------------------------------------------

def test_the_order_page_shows_lines_totals_addresses_and_history(admin, order):
    html = page(admin, order)
    for text in ("Leuchte", "Vase", "69,80", "19", "Lindenweg 4", "Wartet auf Zahlung", "Ihre Bestellung"):
        assert text in html, text
    assert "Als bezahlt markieren" in html and "Stornieren" in html or "Bestellung stornieren" in html
    assert "Als versandt markieren" not in html  # only the steps the state allows


def test_unknown_and_malformed_numbers_are_404(admin, order):
    for number in ("2026-999999", "nope", "..%2F..", "2026-000001x"):
        assert admin.client.get(f"/admin/orders/{number}").status_code == 404, number


def test_paid_then_shipped_then_delivered_with_mails_and_tracking_link(admin, order, client, settings):
    assert step(admin, order, "paid", {"reference": "Überweisung 4711"}).status_code == 303
    assert fresh(order).status == "paid" and Payment.get().reference == "Überweisung 4711"
    response = step(admin, order, "ship", {"carrier": "dhl", "tracking_number": "00340 43412 34"}, htmx=True)
    assert response.status_code == 200 and "Versandt" in response.text
    assert fresh(order).tracking_number == "003404341234"
    mail = OutboxMessage.select().where(OutboxMessage.kind == "order_shipped").get()
    text = email.message_from_string(mail.message, policy=policy.default).get_body(("plain",)).get_content()
    assert "Sendung verfolgen: https://www.dhl.de/" in text and "piececode=003404341234" in text
    customer_page = client.get(f"/orders/{order.number}?token={order_token(settings, order.number)}").text
    assert "piececode=003404341234" in customer_page
    assert step(admin, order, "delivered").status_code == 303
    assert fresh(order).status == "delivered"
    actions = [e.action for e in AuditEntry.select().where(AuditEntry.object_type == "order").order_by(AuditEntry.id)]
    assert actions == ["paid", "ship", "delivered"]


def test_a_step_the_state_does_not_allow_is_refused_and_changes_nothing(admin, order):
    before = (fresh(order).status, OutboxMessage.select().count(), AuditEntry.select().count())
    for name, data in (("ship", {"carrier": "dhl", "tracking_number": "12345678"}), ("delivered", {}),
                       ("refund", {"amount": "10,00", "reference": "x"})):
        response = step(admin, order, name, data, htmx=True)
        assert response.status_code == 409, name
        assert "nicht möglich" in response.text
    assert (fresh(order).status, OutboxMessage.select().count(), AuditEntry.select().count()) == before


def test_a_double_submit_pays_once(admin, order):
    step(admin, order, "paid")
    again = step(admin, order, "paid")
    assert again.status_code == 409
    assert Payment.select().count() == 1


def test_bad_tracking_numbers_and_carriers_are_refused(admin, order):
    step(admin, order, "paid")
    for data in ({"carrier": "dhl", "tracking_number": ""}, {"carrier": "dhl", "tracking_number": "12\r\nX-Evil: 1"},
                 {"carrier": "evil", "tracking_number": "12345678"}, {"carrier": "dhl", "tracking_number": "12"}):
        response = step(admin, order, "ship", data, htmx=True)
        assert response.status_code == 422, data
    assert fresh(order).status == "paid"


def test_cancel_before_payment_returns_the_stock(admin, order):
    assert stock("Leuchte") == 4
    assert step(admin, order, "cancel", {"reason": "Kundin hat angerufen"}).status_code == 303
    assert fresh(order).status == "cancelled" and stock("Leuchte") == 5 and stock("Vase") == 5
    assert OutboxMessage.select().where(OutboxMessage.kind == "order_cancelled").count() == 1


def test_cancel_after_payment_needs_the_transfer_back_and_records_it(admin, order):
    step(admin, order, "paid")
    refused = step(admin, order, "cancel", {}, htmx=True)
    assert refused.status_code == 422 and "Rücküberweisung" in refused.text
    assert fresh(order).status == "paid"
    assert step(admin, order, "cancel", {"reference": "Rücküberweisung 1"}).status_code == 303
    assert fresh(order).payment_status == "refunded"
    assert Refund.get().amount_cents == 6980 and Refund.get().reference == "Rücküberweisung 1"


def test_refund_one_line_then_the_rest(admin, order):
    step(admin, order, "paid")
    step(admin, order, "ship", {"carrier": "dhl", "tracking_number": "12345678"})
    vase_line = next(line for line in order.lines if line.name == "Vase")
    response = step(admin, order, "refund", {f"line-{vase_line.id}": "1", "amount": "19,90",
                                             "reference": "RÜ-1", "restock": "y"})
    assert response.status_code == 303
    order_now = fresh(order)
    assert order_now.status == "shipped" and order_now.payment_status == "partly_refunded"
    assert stock("Vase") == 5  # came back into stock, through the ledger
    assert StockMovement.select().where(StockMovement.reason == "return").count() == 1
    assert OutboxMessage.select().where(OutboxMessage.kind == "order_refunded_partly").count() == 1
    # the same line twice is more than was bought
    again = step(admin, order, "refund", {f"line-{vase_line.id}": "1", "amount": "1,00", "reference": "x"}, htmx=True)
    assert again.status_code == 422 and "höchstens" in again.text.lower()
    too_much = step(admin, order, "refund", {"amount": "60,00", "reference": "RÜ-2"}, htmx=True)
    assert too_much.status_code == 422
    assert step(admin, order, "refund", {"amount": "49,90", "reference": "RÜ-2"}).status_code == 303
    assert fresh(order).status == "refunded" and fresh(order).payment_status == "refunded"
    assert sum(r.amount_cents for r in Refund.select()) == 6980


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1e9", "99999999999", ""])
def test_a_refund_amount_that_makes_no_sense_is_refused(admin, order, amount):
    step(admin, order, "paid")
    response = step(admin, order, "refund", {"amount": amount, "reference": "x"}, htmx=True)
    assert response.status_code == 422
    assert Refund.select().count() == 0


def test_refund_lines_of_another_order_are_refused(admin, order, shopper, make_product):
    step(admin, order, "paid")
    other = Shopper(shopper.client)
    other.buy(make_product("Tasse", price_cents=990, stock=3))
    foreign = Order.select().order_by(Order.id.desc()).get().lines.get()
    response = step(admin, order, "refund", {f"line-{foreign.id}": "1", "amount": "9,90", "reference": "x"}, htmx=True)
    assert response.status_code == 422
    assert Refund.select().count() == 0


def test_notes_are_internal(admin, order, client, settings):
    assert step(admin, order, "notes", {"text": "Bitte als Geschenk verpacken.\nZweite Zeile"}).status_code == 303
    assert "Bitte als Geschenk verpacken." in page(admin, order)
    customer_page = client.get(f"/orders/{order.number}?token={order_token(settings, order.number)}").text
    assert "Leuchte" in customer_page and "Geschenk" not in customer_page
    assert step(admin, order, "notes", {"text": "Böse\x00"}, htmx=True).status_code == 422
    assert step(admin, order, "notes", {"text": "   "}, htmx=True).status_code == 422
    assert OrderNote.select().count() == 1


def test_the_delivery_address_can_be_corrected_before_shipment(admin, order):
    fields = {f"delivery-{k.split('-')[1]}": v for k, v in ADDRESS.items() if k.startswith("billing-")}
    response = step(admin, order, "address", {**fields, "delivery-street": "Ahornweg 9"})
    assert response.status_code == 303
    assert fresh(order).delivery_address["street"] == "Ahornweg 9"
    entry = AuditEntry.get(AuditEntry.action == "update")
    assert entry.changes["delivery.street"] == ["Lindenweg 4", "Ahornweg 9"]
    other_country = step(admin, order, "address", {**fields, "delivery-country": "AT", "delivery-postcode": "1010"},
                         htmx=True)
    assert other_country.status_code == 422
    step(admin, order, "paid")
    step(admin, order, "ship", {"carrier": "dhl", "tracking_number": "12345678"})
    assert step(admin, order, "address", fields, htmx=True).status_code == 409


def test_a_mail_can_be_sent_again(admin, order):
    confirmation = OutboxMessage.get(OutboxMessage.kind == "order_confirmation")
    OutboxMessage.update(sent_at=confirmation.created_at).execute()
    assert step(admin, order, "mail-again", {"message": str(confirmation.id)}).status_code == 303
    copies = OutboxMessage.select().where(OutboxMessage.kind == "order_confirmation")
    assert copies.count() == 2 and len({m.message for m in copies}) == 1
    assert step(admin, order, "mail-again", {"message": "999999"}).status_code == 404


def test_every_step_needs_the_token(admin, order):
    for name in ("paid", "ship", "delivered", "cancel", "refund", "notes", "address", "mail-again"):
        response = admin.client.post(f"/admin/orders/{order.number}/{name}", data={})
        assert response.status_code in (400, 403), name
    assert fresh(order).status == "awaiting_payment"


def test_two_admins_mark_paid_at_once_pay_once(app, admin, order):
    from tests.conftest import sign_in_admin
    other = sign_in_admin(app, "zweite@example.org")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda a: step(a, order, "paid").status_code, [admin, other]))
    assert sorted(results) == [303, 409]
    assert Payment.select().count() == 1


def test_the_count_follows_new_orders(admin, order, shopper, make_product):
    assert "1 Bestellung" in admin.client.get("/admin/orders?q=Beispiel").text
    shopper.buy(make_product("Kanne", price_cents=2990, stock=2))
    assert "2 Bestellungen" in admin.client.get("/admin/orders?q=Beispiel").text
    step(admin, order, "cancel")
    assert "1 Bestellung" in admin.client.get("/admin/orders?q=Beispiel&status=awaiting_payment").text
    assert "1 Bestellung" in admin.client.get("/admin/orders?status=cancelled").text
