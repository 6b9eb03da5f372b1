"""Filling the cart: quantities against stock, prices from the database, with and without htmx."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from shop.cart.models import CartLine


def mini_count(html: str) -> int:
    return int(re.search(r'id="cart-mini".*?class="count">(\d+)<', html, re.S).group(1))


def test_adding_without_javascript_redirects_to_the_cart(shopper, make_product):
    tea = make_product("Früchtetee", price_cents=349, vat_rate=7, stock=10)
    response = shopper.add(tea, 2)
    assert response.status_code == 303 and response.headers["location"] == "/cart"
    html = shopper.client.get("/cart").text
    assert "Früchtetee" in html and "6,98\xa0€" in html
    assert "Das Produkt liegt in Ihrem Warenkorb." in html
    assert mini_count(html) == 2


def test_cart_shows_subtotal_shipping_vat_per_rate_and_total(shopper, make_product):
    shopper.add(make_product("Tee", price_cents=1070, vat_rate=7))
    shopper.add(make_product("Tasse", price_cents=1190, vat_rate=19))
    html = shopper.client.get("/cart").text
    assert "Zwischensumme" in html and "22,60\xa0€" in html
    assert "Versand nach Deutschland" in html and "4,90\xa0€" in html
    assert "27,50\xa0€" in html  # total
    # VAT per line (70 + 190) and on shipping, split by the goods' value per rate.
    assert re.search(r"enthaltene MwSt. 19 %</dt><dd[^>]*>2,31\xa0€", html)
    assert re.search(r"enthaltene MwSt. 7 %</dt><dd[^>]*>0,85\xa0€", html)


def test_free_shipping_above_the_threshold(shopper, make_product):
    shopper.add(make_product("Pfanne", price_cents=5000))
    assert "kostenlos" in shopper.client.get("/cart").text


def test_adding_with_htmx_answers_in_place_and_updates_the_mini_cart(shopper, make_product):
    cup = make_product("Tasse")
    response = shopper.add(cup, 3, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Im Warenkorb." in response.text
    assert 'id="cart-mini"' in response.text and 'hx-swap-oob="true"' in response.text
    assert mini_count(response.text) == 3
    assert "<!doctype" not in response.text


def test_asking_for_more_than_in_stock_is_refused_with_the_number_left(shopper, make_product, database):
    bowl = make_product("Schale", stock=3)
    response = shopper.add(bowl, 4, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "nur noch 3 Stück auf Lager" in response.text
    shopper.add(bowl, 2)
    second = shopper.add(bowl, 2, headers={"HX-Request": "true"})  # 2 + 2 > 3
    assert second.status_code == 422 and "Sie haben bereits 2 im Warenkorb" in second.text
    assert CartLine.get().quantity == 2


OTHER_DIGITS = ["١", "３", "0_1", "+1", "²", "1\u200b", "𝟙"]  # Arabic, full-width, underscore, sign, ...


@pytest.mark.parametrize("quantity", ["0", "-1", "100", "abc", "1e3", "", "99999999999999999999", "2.5", *OTHER_DIGITS])
def test_bad_quantities_change_nothing(shopper, make_product, database, quantity):
    cup = make_product("Tasse")
    response = shopper.post("/cart/items", {"product_id": cup.id, "quantity": quantity},
                            headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert CartLine.select().count() == 0


@pytest.mark.parametrize("product_id", ["0", "-5", "999999", "abc", "", "1; DROP TABLE product", "+1", "١", "０1"])
def test_unknown_products_cannot_be_added(shopper, make_product, database, product_id):
    make_product("Tasse")
    response = shopper.post("/cart/items", {"product_id": product_id, "quantity": "1"})
    assert response.status_code == 303
    assert CartLine.select().count() == 0
    assert 'role="alert"' in shopper.client.get("/cart").text


def test_inactive_and_sold_out_products_cannot_be_added(shopper, make_product, database):
    hidden = make_product("Alt", active=False)
    gone = make_product("Weg", stock=0)
    for product in (hidden, gone):
        shopper.add(product)
    assert CartLine.select().count() == 0


def test_the_price_always_comes_from_the_database(shopper, make_product):
    vase = make_product("Vase", price_cents=2500)
    shopper.post("/cart/items", {"product_id": vase.id, "quantity": 1, "price": "1", "price_cents": "1"})
    assert "25,00\xa0€" in shopper.client.get("/cart").text


def test_changing_and_removing_lines(shopper, make_product, database):
    a, b = make_product("Becher", stock=5), make_product("Teller")
    shopper.add(a)
    shopper.add(b)
    assert shopper.post(f"/cart/items/{a.id}", {"quantity": 4}).status_code == 303
    assert CartLine.get(CartLine.product == a).quantity == 4
    response = shopper.post(f"/cart/items/{b.id}", {"quantity": 0}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'id="cart-content"' in response.text
    assert "Teller" not in response.text and mini_count(response.text) == 4
    too_many = shopper.post(f"/cart/items/{a.id}", {"quantity": 6}, headers={"HX-Request": "true"})
    assert too_many.status_code == 422 and CartLine.get(CartLine.product == a).quantity == 4


@pytest.mark.parametrize("quantity", ["-1", "abc", "", "100", *OTHER_DIGITS])
def test_bad_quantity_changes_are_refused(shopper, make_product, database, quantity):
    a = make_product("Becher")
    shopper.add(a)
    shopper.post(f"/cart/items/{a.id}", {"quantity": quantity})
    assert CartLine.get().quantity == 1


def test_changing_a_line_that_is_not_in_the_cart(shopper, make_product, client):
    a = make_product("Becher")
    assert shopper.post(f"/cart/items/{a.id}", {"quantity": 2}).status_code == 303
    assert shopper.post("/cart/items/999999", {"quantity": 2}).status_code == 303
    assert client.post("/cart/items/abc", data={"quantity": 1}).status_code == 404  # no such line, token or not
    assert shopper.post("/cart/items/abc", {"quantity": 1}).status_code == 404


def test_carts_are_private_to_their_session(app, make_product, database):
    from starlette.testclient import TestClient

    from tests.conftest import Shopper

    cup = make_product("Tasse")
    with TestClient(app) as first, TestClient(app) as second:
        Shopper(first).add(cup, 2)
        assert "Tasse" not in second.get("/cart").text
        # A cart token sent as a form field or cookie is not how carts are found.
        token = CartLine.get().cart.token
        second.cookies.set("cart", token)
        Shopper(second).post("/cart/items", {"product_id": cup.id, "quantity": 1, "cart": token})
        assert CartLine.select().count() == 2  # the second visitor got a cart of their own
        assert "Ihr Warenkorb ist leer" not in second.get("/cart").text
        assert mini_count(first.get("/cart").text) == 2


def test_product_pages_and_cards_offer_add_to_cart(client, make_product):
    cup = make_product("Tasse", slug="tasse")
    make_product("Weg", stock=0)
    page = client.get("/products/tasse").text
    assert 'action="/cart/items"' in page and 'name="quantity"' in page
    listing = client.get("/products").text
    assert listing.count('action="/cart/items"') == 1  # not for the sold-out one
    assert f'value="{cup.id}"' in listing


def form_key(html: str, product) -> str:
    return re.search(rf'name="form_key" value="([^"]+)" id="form-key-{product.id}"', html).group(1)


def test_the_same_add_to_cart_form_sent_again_adds_once(shopper, make_product, client):
    tea = make_product("Tee", slug="tee")
    key = form_key(client.get("/products/tee").text, tea)
    for _ in range(3):  # a double click, a resent form
        response = shopper.post("/cart/items", {"product_id": tea.id, "quantity": 1, "form_key": key})
        assert response.status_code == 303
    assert CartLine.get().quantity == 1
    # The page shown next has a new key: adding again on purpose adds one more.
    key = form_key(client.get("/products/tee").text, tea)
    shopper.post("/cart/items", {"product_id": tea.id, "quantity": 1, "form_key": key})
    assert CartLine.get().quantity == 2


def test_after_adding_with_htmx_the_form_gets_a_fresh_key(shopper, make_product, client):
    tea = make_product("Tee", slug="tee")
    key = form_key(client.get("/products/tee").text, tea)
    data = {"product_id": tea.id, "quantity": 1, "form_key": key}
    answer = shopper.post("/cart/items", data, headers={"HX-Request": "true"})
    fresh = re.search(rf'name="form_key" value="([^"]+)" id="form-key-{tea.id}" hx-swap-oob="true"', answer.text)
    assert fresh and fresh.group(1) != key
    shopper.post("/cart/items", data, headers={"HX-Request": "true"})  # the old key once more: nothing
    assert CartLine.get().quantity == 1
    shopper.post("/cart/items", {**data, "form_key": fresh.group(1)}, headers={"HX-Request": "true"})
    assert CartLine.get().quantity == 2


def test_the_same_form_racing_on_a_slow_network_adds_once(app, shopper, make_product, client):
    tea = make_product("Tee", slug="tee", stock=50)
    page = client.get("/products/tee").text
    key, token = form_key(page, tea), re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = {"csrf_token": token, "product_id": tea.id, "quantity": 1, "form_key": key}
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda _: client.post("/cart/items", data=data), range(5)))
    assert {a.status_code for a in answers} == {303}
    assert [line.quantity for line in CartLine.select()] == [1]


@pytest.mark.parametrize("key", ["kurz", "x" * 65, "schl&ssel-mit-zeichen!!", "a b c d e f g h i j"])
def test_a_tampered_form_key_adds_nothing(shopper, make_product, database, key):
    tea = make_product("Tee")
    response = shopper.post("/cart/items", {"product_id": tea.id, "quantity": 1, "form_key": key})
    assert response.status_code == 303 and not CartLine.select().exists()
