"""An order's way through the back office, with JavaScript and without: a shopper buys,
an admin finds the order, marks it paid, ships it with a tracking number and pays one
line back; the shopper's order page and mail show the tracking link."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from e2e.conftest import fill_address, run_worker, watched_page
from e2e.test_checkout_journeys import add_to_cart

PASSWORD = "ein sehr sicheres passwort"


@pytest.fixture(scope="module")
def admin_email(shop_env, base_url) -> str:
    email = "versand@example.org"
    subprocess.run([sys.executable, "-m", "shop", "create-admin", email],
                   env=dict(shop_env, ADMIN_PASSWORD=PASSWORD), check=True, capture_output=True)
    return email


def buy(page, javascript: bool, products: dict[str, str]) -> str:
    """A guest buys one of each product (slug: name); returns the order number (the page
    stays on the order)."""
    for slug, name in products.items():
        add_to_cart(page, javascript, slug, name, 1)
    page.goto("/checkout/address")
    fill_address(page, "kundin@example.org", "Karla Kundin", "Hafenstraße 3", "20457", "Hamburg")
    page.get_by_role("button", name="Weiter zur Übersicht").click()
    page.get_by_label(re.compile("Ich habe die Allgemeinen Geschäftsbedingungen")).check()
    page.get_by_role("button", name="Zahlungspflichtig bestellen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Bestellung \d{4}-\d{6}"))
    return page.get_by_role("heading", level=1).inner_text().split()[-1]


def test_an_admin_ships_an_order_and_pays_a_line_back(request, browser, base_url, page, javascript,
                                                       shop_env, inbox, admin_email):
    with watched_page(request, browser, base_url, java_script_enabled=javascript) as shopper:
        number = buy(shopper, javascript, {"bio-muesli-beere": "Bio-Müsli Beere",
                                           "gusseisen-braeter-oval-5-l": "Gusseisen-Bräter oval 5 l"})
        order_link = shopper.url

        page.goto("/account/login")
        page.get_by_label("E-Mail-Adresse").fill(admin_email)
        page.get_by_label("Passwort").fill(PASSWORD)
        page.locator("main").get_by_role("button", name="Anmelden").click()
        page.goto("/admin/orders")
        page.get_by_label("Suche nach Nummer, E-Mail oder Name").fill(number)
        if not javascript:
            page.get_by_role("button", name="Anzeigen").click()
        page.get_by_role("link", name=number).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Bestellung {number}")
        expect(page.get_by_role("button", name="Als versandt markieren")).to_have_count(0)

        if javascript:
            page.evaluate("window.stayed = true")  # a swap in place keeps it; a new page would not
        page.get_by_role("button", name="Als bezahlt markieren").click()
        expect(page.get_by_role("status").filter(has_text="Die Bestellung ist bezahlt")).to_be_visible()
        page.get_by_label("Versanddienstleister").select_option("dhl")
        page.get_by_label("Sendungsnummer").fill("00340434161234")
        page.get_by_role("button", name="Als versandt markieren").click()
        expect(page.get_by_role("status").filter(has_text="Die Bestellung ist versandt")).to_be_visible()
        expect(page.get_by_role("link", name="00340434161234")).to_have_attribute("href", re.compile("piececode=00340434161234"))
        if javascript:
            assert page.evaluate("window.stayed === true")

        steps = page.locator(".order-steps")
        steps.get_by_label(re.compile("Bio-Müsli Beere")).fill("1")
        amount = steps.get_by_label("Zu erstattender Betrag")
        amount.fill("")
        page.wait_for_timeout(50)
        line_price = page.locator("tbody tr", has_text="Bio-Müsli Beere").get_by_role("cell").nth(0).inner_text()
        amount.fill(line_price.replace("\xa0€", "").strip())
        steps.get_by_label("Verwendungszweck der Rücküberweisung").fill("Erstattung " + number)
        steps.get_by_role("button", name="Erstattung erfassen").click()
        expect(page.get_by_role("status").filter(has_text="Die Erstattung ist erfasst")).to_be_visible()
        expect(page.locator(".order-meta")).to_contain_text("Teilweise erstattet")

        run_worker(shop_env, inbox)
        shipped = [m for m in inbox.messages if m["Subject"] == f"Bestellung {number} ist unterwegs"]
        assert len(shipped) == 1
        assert "piececode=00340434161234" in shipped[0].get_body(("plain",)).get_content()

        shopper.goto(order_link)
        expect(shopper.get_by_role("link", name="Sendung verfolgen")).to_have_attribute(
            "href", re.compile("piececode=00340434161234"))
