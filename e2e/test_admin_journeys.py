"""An admin at work in the back office, with JavaScript and without: a price edited in the
products table shows in the shop at once; the table fits beside the navigation and on a
phone, keeps the keyboard's place, and shows two admins' edits of one row side by side."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from e2e.conftest import watched_page

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
    row.get_by_role("link", name="Bearbeiten").click()
    page.locator("tr.editing").get_by_role("link", name="Abbrechen").click()
    expect(page.locator("tr.editing")).to_have_count(0)
    if javascript:
        expect(page.locator("tbody tr", has_text="WD-1018").get_by_role("link", name="Bearbeiten")).to_be_focused()


def right_edge(locator) -> float:
    box = locator.bounding_box()
    return box["x"] + box["width"]


def test_the_table_fits_beside_the_navigation_in_view_and_edit_mode(page, javascript, admin_email):
    sign_in(page, admin_email)
    page.goto("/admin/products")
    region = page.get_by_role("region", name="Produkte")
    edits = page.locator("tbody").get_by_role("link", name="Bearbeiten")
    assert right_edge(edits.first) <= right_edge(region) <= 1280
    edits.first.click()
    name = page.locator("tr.editing").get_by_label("Name")
    expect(name).to_be_visible()
    assert name.bounding_box()["width"] >= 150
    for button in ("Speichern", "Abbrechen"):
        control = page.locator("tr.editing").get_by_role("button" if button == "Speichern" else "link", name=button)
        assert right_edge(control) <= right_edge(region)
    assert page.evaluate("document.querySelector('.table-scroll').scrollWidth <= document.querySelector('.table-scroll').clientWidth")


def test_a_row_edited_on_a_phone_labels_its_fields(request, browser, base_url, javascript, admin_email):
    with watched_page(request, browser, base_url, java_script_enabled=javascript,
                      viewport={"width": 390, "height": 844}) as page:
        sign_in(page, admin_email)
        page.goto("/admin/products?q=WD-1015")
        page.locator("tbody tr", has_text="WD-1015").get_by_role("link", name="Bearbeiten").click()
        editing = page.locator("tr.editing")
        for label in ("Name", "Kategorie", "Preis", "Lager", "Aktiv"):
            expect(editing.locator("label", has_text=label).first).to_be_visible()
            field = editing.get_by_label(label, exact=True)
            assert 0 <= field.bounding_box()["x"] and right_edge(field) <= 390, label
        assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_focus_stays_in_the_table_after_a_sort_or_a_new_page(page, javascript, admin_email):
    if not javascript:
        pytest.skip("without JavaScript each sort and page is a new page")
    sign_in(page, admin_email)
    page.goto("/admin/products")
    page.locator("thead").get_by_role("link", name=re.compile("^Preis")).click()
    expect(page).to_have_url(re.compile(r"sort=-?price"))
    expect(page.locator("thead").get_by_role("link", name=re.compile("^Preis"))).to_be_focused()
    page.get_by_role("navigation", name="Seiten").get_by_role("link", name=re.compile("Weiter")).click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.get_by_role("region", name="Produkte")).to_be_focused()


def test_a_row_changed_meanwhile_keeps_what_was_typed_and_shows_the_other_change(
        request, browser, base_url, page, javascript, admin_email):
    sku = "WD-1014" if javascript else "WD-1013"
    sign_in(page, admin_email)
    with watched_page(request, browser, base_url, viewport={"width": 1280, "height": 900}) as other:
        sign_in(other, admin_email)
        for each in (page, other):
            each.goto(f"/admin/products?q={sku}")
            each.locator("tbody tr", has_text=sku).get_by_role("link", name="Bearbeiten").click()
        other.locator("tr.editing").get_by_label("Preis").fill("77,00")
        other.locator("tr.editing").get_by_role("button", name="Speichern").click()
        expect(other.locator("tr.editing")).to_have_count(0)
    editing = page.locator("tr.editing")
    editing.get_by_label("Lager").fill("42")
    editing.get_by_role("button", name="Speichern").click()
    message = page.locator("tr.row-conflict").get_by_role("alert")
    expect(message).to_contain_text("inzwischen geändert")
    expect(message).to_contain_text("→ 77,00\xa0€")
    expect(message).to_be_in_viewport()
    assert message.bounding_box()["width"] > 600  # across the table, not in a narrow cell
    expect(page.locator("tr.editing").get_by_label("Lager")).to_have_value("42")
    expect(page.locator("tr.editing").get_by_label("Preis")).to_have_value("77,00")  # theirs, untouched by me
    page.locator("tr.editing").get_by_role("button", name="Speichern").click()
    expect(page.locator("tr.row-conflict")).to_have_count(0)
    row = page.locator("tbody tr", has_text=sku)
    expect(row.get_by_role("cell", name="77,00\xa0€")).to_be_visible()
    expect(row.get_by_role("cell", name="42", exact=True)).to_be_visible()
