"""An admin looks up who changed a price, with JavaScript and without: the change made in
the products table shows in the audit log, found by its author, with the price before
and after and a link to the product."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from e2e.test_admin_journeys import PASSWORD, sign_in


@pytest.fixture(scope="module")
def admin_email(shop_env, base_url) -> str:
    email = "revision@example.org"
    subprocess.run([sys.executable, "-m", "shop", "create-admin", email],
                   env=dict(shop_env, ADMIN_PASSWORD=PASSWORD), check=True, capture_output=True)
    return email


def test_a_price_change_is_found_in_the_audit_log(page, javascript, admin_email):
    sku, before, after = ("BP-1003", "8,90", "9,40") if javascript else ("BP-1004", "4,50", "4,95")
    sign_in(page, admin_email)
    page.goto(f"/admin/products?q={sku}")
    row = page.locator("tbody tr", has_text=sku)
    name = row.get_by_role("rowheader").inner_text()
    row.get_by_role("link", name="Bearbeiten").click()
    price = page.locator("tr.editing").get_by_label("Preis")
    price.fill(after)
    price.press("Enter")
    expect(page.locator("tbody tr", has_text=sku).get_by_role("cell", name=f"{after}\xa0€")).to_be_visible()

    page.goto("/admin/audit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Änderungsprotokoll")
    page.get_by_label("Wer").select_option(admin_email)
    if javascript:  # the table follows the choice, and the address keeps it
        expect(page).to_have_url(re.compile(r"who=revision%40example\.org"))
    else:
        page.get_by_role("button", name="Anzeigen").click()
    entry = page.locator("tbody tr", has_text=sku).first
    expect(entry).to_contain_text(admin_email)
    expect(entry.get_by_role("definition")).to_have_text(re.compile(rf"^{before}\s€\s*→.*{after}\s€$"))
    expect(entry.get_by_role("term")).to_have_text("Preis")
    entry.get_by_role("link", name=f"{sku} {name}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
