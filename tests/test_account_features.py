"""What an account gives a shopper: cart merge, history, prefill, addresses, wishlist,
mail preferences, and nobody seeing another customer's things."""
from __future__ import annotations

import re
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from starlette.testclient import TestClient

from shop.accounts.models import Address, Consent, User
from shop.cart.models import Cart, CartLine
from shop.catalog.models import Product
from shop.mail.models import OutboxMessage
from shop.orders.models import Order
from shop.orders.service import order_token
from shop.wishlist.models import WishlistItem
from shop.wishlist.service import notify_back_in_stock
from tests.conftest import Shopper
from tests.test_accounts import PASSWORD, last_link, login, register


@pytest.fixture
def customer(app, database):
    """A registered, confirmed customer in a browser of their own."""
    shopper = Shopper(TestClient(app, follow_redirects=False))
    register(shopper)
    User.update(email_verified_at=User.created_at).execute()
    login(shopper)
    return shopper


def other_customer(app):
    shopper = Shopper(TestClient(app, follow_redirects=False))
    register(shopper, email="max@example.org", name="Max Mitbewerber")
    login(shopper, email="max@example.org")
    return shopper


def test_the_guest_cart_joins_the_account_cart_within_stock(app, make_product, database):
    lamp, vase = make_product("Leuchte", stock=3), make_product("Vase", stock=9)
    browser = Shopper(TestClient(app, follow_redirects=False))
    register(browser)
    login(browser)
    browser.add(lamp, 2)
    browser.post("/account/logout")
    assert "Ihr Warenkorb ist leer" in browser.client.get("/cart").text  # the cart stays with the account
    browser.add(lamp, 2)
    browser.add(vase, 1)
    login(browser)
    page = browser.client.get("/cart").text
    assert "Leuchte: jetzt 3 im Warenkorb, so viele haben wir." in page
    lines = {line.product.name: line.quantity for line in CartLine.select()}
    assert lines == {"Leuchte": 3, "Vase": 1}
    assert Cart.select().count() == 1


def test_orders_of_an_account_are_listed_and_can_be_ordered_again(customer, make_product, database):
    tea = make_product("Tee", stock=10)
    location = customer.buy(tea, quantity=2).headers["location"]
    number = location.split("/")[2].split("?")[0]
    history = customer.client.get("/account/orders").text
    assert number in history and "Wartet auf Zahlung" in history
    assert customer.client.get(f"/orders/{number}").status_code == 200  # the owner needs no link
    response = customer.post(f"/account/orders/{number}/again")
    assert response.headers["location"] == "/cart"
    assert CartLine.get().quantity == 2


def test_checkout_is_prefilled_for_signed_in_shoppers(customer, make_product, database):
    tea = make_product("Tee")
    customer.add(tea)
    page = customer.client.get("/checkout/address").text
    assert 'value="lea@example.org"' in page and 'value="Lea Kunde"' in page
    customer.post("/account/addresses", {"name": "Lea Kunde", "street": "Gartenweg 3", "postcode": "50667",
                                          "city": "Köln", "country": "DE"})
    page = customer.client.get("/checkout/address").text
    assert 'value="Gartenweg 3"' in page and 'value="50667"' in page


def test_saved_addresses_and_their_defaults(customer, database):
    for street in ("Erste Straße 1", "Zweite Straße 2"):
        assert customer.post("/account/addresses", {"name": "Lea", "street": street, "postcode": "10115",
                                                     "city": "Berlin", "country": "DE"}).status_code == 303
    first, second = Address.select().order_by(Address.id)
    assert first.default_billing and first.default_shipping and not second.default_billing
    customer.post(f"/account/addresses/{second.id}", {"action": "default-shipping"})
    assert Address.get_by_id(second.id).default_shipping and not Address.get_by_id(first.id).default_shipping
    assert customer.post("/account/addresses", {"name": "Lea", "street": "ohne Nummer", "postcode": "1",
                                                 "city": "B", "country": "DE"}).status_code == 422
    customer.post(f"/account/addresses/{first.id}", {"action": "delete"})
    assert Address.select().count() == 1


def test_email_change_is_confirmed_from_the_new_address(customer, database):
    response = customer.post("/account/email", {"email-email": "lea.neu@example.org", "email-current": PASSWORD})
    assert response.status_code == 303
    recipients = [m.recipient for m in OutboxMessage.select().order_by(OutboxMessage.id.desc()).limit(2)]
    assert set(recipients) == {"lea.neu@example.org", "lea@example.org"}
    assert User.get().email == "lea@example.org"
    message = OutboxMessage.get(OutboxMessage.recipient == "lea.neu@example.org").message
    link = re.search(r"(/account/email/confirm\?token=[\w.=-]+)", message.replace("=\r\n", "").replace("=3D", "=")).group(1)
    assert customer.client.get(link).status_code == 303
    assert User.get().email == "lea.neu@example.org"
    wrong = customer.post("/account/email", {"email-email": "x@example.org", "email-current": "falsch"})
    assert wrong.status_code == 422


def test_name_and_language_can_be_changed(customer, database):
    customer.post("/account/profile", {"name": "Lea Neu", "language": "en"})
    assert User.get().name == "Lea Neu" and User.get().language == "en"
    assert "My account" in customer.client.get("/account/profile").text
    assert customer.post("/account/profile", {"name": "", "language": "fr"}).status_code == 422


def test_newsletter_needs_double_opt_in_and_keeps_proof(customer, client, database):
    customer.post("/account/preferences", {"newsletter": "y"})
    consent = Consent.get()
    assert consent.confirmed_at is None and "zweimal im Monat" in consent.wording
    assert consent.method == "checkbox on the mail preferences page"
    message = OutboxMessage.select().order_by(OutboxMessage.id.desc()).get().message.replace("=\r\n", "").replace("=3D", "=")
    confirm = re.search(r"(/newsletter/confirm\?token=[\w.=-]+)", message).group(1)
    unsubscribe = re.search(r"(/newsletter/unsubscribe\?token=[\w.=-]+)", message).group(1)
    assert client.get(confirm).status_code == 200
    assert Consent.get().confirmed_at is not None
    # Unsubscribing works without signing in.
    stranger = Shopper(client)
    assert client.get(unsubscribe).status_code == 200
    assert stranger.post(unsubscribe).status_code == 200
    assert Consent.get().withdrawn_at is not None
    assert client.get("/newsletter/unsubscribe?token=forged").status_code == 400


def test_wishlist_toggle_page_and_move_to_cart(customer, make_product, database):
    tea = make_product("Tee", slug="tee")
    response = customer.post(f"/account/wishlist/{tea.id}", {"next": "/products/tee"}, headers={"HX-Request": "true"})
    assert 'aria-pressed="true"' in response.text and "Auf meinem Wunschzettel" in response.text
    assert "Auf meinem Wunschzettel" in customer.client.get("/products/tee").text
    assert "Tee" in customer.client.get("/account/wishlist").text
    customer.post(f"/account/wishlist/{tea.id}/to-cart")
    assert CartLine.select().count() == 1 and WishlistItem.select().count() == 0
    assert customer.post("/account/wishlist/999999").status_code == 404


def test_guests_are_asked_to_sign_in_for_the_wishlist(shopper, make_product, database):
    tea = make_product("Tee")
    response = shopper.post(f"/account/wishlist/{tea.id}", {"next": "/products"})
    assert response.headers["location"].startswith("/account/login?next=")
    assert WishlistItem.select().count() == 0


def test_a_mail_when_a_wished_item_is_back(customer, make_product, settings, database):
    tea = make_product("Tee", stock=0)
    customer.post(f"/account/wishlist/{tea.id}")
    assert notify_back_in_stock(settings) == 0
    Product.update(stock=5).where(Product.id == tea.id).execute()
    assert notify_back_in_stock(settings) == 1
    assert notify_back_in_stock(settings) == 0  # once
    assert OutboxMessage.select().order_by(OutboxMessage.id.desc()).get().subject == "Tee ist wieder erhältlich"


def test_an_account_from_a_guest_order_proves_the_address_first(app, shopper, make_product, database):
    location = shopper.buy(make_product("Tee")).headers["location"]
    token = location.split("token=")[1]
    number = location.split("/")[2].split("?")[0]
    assert "Ihre Bestellungen in einem Konto" in shopper.client.get(location).text
    # The order link alone creates nothing and signs no one in: a link goes to the order's address.
    response = shopper.post(f"/orders/{number}/account", {"token": token, "password": PASSWORD})
    assert response.status_code == 200 and "Bitte prüfen Sie Ihr Postfach" in response.text
    assert not User.select().exists() and "auth" not in shopper.client.cookies.get("session", "")
    link = last_link(f"/orders/{number}/account/confirm")
    assert OutboxMessage.select().order_by(OutboxMessage.id.desc()).get().recipient == "anna@example.org"
    assert "Ihre Adresse anna@example.org ist bestätigt" in shopper.client.get(link).text
    response = shopper.post(link, {"password": PASSWORD})
    assert response.headers["location"] == "/account/orders"
    user = User.get()
    assert user.email == "anna@example.org" and user.verified and Order.get().user_id == user.id
    assert number in shopper.client.get("/account/orders").text
    assert shopper.client.get(link).status_code == 400  # the order has its account now
    assert shopper.post(f"/orders/{number}/account", {"token": "forged"}).status_code == 404


def test_order_links_expire_and_a_fresh_one_is_mailed_on_request(shopper, make_product, settings, database):
    location = shopper.buy(make_product("Tee")).headers["location"]
    number = location.split("/")[2].split("?")[0]

    class NinetyOneDaysAgo(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - 91 * 24 * 3600

    old = URLSafeTimedSerializer(settings.secret_key, salt="order-link", signer=NinetyOneDaysAgo).dumps(number)
    page = shopper.client.get(f"/orders/{number}?token={old}")
    assert page.status_code == 403 and "Dieser Link ist abgelaufen" in page.text and "Tee" not in page.text
    sent = shopper.post(f"/orders/{number}/link", {"token": old})
    assert sent.status_code == 200 and "neuen Link" in sent.text
    fresh = last_link(f"/orders/{number}?token=")
    assert OutboxMessage.select().order_by(OutboxMessage.id.desc()).get().recipient == "anna@example.org"
    assert "Tee" in shopper.client.get(fresh).text
    assert shopper.post(f"/orders/{number}/link", {"token": "forged"}).status_code == 404
    assert shopper.client.get(f"/orders/{number}?token=forged").status_code == 404
    for _ in range(2):
        shopper.post(f"/orders/{number}/link", {"token": old})
    assert shopper.post(f"/orders/{number}/link", {"token": old}).status_code == 429  # no mail bomb


def test_nobody_sees_another_customers_things(app, customer, make_product, settings, database):
    customer.buy(make_product("Tee"))
    order = Order.get()
    customer.post("/account/addresses", {"name": "Lea", "street": "Weg 1", "postcode": "10115",
                                          "city": "Berlin", "country": "DE"})
    address = Address.get()
    vase = make_product("Vase")
    customer.post(f"/account/wishlist/{vase.id}")
    max_ = other_customer(app)
    assert max_.client.get(f"/orders/{order.number}").status_code == 404
    assert max_.post(f"/account/orders/{order.number}/again").status_code == 404
    assert max_.post(f"/account/addresses/{address.id}", {"action": "delete"}).status_code == 404
    assert max_.post(f"/account/addresses/{address.id}", {"action": "default-billing"}).status_code == 404
    assert Address.select().count() == 1
    assert "Vase" not in max_.client.get("/account/wishlist").text
    assert "Weg 1" not in max_.client.get("/account/addresses").text
    assert order.number not in max_.client.get("/account/orders").text
    # The signed link of one order opens no other.
    link = order_token(settings, order.number)
    assert max_.client.get(f"/orders/{order.number[:-1]}2?token={link}").status_code == 404


def test_a_cookie_copied_before_sign_out_reaches_neither_account_nor_cart(app, customer, make_product, database):
    tea = make_product("Tee")
    customer.add(tea)
    customer.address()
    copied = TestClient(app, follow_redirects=False)
    copied.cookies.set("session", customer.client.cookies["session"])
    customer.post("/account/logout")
    assert "Tee" not in copied.get("/cart").text
    assert "Lindenweg" not in copied.get("/checkout/address", follow_redirects=True).text
    assert copied.get("/account/profile").status_code == 303
    assert CartLine.select().count() == 1  # the account's cart is untouched


def test_promoting_an_existing_account_ends_its_sessions(app, customer, settings, monkeypatch, database):
    from shop import cli

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("ADMIN_PASSWORD", "das neue admin passwort")
    assert cli.main(["create-admin", "lea@example.org"]) == 0
    assert customer.client.get("/admin/").status_code == 303  # the old session is gone
    from shop.db import with_connection

    assert with_connection(lambda: User.get().is_admin)


@pytest.mark.parametrize("path,data", [
    ("/account/wishlist/9999999999999999999999", {}),
    ("/account/wishlist/9999999999999999999999/to-cart", {}),
    ("/account/addresses/9999999999999999999999", {"action": "delete"}),
    ("/cart/items/9999999999999999999999", {"quantity": "1"}),
    ("/account/sessions/end", {"session": "9999999999999999999999"}),
])
def test_huge_ids_are_a_404_not_an_error(customer, path, data):
    assert customer.post(path, data).status_code == 404


def test_a_file_where_text_belongs_is_refused_cleanly(customer, make_product, client):
    token = customer.csrf()
    response = customer.client.post("/account/login", data={"csrf_token": token},
                                    files={"email": ("x.txt", b"lea@example.org"), "password": ("p", b"x")})
    assert response.status_code == 422
    tea = make_product("Tee")
    response = customer.client.post("/cart/items", data={"csrf_token": token, "quantity": "1"},
                                    files={"product_id": ("id.txt", str(tea.id).encode())})
    assert response.status_code == 303 and CartLine.select().count() == 0


def test_wishing_is_idempotent_and_moving_to_the_cart_does_not_wish(customer, make_product, database):
    tea, cup = make_product("Tee"), make_product("Tasse")
    for _ in range(2):
        customer.post(f"/account/wishlist/{tea.id}", {"wish": "1"})
    assert WishlistItem.select().count() == 1
    customer.post(f"/account/wishlist/{cup.id}/to-cart")
    assert WishlistItem.select().count() == 1 and CartLine.select().count() == 1
    for _ in range(2):
        customer.post(f"/account/wishlist/{tea.id}", {"wish": "0"})
    assert WishlistItem.select().count() == 0


def test_admin_without_the_slash_redirects_within_the_shop(client):
    response = client.get("/admin", headers={"Host": "evil.example"})
    assert response.status_code == 303 and response.headers["location"] == "/admin/"


def test_a_signed_in_buyer_can_save_the_checkout_addresses(customer, make_product, database):
    customer.add(make_product("Tee"))
    assert "Adressen in meinem Konto speichern" in customer.client.get("/checkout/address").text
    delivery = {"separate_delivery": "y", "delivery-name": "Ben Beispiel", "delivery-street": "Hof 2",
                "delivery-postcode": "1010", "delivery-city": "Wien", "delivery-country": "AT"}
    customer.address(save_addresses="y", **delivery)
    assert "Die Adressen sind in Ihrem Konto gespeichert." in customer.client.get("/checkout/delivery").text
    saved = [(a.street, a.default_billing, a.default_shipping) for a in Address.select().order_by(Address.id)]
    assert saved == [("Lindenweg 4", True, True), ("Hof 2", False, False)]
    customer.address(save_addresses="y", **delivery)  # the same again: nothing twice
    assert Address.select().count() == 2


def test_guests_are_not_offered_to_save_addresses(shopper, make_product, database):
    shopper.add(make_product("Tee"))
    assert "Adressen in meinem Konto speichern" not in shopper.client.get("/checkout/address").text
    shopper.address(save_addresses="y")
    assert not Address.select().exists()


def test_the_wishlist_shows_prices_as_the_law_asks(customer, make_product, database):
    honey = make_product("Honig", price_cents=899, content_quantity=500, content_unit="g")
    customer.post(f"/account/wishlist/{honey.id}", {"next": "/"})
    page = customer.client.get("/account/wishlist").text
    assert "8,99\xa0€" in page and "(17,98\xa0€ / 1&nbsp;kg)" in page
    assert re.search(r'inkl\. MwSt\.,\s*<a href="/shipping">zzgl\. Versand</a>', page)


def test_with_htmx_the_saved_addresses_are_confirmed_on_the_next_step(customer, make_product, database):
    customer.add(make_product("Tee"))
    answer = customer.address(save_addresses="y", headers={"HX-Request": "true"})
    assert "Die Adressen sind in Ihrem Konto gespeichert." in answer.text
    assert "Die Adressen sind" not in customer.client.get("/cart").text  # said once, not again later
