"""A guest buys two products and gets the confirmation mail: with and without JavaScript."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from e2e.conftest import fill_address, run_worker, watched_page


def add_to_cart(page, javascript: bool, slug: str, name: str, quantity: int) -> None:
    page.goto(f"/products/{slug}")
    page.get_by_label("Menge").fill(str(quantity))
    page.get_by_role("button", name=re.compile(f"^In den Warenkorb.*{re.escape(name)}$")).click()
    if javascript:
        expect(page.get_by_text("Im Warenkorb.")).to_be_visible()
        expect(page).to_have_url(re.compile(f"/products/{slug}$"))
    else:
        expect(page).to_have_url(re.compile(r"/cart$"))
        expect(page.get_by_role("status").filter(has_text="liegt in Ihrem Warenkorb")).to_be_visible()


def test_a_guest_buys_two_products(page, javascript, shop_env, inbox):
    add_to_cart(page, javascript, "bio-muesli-beere", "Bio-Müsli Beere", 2)
    add_to_cart(page, javascript, "gusseisen-braeter-oval-5-l", "Gusseisen-Bräter oval 5 l", 1)
    expect(page.locator("#cart-mini .count")).to_have_text("3")

    page.locator("#cart-mini").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihr Warenkorb")
    expect(page.get_by_role("rowheader", name=re.compile("Bio-Müsli Beere"))).to_be_visible()
    page.get_by_role("link", name="Zur Kasse").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Ihre Adresse")
    fill_address(page, "gast@example.org", "Gerda Gast", "Am Markt 7", "04109", "Leipzig")

    expect(page.get_by_role("heading", level=1)).to_have_text("Versand und Zahlung")
    expect(page.get_by_label("Standardversand (DHL)")).to_be_checked()
    expect(page.get_by_label("Vorkasse per Überweisung")).to_be_checked()
    page.get_by_role("button", name="Weiter zur Übersicht").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Bestellung prüfen")
    expect(page.get_by_text("Gerda Gast")).to_be_visible()
    terms = page.get_by_label(re.compile("Ich habe die Allgemeinen Geschäftsbedingungen"))
    expect(terms).to_have_attribute("required", "")
    terms.check()
    page.get_by_role("button", name="Zahlungspflichtig bestellen").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Bestellung \d{4}-\d{6}"))
    number = page.get_by_role("heading", level=1).inner_text().split()[-1]
    expect(page.get_by_text("Vielen Dank für Ihre Bestellung!")).to_be_visible()
    expect(page.get_by_text("Verwendungszweck")).to_be_visible()
    expect(page.locator("#cart-mini .count")).to_have_text("0")

    run_worker(shop_env, inbox)
    mails = [m for m in inbox.messages if number in m["Subject"]]
    assert len(mails) == 1 and mails[0]["To"] == "gast@example.org"
    assert "Bio-Müsli Beere" in mails[0].get_body(("plain",)).get_content()


def test_quick_clicks_on_a_slow_network_add_once(request, browser, base_url):
    """htmx only (without JavaScript a double submit is the browser's business): the button
    is disabled while its request runs, and the same form sent again adds nothing more."""
    with watched_page(request, browser, base_url) as page:
        adds = []
        page.on("request", lambda r: adds.append(r) if r.method == "POST" and r.url.endswith("/cart/items") else None)

        def slow_network(route):
            page.wait_for_timeout(1500)
            route.continue_()

        page.route("**/cart/items", slow_network)
        page.goto("/products/bio-muesli-beere")
        button = page.get_by_role("button", name=re.compile(r"^In den Warenkorb.*Bio-Müsli Beere$"))
        for _ in range(3):  # not waiting for the button to be enabled, as an impatient hand does not
            button.click(force=True, no_wait_after=True)
        expect(button).to_be_disabled()
        expect(page.get_by_text("Im Warenkorb.")).to_be_visible()
        expect(button).to_be_enabled()
        for sent in adds:
            sent.response()  # every add the page sent has been answered
        expect(page.locator("#cart-mini .count")).to_have_text("1")

        cart = page.context.new_page()
        cart.goto("/cart")
        expect(cart.get_by_role("spinbutton", name="Menge von Bio-Müsli Beere")).to_have_value("1")
        expect(cart.locator("#cart-mini .count")).to_have_text("1")

        # The answer gave the form a fresh key: one more click on purpose adds one more.
        button.click()
        expect(page.locator("#cart-mini .count")).to_have_text("2")
        for sent in adds:
            sent.response()
        cart.reload()
        expect(cart.get_by_role("spinbutton", name="Menge von Bio-Müsli Beere")).to_have_value("2")
        expect(cart.locator("#cart-mini .count")).to_have_text("2")
        assert len(adds) == 2, [sent.post_data for sent in adds]
        page.unroute_all(behavior="ignoreErrors")
