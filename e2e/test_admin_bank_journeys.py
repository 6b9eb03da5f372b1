"""A merchant matches a bank statement, with JavaScript and without: a guest orders with
prepayment, the admin uploads the statement holding the transfer, sees it as a sure match,
applies it; the order is paid and the customer's payment mail goes out."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from e2e.conftest import fill_address, run_worker

PASSWORD = "ein sehr sicheres passwort"


@pytest.fixture(scope="module")
def admin_email(shop_env, base_url) -> str:
    email = "buchhaltung@example.org"
    subprocess.run([sys.executable, "-m", "shop", "create-admin", email],
                   env=dict(shop_env, ADMIN_PASSWORD=PASSWORD), check=True, capture_output=True)
    return email


def place_prepayment_order(page, email: str) -> tuple[str, str]:
    """A guest's order paid by transfer: its number and the total to transfer."""
    page.goto("/products/bio-muesli-beere")
    page.get_by_role("button", name=re.compile("^In den Warenkorb")).first.click()
    expect(page.locator("#cart-mini .count")).to_have_text("1")
    page.goto("/checkout/address")
    fill_address(page, email, "Paula Vorkasse", "Am Markt 7", "04109", "Leipzig")
    expect(page.get_by_label("Vorkasse per Überweisung")).to_be_checked()
    page.get_by_role("button", name="Weiter zur Übersicht").click()
    page.get_by_label(re.compile("Ich habe die Allgemeinen Geschäftsbedingungen")).check()
    page.get_by_role("button", name="Zahlungspflichtig bestellen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Bestellung \d{4}-\d{6}"))
    number = page.get_by_role("heading", level=1).inner_text().split()[-1]
    total = re.search(r"Bitte überweisen Sie ([0-9.,]+)", page.get_by_role("heading", level=2).first.inner_text())
    return number, total.group(1)


def sign_in(page, email: str) -> None:
    page.goto("/account/login")
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mein Konto")


def test_a_statement_pays_the_order_it_names(page, javascript, admin_email, shop_env, inbox, tmp_path):
    customer = f"vorkasse-{'js' if javascript else 'nojs'}@example.org"
    number, total = place_prepayment_order(page, customer)
    order_page = page.url
    statement = tmp_path / "umsaetze.csv"
    statement.write_text("Buchungstag;Betrag;Verwendungszweck;Name\n"
                         f"02.02.2026;{total};Best.-Nr. {number};Paula Vorkasse\n"
                         f"02.02.2026;19,99;Erstattung Lieferant {customer};Großhandel\n", encoding="cp1252")
    page.context.clear_cookies()

    sign_in(page, admin_email)
    page.goto("/admin/bank-statements")
    expect(page.get_by_role("heading", level=1)).to_have_text("Kontoauszüge")
    page.get_by_label("Kontoauszug-Datei").set_input_files(str(statement))
    page.get_by_role("button", name="Hochladen und zuordnen").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Kontoauszug umsaetze.csv")
    sure = page.get_by_role("region", name="Sichere Zuordnungen (1)")
    expect(sure.get_by_role("link", name=number)).to_have_attribute("href", f"/admin/orders/{number}")
    expect(sure.get_by_role("rowheader", name=f"{total}\xa0€")).to_be_visible()
    expect(page.get_by_role("region", name="Von Hand zu prüfen (1)").get_by_text("Erstattung Lieferant")).to_be_visible()
    page.get_by_role("button", name="1 Bestellung als bezahlt markieren").click()

    expect(page.get_by_role("heading", name="Angewandt", exact=True)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="1 Bestellung als bezahlt markiert")).to_be_visible()
    expect(page.get_by_role("region", name="Bezahlte Bestellungen (1)").get_by_role("link", name=number)).to_be_visible()
    if javascript:
        expect(page).to_have_url(re.compile(r"/admin/bank-statements/\d+$"))

    page.goto("/admin/bank-statements")
    expect(page.get_by_role("rowheader", name=re.compile("umsaetze.csv")).first).to_be_visible()

    page.goto(order_page)  # the customer's own link shows the order as paid
    expect(page.locator(".order-status")).to_contain_text("Bezahlt")
    run_worker(shop_env, inbox)
    mails = [m for m in inbox.messages if m["To"] == customer and number in m["Subject"]]
    assert f"Zahlung für Bestellung {number} eingegangen" in [m["Subject"] for m in mails]
