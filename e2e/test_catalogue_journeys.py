"""Browsing, searching, filtering and paging, as a shopper does it: with and without JavaScript."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

RESULTS = "#catalog-results"
SHOP = "Kiezkaufhaus GmbH"


def product_cards(page):
    return page.locator(f"{RESULTS} article.card")


def mark_page(page, javascript: bool) -> None:
    """Remember this document, to tell later whether htmx updated it in place."""
    if javascript:
        page.evaluate("window.__sameDocument = true")


def assert_same_document(page, javascript: bool) -> None:
    if javascript:
        assert page.evaluate("window.__sameDocument === true"), "the page reloaded"


def test_browse_from_home_to_a_product(page):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Gute Dinge für jeden Tag")
    page.get_by_role("list").get_by_role("link", name="Müsli & Frühstück").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Müsli & Frühstück")
    expect(product_cards(page).first).to_be_visible()
    page.get_by_role("link", name="Bio-Müsli Beere").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bio-Müsli Beere")
    expect(page.locator(".product-info").get_by_text("(9,98 € / 1 kg)")).to_be_visible()
    expect(page.locator(".product-info").get_by_role("link", name="zzgl. Versand")).to_have_attribute("href", "/shipping")
    breadcrumb = page.get_by_role("navigation", name="Brotkrumennavigation")
    expect(breadcrumb.get_by_role("link", name="Lebensmittel")).to_be_visible()


def search_in_listing(page, words: str, javascript: bool) -> None:
    """Type into the listing's search: as you type with htmx, a submitted form without."""
    search = page.get_by_role("searchbox", name="Suche", exact=True)
    if javascript:
        search.press_sequentially(words, delay=60)
    else:
        search.fill(words)
        page.get_by_role("button", name="Ergebnisse anzeigen").click()


def test_search_as_you_type(page, javascript):
    page.goto("/products")
    mark_page(page, javascript)
    search_in_listing(page, "muesli", javascript)
    expect(page.locator(f"{RESULTS} h2")).to_contain_text("„muesli“")
    expect(product_cards(page).first).to_contain_text("Müsli")
    expect(page).to_have_url(re.compile(r"q=muesli"))
    assert_same_document(page, javascript)


def test_header_search_finds_products(page):
    page.goto("/")
    page.get_by_role("searchbox", name="Produkte suchen").fill("gießkanne")
    page.get_by_role("searchbox", name="Produkte suchen").press("Enter")
    expect(page).to_have_url(re.compile(r"/products\?q="))
    expect(product_cards(page).first).to_contain_text("Gießkanne")


def test_filter_by_category_stock_and_price(page, javascript):
    page.goto("/products")
    mark_page(page, javascript)
    facets = page.get_by_role("navigation", name="Nach Kategorie filtern")
    facets.get_by_role("link", name=re.compile(r"^Garten \d+")).click()
    expect(page.locator(f"{RESULTS} h2")).to_contain_text("in Garten")
    expect(page).to_have_url(re.compile(r"category=garten"))

    page.get_by_label("Preis bis (€)").fill("10")
    page.get_by_label("Nur lieferbare Artikel").check()
    if not javascript:
        page.get_by_role("button", name="Ergebnisse anzeigen").click()
    else:
        page.get_by_label("Preis bis (€)").dispatch_event("change")
    expect(page).to_have_url(re.compile(r"max_price=10"))
    expect(page).to_have_url(re.compile(r"in_stock=1"))
    prices = product_cards(page).locator(".price").all_inner_texts()
    assert prices, "some garden products cost up to 10 €"
    for price in prices:
        assert float(price.replace("\xa0€", "").replace(".", "").replace(",", ".")) <= 10
    expect(product_cards(page).filter(has_text="Ausverkauft")).to_have_count(0)
    assert_same_document(page, javascript)


def test_bad_price_gets_a_message(page, javascript):
    page.goto("/products")
    page.get_by_label("Preis ab (€)").fill("zehn")
    page.get_by_role("button", name="Ergebnisse anzeigen").click()
    expect(page.get_by_role("alert")).to_contain_text("Bitte geben Sie einen Betrag in Euro ein")


def test_paginate_and_go_back(page, javascript):
    page.goto("/products?sort=name")
    first_page_names = product_cards(page).locator("h3").all_inner_texts()
    mark_page(page, javascript)
    page.get_by_role("navigation", name="Seiten").get_by_role("link", name="Seite 2").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(page.locator(f"{RESULTS} .page-of")).to_contain_text("Seite 2 von")
    second_page_names = product_cards(page).locator("h3").all_inner_texts()
    assert second_page_names and not set(second_page_names) & set(first_page_names)
    assert_same_document(page, javascript)
    page.go_back()
    expect(page.locator(f"{RESULTS} .page-of")).to_contain_text("Seite 1 von")
    expect(product_cards(page).first.locator("h3")).to_have_text(first_page_names[0])


def test_open_a_product_from_the_listing(page):
    page.goto("/products?category=kaffee-tee")
    card = product_cards(page).first
    name = card.locator("h3").inner_text()
    expect(card.get_by_text("inkl. MwSt., zzgl. Versand")).to_be_visible()  # beside every price
    card.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator(".product-info").get_by_text("inkl. MwSt., zzgl. Versand")).to_be_visible()


def test_switch_to_dark_mode(page):
    page.goto("/products/bio-muesli-beere")
    page.get_by_role("button", name="Dunkles Design").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page).to_have_url(re.compile(r"/products/bio-muesli-beere$"))
    page.get_by_role("button", name="Helles Design").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")


def test_unknown_page_is_a_friendly_404(page):
    response = page.goto("/products/gibt-es-nicht")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Diese Seite haben wir nicht gefunden")


def test_back_restores_the_filters_as_they_were(page, javascript):
    page.goto("/products")
    search = page.get_by_role("searchbox", name="Suche", exact=True)
    search.fill("tee")
    page.get_by_label("Sortieren nach").select_option("price_desc")
    if not javascript:
        page.get_by_role("button", name="Ergebnisse anzeigen").click()
    expect(page).to_have_url(re.compile(r"q=tee.*sort=price_desc|sort=price_desc.*q=tee"))
    facets = page.get_by_role("navigation", name="Nach Kategorie filtern")
    facets.get_by_role("link", name=re.compile(r"^Lebensmittel \d+")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Suche: tee")
    expect(page).to_have_url(re.compile(r"category=lebensmittel"))
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"category=[a-z]"))
    expect(page.get_by_role("searchbox", name="Suche", exact=True)).to_have_value("tee")
    expect(page.get_by_label("Sortieren nach")).to_have_value("price_desc")


def test_keyboard_focus_follows_a_page_change(page, javascript):
    page.goto("/products")
    page.get_by_role("navigation", name="Seiten").get_by_role("link", name="Seite 2").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"{RESULTS} .page-of")).to_contain_text("Seite 2 von")
    if javascript:
        expect(page.get_by_role("heading", level=1)).to_be_focused()


def test_the_tab_title_follows_the_listing(page, javascript):
    """htmx takes the title from the answer: a category, a later page and a search each
    name the tab, as a full page load does."""
    page.goto("/products")
    expect(page).to_have_title(f"Alle Produkte · {SHOP}")
    mark_page(page, javascript)
    facets = page.get_by_role("navigation", name="Nach Kategorie filtern")
    facets.get_by_role("link", name=re.compile(r"^Garten \d+")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Garten")
    expect(page).to_have_title(f"Garten · {SHOP}")

    facets.get_by_role("link", name="Alle Kategorien").click()
    expect(page).to_have_title(f"Alle Produkte · {SHOP}")
    page.get_by_role("navigation", name="Seiten").get_by_role("link", name="Seite 2").click()
    expect(page.locator(f"{RESULTS} .page-of")).to_contain_text("Seite 2 von")
    expect(page).to_have_title(f"Alle Produkte · {SHOP}")
    facets.get_by_role("link", name=re.compile(r"^Kaffee & Tee \d+")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kaffee & Tee")
    expect(page).to_have_title(f"Kaffee & Tee · {SHOP}")

    search_in_listing(page, "tee", javascript)
    expect(page.get_by_role("heading", level=1)).to_have_text("Suche: tee")
    expect(page).to_have_title(f"Suche: tee · {SHOP}")
    assert_same_document(page, javascript)


@pytest.mark.parametrize("ending", ["Enter", "Tab"])
def test_a_typed_search_is_one_history_entry(page, javascript, ending):
    """With htmx the search runs as the shopper types; Enter or leaving the field sends it
    once more, which must not add a second entry. Without JavaScript each submit is one."""
    page.goto("/products")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Alle Produkte")
    first_name = product_cards(page).first.locator("h3").inner_text()
    entries = page.evaluate("history.length")
    search = page.get_by_role("searchbox", name="Suche", exact=True)
    if javascript:
        search.press_sequentially("tee", delay=60)  # htmx searches 300 ms after the last key
        expect(heading).to_have_text("Suche: tee")
        expect(page).to_have_url(re.compile(r"/products\?q=tee$"))
        # The same search again: the results are swapped anew, the address stays.
        page.locator(RESULTS).evaluate("results => results.dataset.before = 'true'")
        search.press(ending)
        expect(page.locator(f"{RESULTS}[data-before]")).to_have_count(0)
        expect(page).to_have_url(re.compile(r"/products\?q=tee$"))
    else:
        search.fill("tee")
        search.press(ending)
        if ending == "Tab":  # leaving the field sends nothing; the button does
            page.get_by_role("button", name="Ergebnisse anzeigen").click()
        expect(heading).to_have_text("Suche: tee")
        expect(page).to_have_url(re.compile(r"[?&]q=tee(&|$)"))
    assert page.evaluate("history.length") == entries + 1
    page.go_back()
    expect(page).to_have_url(re.compile(r"/products$"))
    expect(heading).to_have_text("Alle Produkte")
    expect(search).to_have_value("")
    expect(product_cards(page).first.locator("h3")).to_have_text(first_name)
