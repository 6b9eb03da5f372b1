"""Register, follow the mailed link, sign in, buy, find the order; reset a forgotten
password. With and without JavaScript."""
from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from e2e.conftest import fill_address, run_worker
from e2e.test_checkout_journeys import add_to_cart

PASSWORD = "sonnige wiese am fluss"


def mailed_link(shop_env, inbox, address: str, path: str) -> str:
    run_worker(shop_env, inbox)
    for message in reversed(inbox.messages):
        if message["To"] == address:
            text = message.get_body(("plain",)).get_content()
            return re.search(rf"https?://[^/\s]+({re.escape(path)}\?token=\S+)", text).group(1)
    raise AssertionError(f"no mail to {address}")


def register(page, address: str) -> None:
    page.goto("/account/register")
    page.get_by_label("Name").fill("Erika Muster")
    page.get_by_label("E-Mail-Adresse").fill(address)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Konto anlegen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bitte prüfen Sie Ihr Postfach")


def sign_in(page, address: str, password: str = PASSWORD) -> None:
    page.goto("/account/login")
    page.get_by_label("E-Mail-Adresse").fill(address)
    page.get_by_label("Passwort").fill(password)
    page.get_by_role("button", name="Anmelden").click()


def test_register_confirm_sign_in_buy_and_find_the_order(page, javascript, shop_env, inbox):
    address = f"erika-{uuid.uuid4().hex[:8]}@example.org"
    register(page, address)
    page.goto(mailed_link(shop_env, inbox, address, "/account/verify"))
    expect(page.get_by_text("Danke, Ihre E-Mail-Adresse ist bestätigt.")).to_be_visible()
    sign_in(page, address)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mein Konto")
    expect(page.get_by_text("Bitte bestätigen Sie Ihre E-Mail-Adresse")).to_have_count(0)

    add_to_cart(page, javascript, "bio-muesli-beere", "Bio-Müsli Beere", 1)
    page.goto("/checkout/address")
    expect(page.get_by_label("E-Mail-Adresse")).to_have_value(address)
    fill_address(page, address, "Erika Muster", "Hafenstraße 5", "20457", "Hamburg")
    page.get_by_role("button", name="Weiter zur Übersicht").click()
    page.get_by_label(re.compile("Ich habe die Allgemeinen")).check()
    page.get_by_role("button", name="Zahlungspflichtig bestellen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Bestellung \d{4}-\d{6}"))
    number = page.get_by_role("heading", level=1).inner_text().split()[-1]

    page.goto("/account/orders")
    expect(page.get_by_role("link", name=number)).to_be_visible()
    page.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)


def test_reset_a_forgotten_password(page, shop_env, inbox):
    address = f"vergesslich-{uuid.uuid4().hex[:8]}@example.org"
    register(page, address)
    page.goto("/account/login")
    page.get_by_role("link", name="Passwort vergessen?").click()
    page.get_by_label("E-Mail-Adresse").fill(address)
    page.get_by_role("button", name="Link senden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bitte prüfen Sie Ihr Postfach")
    page.goto(mailed_link(shop_env, inbox, address, "/account/password-reset/confirm"))
    page.get_by_label("Neues Passwort").fill("ein neuer langer satz")
    page.get_by_role("button", name="Neues Passwort speichern").click()
    expect(page.get_by_text("Ihr Passwort ist geändert, und Sie sind angemeldet.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mein Konto")
    page.get_by_role("button", name="Abmelden").click()
    sign_in(page, address, PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("stimmt nicht")
    sign_in(page, address, "ein neuer langer satz")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mein Konto")
