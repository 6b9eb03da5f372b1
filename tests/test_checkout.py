"""The three checkout steps, placing the order, and what can go wrong on the way."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from shop.cart.models import CartLine
from shop.catalog.models import Product
from shop.legal.texts import versions
from shop.mail.models import OutboxMessage
from shop.orders.models import Order, OrderEvent, OrderLine


@pytest.fixture
def tea(make_product):
    return make_product("Früchtetee", price_cents=349, vat_rate=7, stock=10)


@pytest.fixture
def cup(make_product):
    return make_product("Tasse", price_cents=1190, vat_rate=19, stock=10)


def test_a_guest_buys_two_products(shopper, tea, cup, database):
    shopper.add(tea, 2)
    shopper.add(cup)
    response = shopper.address()
    assert response.headers["location"] == "/checkout/delivery"
    assert shopper.delivery().headers["location"] == "/checkout/review"
    review = shopper.client.get("/checkout/review").text
    assert "Früchtetee" in review and "Tasse" in review and "Anna Beispiel" in review
    totals = review.index('class="totals"')
    assert review.index("Zahlungspflichtig bestellen") > totals
    for link in ('href="/terms"', 'href="/withdrawal"', 'href="/privacy"'):
        assert link in review
    response = shopper.place()
    assert response.status_code == 303
    number = f"{dt.date.today().year}-000001"
    assert re.fullmatch(rf"/orders/{number}\?token=[\w.-]+", response.headers["location"])

    order = Order.get(Order.number == number)
    assert (order.subtotal_cents, order.shipping_cents, order.total_cents) == (1888, 490, 2378)
    assert order.status == "awaiting_payment" and order.legal_versions == versions()
    assert [(l.sku, l.quantity, l.unit_price_cents, l.vat_rate) for l in order.lines.order_by(OrderLine.id)] == [
        (tea.sku, 2, 349, 7), (cup.sku, 1, 1190, 19)]
    assert Product.get_by_id(tea.id).stock == 8 and Product.get_by_id(cup.id).stock == 9
    assert CartLine.select().count() == 0
    assert OrderEvent.get().status == "awaiting_payment"
    mail = OutboxMessage.get()
    assert mail.recipient == "anna@example.org" and number in mail.subject

    page = shopper.client.get(response.headers["location"])
    assert "Vielen Dank für Ihre Bestellung!" in page.text
    assert number in page.text and "IBAN" in page.text and "Verwendungszweck" in page.text
    assert "Wartet auf Zahlung" in page.text and "23,78\xa0€" in page.text


def test_order_numbers_are_sequential(client, app, make_product, database):
    from starlette.testclient import TestClient

    from tests.conftest import Shopper

    vase = make_product("Vase")
    numbers = []
    for _ in range(3):
        with TestClient(app, follow_redirects=False) as buyer:
            location = Shopper(buyer).buy(vase).headers["location"]
            numbers.append(location.split("/")[2].split("?")[0])
    year = dt.date.today().year
    assert numbers == [f"{year}-000001", f"{year}-000002", f"{year}-000003"]


def test_skipping_ahead_redirects_to_the_first_missing_step(shopper, client, tea):
    assert client.get("/checkout/review").headers["location"] == "/cart"
    assert client.get("/checkout/address").headers["location"] == "/cart"
    shopper.add(tea)
    assert client.get("/checkout/review").headers["location"] == "/checkout/address"
    assert client.get("/checkout/delivery").headers["location"] == "/checkout/address"
    shopper.address()
    assert client.get("/checkout/review").headers["location"] == "/checkout/delivery"
    shopper.delivery()
    assert client.get("/checkout/review").status_code == 200


def test_back_keeps_what_was_typed(shopper, client, tea):
    shopper.add(tea)
    shopper.address(**{"billing-company": "Beispiel GmbH"})
    html = client.get("/checkout/address").text
    assert 'value="Anna Beispiel"' in html and 'value="Beispiel GmbH"' in html and 'value="10115"' in html


@pytest.mark.parametrize("changes,message", [
    ({"billing-postcode": "1234"}, "Diese Postleitzahl passt nicht"),
    ({"billing-country": "AT", "billing-postcode": "10115"}, "Diese Postleitzahl passt nicht"),
    ({"email": "keine-adresse"}, "gültige E-Mail-Adresse"),
    ({"billing-name": ""}, "Bitte prüfen Sie"),
    ({"billing-street": "Lindenweg"}, "Hausnummer"),
    ({"billing-country": "US"}, "Bitte prüfen Sie"),
    ({"billing-city": "x" * 500}, "Bitte prüfen Sie"),
    ({"billing-name": "   "}, "Bitte prüfen Sie"),
    ({"billing-name": "An\x00na"}, "nur Buchstaben, Ziffern und Satzzeichen"),
    ({"billing-postcode": "١٠١١٥"}, "Diese Postleitzahl passt nicht"),
    ({"email": "a(b)@x.de"}, "gültige E-Mail-Adresse"),
    ({"email": "a@b.de;c@d.de"}, "gültige E-Mail-Adresse"),
    ({"email": "a,b@x.de"}, "gültige E-Mail-Adresse"),
    ({"email": 'a"b<c>@x.de'}, "gültige E-Mail-Adresse"),
    ({"email": "ä@ü.de"}, "gültige E-Mail-Adresse"),
])
def test_bad_addresses_are_explained_and_not_saved(shopper, client, tea, changes, message):
    shopper.add(tea)
    response = shopper.address(**changes)
    assert response.status_code == 422
    assert message in response.text
    assert client.get("/checkout/delivery").headers["location"] == "/checkout/address"


def test_a_separate_delivery_address_is_checked_only_when_chosen(shopper, tea, database):
    shopper.add(tea)
    assert shopper.address(**{"delivery-postcode": "kaputt"}).status_code == 303
    response = shopper.address(**{"separate_delivery": "y", "delivery-name": "Ben", "delivery-street": "Hof 2",
                                  "delivery-postcode": "1010", "delivery-city": "Wien", "delivery-country": "AT"})
    assert response.status_code == 303
    shopper.delivery()
    shopper.place()
    order = Order.get()
    assert order.shipping_address["city"] == "Wien" and order.shipping_cents == 1290


def delivery_options(html: str) -> dict[str, str]:
    """The delivery options a page offers, with the cost shown beside each."""
    return dict(re.findall(r'name="delivery" value="(\w+)".*?<span class="option-cost">([^<]+)</span>', html, re.S))


def test_the_delivery_step_shows_what_each_option_costs(shopper, tea, make_product):
    shopper.add(tea)
    shopper.address()
    assert delivery_options(shopper.client.get("/checkout/delivery").text) == {
        "standard": "4,90\xa0€", "express": "14,80\xa0€"}
    shopper.add(make_product("Teekanne", price_cents=6000))
    assert delivery_options(shopper.client.get("/checkout/delivery").text) == {
        "standard": "kostenlos", "express": "9,90\xa0€"}


def test_express_is_not_offered_abroad(shopper, tea):
    shopper.add(tea)
    shopper.address(**{"billing-country": "AT", "billing-postcode": "1010", "billing-city": "Wien"})
    page = shopper.client.get("/checkout/delivery").text
    assert delivery_options(page) == {"standard": "12,90\xa0€"} and "Versand nach Österreich" in page
    response = shopper.delivery("express")  # sent by hand all the same
    assert response.status_code == 422 and 'value="express"' not in response.text
    assert shopper.delivery("overnight-drone").status_code == 422
    assert shopper.delivery("standard", "bitcoin").status_code == 422
    assert shopper.client.get("/checkout/review").headers["location"] == "/checkout/delivery"


def test_an_address_abroad_after_choosing_express_asks_for_delivery_again(shopper, tea):
    shopper.add(tea)
    shopper.address()
    shopper.delivery("express")
    shopper.address(**{"billing-country": "AT", "billing-postcode": "1010", "billing-city": "Wien"})
    assert shopper.client.get("/checkout/review").headers["location"] == "/checkout/delivery"


def test_express_costs_more(shopper, tea, database):
    shopper.add(tea)
    shopper.address()
    shopper.delivery("express")
    shopper.place()
    assert Order.get().shipping_cents == 490 + 990


def test_the_terms_must_be_accepted(shopper, tea, database):
    shopper.add(tea)
    shopper.address()
    shopper.delivery()
    response = shopper.place(accept_terms=False)
    assert response.status_code == 422 and "Bitte bestätigen Sie die Allgemeinen Geschäftsbedingungen" in response.text
    assert Order.select().count() == 0


def test_a_cart_changed_in_another_tab_is_detected_at_review(shopper, tea, cup, database):
    shopper.add(tea)
    shopper.address()
    shopper.delivery()
    review = shopper.review()
    shopper.add(cup)  # another tab
    response = shopper.place(review)
    assert response.status_code == 409 and "Ihr Warenkorb hat sich geändert" in response.text
    assert Order.select().count() == 0 and Product.get_by_id(tea.id).stock == 10
    assert shopper.place().status_code == 303  # after looking again


def test_tampered_hidden_fields_place_nothing(shopper, tea, database):
    shopper.add(tea)
    shopper.address()
    shopper.delivery()
    review = shopper.review()
    assert shopper.place({**review, "fingerprint": "0" * 32}).status_code == 409
    assert shopper.place({**review, "fingerprint": ""}).status_code == 422
    assert shopper.place({"token": "", "fingerprint": review["fingerprint"]}).status_code == 422
    assert shopper.place({**review, "price": "1", "total_cents": "1"}).status_code == 303
    assert Order.get().total_cents == 349 + 490


def test_a_double_submit_makes_one_order(shopper, tea, database):
    shopper.add(tea, 2)
    shopper.address()
    shopper.delivery()
    review = shopper.review()
    first, second, third = (shopper.place(review) for _ in range(3))
    # The same order each time (its signed link carries the second it was made).
    orders = {r.headers["location"].split("?")[0] for r in (first, second, third)}
    assert len(orders) == 1
    assert Order.select().count() == 1 and Product.get_by_id(tea.id).stock == 8
    assert OutboxMessage.select().count() == 1


def test_stock_that_ran_out_meanwhile_names_the_line_and_takes_nothing(shopper, tea, cup, database):
    shopper.add(tea, 3)
    shopper.add(cup, 2)
    shopper.address()
    shopper.delivery()
    review = shopper.review()
    Product.update(stock=1).where(Product.id == cup.id).execute()  # someone else bought them
    response = shopper.place(review)
    assert response.status_code == 409
    assert "Von Tasse ist nur noch 1 Stück da" in response.text
    assert Product.get_by_id(tea.id).stock == 10 and Product.get_by_id(cup.id).stock == 1
    assert Order.select().count() == 0
    Product.update(stock=0).where(Product.id == cup.id).execute()
    assert "Tasse ist inzwischen ausverkauft" in shopper.place(review).text
    # Going back to the review now leads to the cart, which marks the line.
    assert shopper.client.get("/checkout/review").headers["location"] == "/cart"
    cart = shopper.client.get("/cart").text
    assert "Ausverkauft" in cart and "Zur Kasse" not in cart


def test_a_product_taken_off_sale_is_marked_in_the_cart_and_can_be_removed(shopper, tea, cup, database):
    shopper.add(tea)
    shopper.add(cup)
    Product.update(active=False).where(Product.id == cup.id).execute()
    cart = shopper.client.get("/cart").text
    assert "Nicht mehr erhältlich" in cart and "Zur Kasse" not in cart
    assert shopper.client.get("/checkout/address").headers["location"] == "/cart"
    assert shopper.post(f"/cart/items/{cup.id}", {"quantity": 0}).status_code == 303
    assert "Zur Kasse" in shopper.client.get("/cart").text
    assert shopper.address().status_code == 303 and shopper.delivery().status_code == 303
    assert shopper.place().status_code == 303


def test_a_checkout_changed_in_another_tab_is_detected(shopper, tea, database):
    shopper.add(tea)
    shopper.address()
    shopper.delivery()
    review = shopper.review()
    shopper.address(**{"billing-country": "AT", "billing-postcode": "1010", "billing-city": "Wien"})
    response = shopper.place(review)
    assert response.status_code == 409 and "Ihr Warenkorb hat sich geändert" in response.text
    assert Order.select().count() == 0
    shopper.delivery("standard")
    review = shopper.review()
    shopper.client.get("/checkout/delivery")
    assert shopper.place(review).status_code == 303
    assert Order.get().shipping_cents == 1290


def test_checkout_steps_swap_in_place_with_htmx(shopper, tea):
    shopper.add(tea)
    from tests.conftest import ADDRESS

    response = shopper.post("/checkout/address", ADDRESS, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="checkout-step"')
    assert response.headers["hx-push-url"] == "/checkout/delivery"
    assert 'aria-current="step"' in response.text and "Versand und Zahlung" in response.text
    shopper.delivery()
    placed = shopper.place(headers={"HX-Request": "true"})
    assert placed.headers["hx-redirect"].startswith("/orders/")


def test_an_order_page_needs_the_signed_link(shopper, client, tea, database):
    shopper.add(tea)
    shopper.address()
    shopper.delivery()
    location = shopper.place().headers["location"]
    number = location.split("/")[2].split("?")[0]
    assert client.get(location).status_code == 200
    for url in (f"/orders/{number}", f"/orders/{number}?token=", f"/orders/{number}?token=abc",
                f"/orders/{number}?token=" + location.split("token=")[1][:-2] + "xx",
                "/orders/2026-000099?" + location.split("?")[1]):
        assert client.get(url).status_code == 404, url


def test_mixed_vat_rates_are_stored_per_rate(shopper, tea, cup, database):
    shopper.add(tea)
    shopper.add(cup)
    shopper.address()
    shopper.delivery()
    shopper.place()
    # 349 at 7 % holds 23, 1190 at 19 % holds 190; shipping 490 split 111/379 adds 7 and 61.
    assert Order.get().vat_by_rate == {"19": 251, "7": 30}


def test_private_pages_are_not_cached_and_order_links_not_passed_on(shopper, client, tea):
    shopper.add(tea)
    assert client.get("/cart").headers["cache-control"] == "private, no-store"
    shopper.address()
    assert client.get("/checkout/delivery").headers["cache-control"] == "private, no-store"
    shopper.delivery("express")
    review = client.get("/checkout/review")
    assert review.headers["cache-control"] == "private, no-store"
    assert "Versand nach Deutschland, Expressversand" in review.text
    order = client.get(shopper.place().headers["location"])
    assert order.headers["referrer-policy"] == "same-origin"  # the secret link goes to no other site
    assert order.headers["cache-control"] == "private, no-store"
    assert "Versand, Expressversand" in order.text


def test_countries_are_listed_as_a_dictionary_sorts_them(shopper, tea):
    shopper.add(tea)
    page = shopper.client.get("/checkout/address").text
    billing = page.split('name="billing-country"')[1].split("</select>")[0]
    names = re.findall(r">([^<]+)</option>", billing)
    assert names[0] == "Deutschland"
    assert names.index("Niederlande") < names.index("Österreich") < names.index("Polen")
