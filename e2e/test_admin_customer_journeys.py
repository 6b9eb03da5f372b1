"""An admin finds a customer in the back office and locks the account, with JavaScript and
without: the customer's open session ends and signing in is refused; unlocking lets them
back in."""
from __future__ import annotations

import re
import subprocess
import sys
import uuid

import pytest
from playwright.sync_api import expect

from e2e.conftest import watched_page
from e2e.test_account_journeys import register
from e2e.test_account_journeys import sign_in as customer_sign_in

PASSWORD = "ein sehr sicheres passwort"
CUSTOMER_PASSWORD = "sonnige wiese am fluss"


@pytest.fixture(scope="module")
def admin_email(shop_env, base_url) -> str:
    email = "kundendienst@example.org"
    subprocess.run([sys.executable, "-m", "shop", "create-admin", email],
                   env=dict(shop_env, ADMIN_PASSWORD=PASSWORD), check=True, capture_output=True)
    return email


def admin_sign_in(page, email: str) -> None:
    page.goto("/account/login")
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mein Konto")


def test_an_admin_locks_and_unlocks_a_customer(request, browser, base_url, page, javascript, admin_email):
    address = f"kundin-{uuid.uuid4().hex[:8]}@example.org"
    with watched_page(request, browser, base_url, viewport={"width": 390, "height": 844}) as customer:
        register(customer, address)
        customer_sign_in(customer, address)
        expect(customer.get_by_role("heading", level=1)).to_have_text("Mein Konto")

        admin_sign_in(page, admin_email)
        page.goto("/admin/customers")
        page.get_by_label("Name oder E-Mail-Adresse").fill(address)
        if javascript:  # active search: the table follows the typing
            expect(page).to_have_url(re.compile(r"q=kundin"))
        else:
            page.get_by_role("button", name="Anzeigen").click()
        expect(page.locator("tbody tr")).to_have_count(1)
        page.get_by_role("link", name="Erika Muster").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Erika Muster")
        sessions = page.locator("#admin-customer-sessions")
        expect(sessions.get_by_role("button", name=re.compile("Beenden"))).to_have_count(1)
        customer_page = page.url

        page.get_by_role("button", name="Konto sperren").click()
        account = page.locator("#admin-customer-account")
        expect(account.get_by_role("status")).to_contain_text(f"Das Konto von {address} ist gesperrt")
        expect(account.get_by_text("Gesperrt", exact=True)).to_be_visible()
        expect(sessions.get_by_text("Keine offenen Sitzungen.")).to_be_visible()
        assert page.url == customer_page
        if javascript:
            expect(account.get_by_role("button", name="Konto entsperren")).to_be_visible()

        # The customer's session has ended, and signing in again is refused.
        customer.goto("/account/profile")
        expect(customer.get_by_role("heading", level=1)).to_have_text("Anmelden")
        customer_sign_in(customer, address)
        expect(customer.get_by_role("alert")).to_contain_text("Dieses Konto ist gesperrt")

        page.get_by_role("button", name="Konto entsperren").click()
        expect(account.get_by_role("status")).to_contain_text("ist entsperrt")
        customer_sign_in(customer, address, CUSTOMER_PASSWORD)
        expect(customer.get_by_role("heading", level=1)).to_have_text("Mein Konto")
