"""An admin at work in the back office, with JavaScript and without: a price edited in the
products table shows in the shop at once."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

PASSWORD = "ein sehr sicheres passwort"


@pytest.fixture(scope="module")
def admin_email(shop_env, base_url) -> str:
    email = "verwaltung@example.org"
    subprocess.run([sys.executable, "-m", "shop", "create-admin", email],
                   env=dict(shop_env, ADMIN_PASSWORD=PASSWORD), check=True, capture_output=True)
    return email


def sign_in(page, email: str) -> None:
    page.goto("/account/login")
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mein Konto")


def test_a_price_edited_in_the_table_shows_in_the_shop(page, javascript, admin_email):
    sku, price = ("WD-1016", "31,49") if javascript else ("WD-1017", "18,75")
    sign_in(page, admin_email)
    page.goto(f"/admin/products?q={sku}")
    row = page.locator("tbody tr", has_text=sku)
    name = row.get_by_role("rowheader").inner_text()
    row.get_by_role("link", name="Bearbeiten").click()
    price_field = page.locator("tr.editing").get_by_label("Preis")
    if javascript:
        expect(page).to_have_url(re.compile(rf"q={sku}$"))  # swapped in place, no navigation
        expect(page.locator("tr.editing").get_by_label("Name")).to_be_focused()
    price_field.fill(price)
    price_field.press("Enter")
    row = page.locator("tbody tr", has_text=sku)
    expect(row.get_by_role("cell", name=f"{price}\xa0€")).to_be_visible()
    expect(page.locator("tr.editing")).to_have_count(0)
    if javascript:
        expect(row.get_by_role("link", name="Bearbeiten")).to_be_focused()
    else:
        expect(page).to_have_url(re.compile(rf"/admin/products\?q={sku}$"))
        expect(page.get_by_text("Gespeichert.")).to_be_visible()

    page.goto(f"/products?q={sku}")
    expect(page.get_by_text(f"{price}\xa0€").first).to_be_visible()
    page.get_by_role("link", name=name).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator("main").get_by_text(f"{price}\xa0€").first).to_be_visible()


def test_escape_or_cancel_leaves_the_row_as_it_was(page, javascript, admin_email):
    sign_in(page, admin_email)
    page.goto("/admin/products?q=WD-1018")
    row = page.locator("tbody tr", has_text="WD-1018")
    before = row.get_by_role("cell").nth(4).inner_text()
    row.get_by_role("link", name="Bearbeiten").click()
    editing = page.locator("tr.editing")
    editing.get_by_label("Preis").fill("1,00")
    editing.get_by_label("Preis").press("Escape")
    if javascript:
        expect(page.locator("tr.editing")).to_have_count(0)
        row = page.locator("tbody tr", has_text="WD-1018")
        expect(row.get_by_role("link", name="Bearbeiten")).to_be_focused()
        assert row.get_by_role("cell").nth(4).inner_text() == before
    else:  # without JavaScript, Escape does nothing and Cancel is a link
        page.locator("tr.editing").get_by_role("link", name="Abbrechen").click()
        expect(page.locator("tr.editing")).to_have_count(0)
