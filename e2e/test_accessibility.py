"""axe-core finds no violations on the catalogue pages and the back office's catalogue
pages (signed in as an admin): desktop and 360 px phone, light and dark."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from e2e.conftest import client_address, fill_address
from e2e.test_admin_catalogue_journeys import apply_import, catalogue_pages, import_preview
from e2e.test_admin_journeys import PASSWORD, sign_in

PAGES = ["/", "/products", "/products?q=m%C3%BCsli&in_stock=1", "/products?min_price=abc",
         "/products/bio-muesli-beere", "/shipping", "/gibt-es-nicht", "/cart", "/impressum", "/terms",
         "/withdrawal", "/privacy", "/account/login", "/account/register", "/account/password-reset"]


@pytest.fixture(scope="module")
def axe():
    return Axe()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 360])
def test_pages_have_no_accessibility_violations(browser, base_url, axe, scheme, width):
    context = browser.new_context(base_url=base_url, color_scheme=scheme,
                                  viewport={"width": width, "height": 800})
    page = context.new_page()
    problems = {}
    for url in PAGES:
        page.goto(url)
        results = axe.run(page)
        if results.violations_count:
            problems[url] = results.generate_report()
    context.close()
    assert not problems, "\n\n".join(f"{url}:\n{report}" for url, report in problems.items())


def violations(axe, page) -> str:
    results = axe.run(page)
    return results.generate_report() if results.violations_count else ""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_cart_and_checkout_have_no_accessibility_violations(browser, base_url, axe, scheme):
    context = browser.new_context(base_url=base_url, color_scheme=scheme, viewport={"width": 360, "height": 800})
    page = context.new_page()
    page.goto("/products/bio-muesli-beere")
    page.get_by_role("button", name=re.compile("^In den Warenkorb")).first.click()
    page.get_by_text("Im Warenkorb.").wait_for()  # htmx answered: the product is in the cart
    page.goto("/cart")
    problems = {"cart": violations(axe, page)}
    page.goto("/checkout/address")
    page.get_by_role("button", name="Weiter zu Versand und Zahlung").click()
    page.get_by_role("alert").wait_for()
    problems["address with errors"] = violations(axe, page)
    fill_address(page, "a11y@example.org", "Ada Lovelace", "Hauptstraße 1", "10115", "Berlin")
    page.get_by_role("heading", name="Versand und Zahlung", level=1).wait_for()
    problems["delivery"] = violations(axe, page)
    page.get_by_role("button", name="Weiter zur Übersicht").click()
    page.get_by_role("heading", name="Bestellung prüfen").wait_for()
    problems["review"] = violations(axe, page)
    page.get_by_label(re.compile("Ich habe die")).check()
    page.get_by_role("button", name="Zahlungspflichtig bestellen").click()
    page.get_by_text("Verwendungszweck").wait_for()
    problems["order"] = violations(axe, page)
    context.close()
    problems = {step: report for step, report in problems.items() if report}
    assert not problems, "\n\n".join(f"{step}:\n{report}" for step, report in problems.items())


@pytest.fixture(scope="module")
def back_office(browser, base_url, shop_env):
    """An admin's session, and the back office's catalogue pages with an import waiting
    to be applied (applied when the module is done)."""
    email = "barrierefrei@example.org"
    subprocess.run([sys.executable, "-m", "shop", "create-admin", email],
                   env=dict(shop_env, ADMIN_PASSWORD=PASSWORD), check=True, capture_output=True)
    context = browser.new_context(base_url=base_url, locale="de-DE",
                                  extra_http_headers={"X-Forwarded-For": client_address()})
    page = context.new_page()
    sign_in(page, email)
    preview = import_preview(page, "E2E-A11Y")
    yield {"cookies": context.cookies(), "pages": catalogue_pages(page, preview) + business_pages(page)}
    apply_import(page, preview)
    context.close()


def business_pages(page) -> list[tuple[str, str, str]]:
    """The back office's pages for orders, payments, customers and the audit trail, with
    the demo's newest order."""
    page.goto("/admin/orders")
    number = page.locator("tbody tr").first.get_by_role("rowheader").inner_text()
    page.goto("/admin/customers")
    customer = page.locator("tbody tr").first.get_by_role("link").first.get_attribute("href")
    return [
        ("/admin/", "dashboard", "main svg[role=img]"),
        ("/admin/orders", "orders", "tbody tr"),
        (f"/admin/orders/{number}", "order", ".order-steps form"),
        (f"/admin/orders/{number}/packing-slip", "packing slip", ".slip"),
        ("/admin/bank-statements", "bank statements", "input[type=file]"),
        ("/admin/payments?state=", "payment issues", "form[role=search]"),
        ("/admin/customers", "customers", "tbody tr"),
        (customer, "customer", "h1"),
        ("/admin/audit", "audit log", "tbody tr"),
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 360])
def test_back_office_has_no_accessibility_violations(browser, base_url, axe, back_office, scheme, width):
    context = browser.new_context(base_url=base_url, color_scheme=scheme, locale="de-DE",
                                  viewport={"width": width, "height": 800})
    context.add_cookies(back_office["cookies"])
    page = context.new_page()
    problems = {}
    for path, what, shows in back_office["pages"]:
        page.goto(path)
        expect(page.locator(shows).first, f"{what}: no {shows}").to_be_visible()
        if report := violations(axe, page):
            problems[f"{what} ({path})"] = report
    context.close()
    assert not problems, "\n\n".join(f"{where}:\n{report}" for where, report in problems.items())
