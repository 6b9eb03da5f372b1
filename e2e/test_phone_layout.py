"""Every page a shopper or an admin can reach fits a 360 px phone: nothing scrolls
sideways, and every link and button is a target of at least 24 × 24 CSS px or has room
around it (WCAG 2.2, 2.5.8 Target Size (Minimum)). Logged out, as a customer with an
order and as an admin (the overview and the catalogue's pages: products, stock,
categories, imports, the questions a delete asks); with JavaScript on and off. The
low-stock list also fits a tablet and a desktop."""
from __future__ import annotations

import re
import subprocess
import sys
import uuid

import pytest
from playwright.sync_api import expect

from e2e.conftest import client_address, fill_address, watched_page
from e2e.test_account_journeys import PASSWORD, register, sign_in
from e2e.test_admin_catalogue_journeys import apply_import, catalogue_pages, import_preview
from e2e.test_checkout_journeys import add_to_cart

PHONE = {"width": 360, "height": 740}
MIN_TARGET = 24  # CSS px, WCAG 2.2 success criterion 2.5.8

# How wide the page is, and the outermost elements that stick out of the window without
# a scrolling box around them that clips them (an absolutely positioned element escapes
# every box up to its containing block).
MEASURE_WIDTH = """() => {
  const width = window.innerWidth, sticking = [];
  const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + [...el.classList].map(c => '.' + c).join('');
  const clipped = el => {
    let escaping = getComputedStyle(el).position === 'absolute';
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (escaping) {
        if (style.position === 'static' && style.transform === 'none') continue;
        escaping = false;
      }
      if (style.overflowX !== 'visible') return true;
      if (style.position === 'absolute') escaping = true;
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right + window.scrollX > width + 0.5
        && !sticking.some(s => s.el.contains(el)) && !clipped(el)) {
      sticking.push({el, text: `${describe(el)} reaches ${Math.round(box.right + window.scrollX)} px`});
    }
  }
  return {window: width, html: document.documentElement.scrollWidth, body: document.body.scrollWidth,
          sticking: sticking.slice(0, 5).map(s => s.text)};
}"""

# Every visible link and button with its box; whether it sits in running text, with
# other text on its line (the inline exception of 2.5.8); and whether it is an entry of
# a list or menu (footer, breadcrumb, subcategories, category tiles…), which must be
# 24 px high whatever the spacing.
MEASURE_TARGETS = """() => {
  const squash = s => s.replace(/\\s+/g, ' ').trim();
  const block = el => {
    let b = el.parentElement;
    while (b && getComputedStyle(b).display.startsWith('inline')) b = b.parentElement;
    return b;
  };
  const sharesLineWithText = (el, container) => {
    const box = el.getBoundingClientRect();
    const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode());) {
      if (!node.textContent.trim() || el.contains(node)) continue;
      if (node.parentElement.closest('a[href], button, .visually-hidden')) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const line of range.getClientRects()) {
        if (line.width > 1 && line.bottom > box.top + 1 && line.top < box.bottom - 1) return true;
      }
    }
    return false;
  };
  const targets = [];
  for (const el of document.querySelectorAll('a[href], button, [role="button"], summary')) {
    if (el.closest('.visually-hidden')) continue;
    if (!el.checkVisibility({visibilityProperty: true})) continue;
    const box = el.getBoundingClientRect();
    if (box.width < 2 || box.height < 2) continue;
    // Parked outside the page until focused, like the skip link.
    if (box.bottom + window.scrollY <= 0 || box.right + window.scrollX <= 0) continue;
    const container = block(el);
    const name = squash(el.innerText || el.getAttribute('aria-label') || el.title || el.getAttribute('href') || '');
    targets.push({
      name: `${el.tagName.toLowerCase()} "${name.slice(0, 40)}"`,
      x: box.left + window.scrollX, y: box.top + window.scrollY, width: box.width, height: box.height,
      inText: getComputedStyle(el).display === 'inline' && !!container && sharesLineWithText(el, container),
      listEntry: !!el.closest('footer, nav li, .breadcrumb, .subcategories, .category-tiles')
        || (!!container && container.tagName === 'LI' && squash(container.innerText) === name),
    });
  }
  return targets;
}"""


def _distance_to_box(x: float, y: float, t: dict) -> float:
    dx = max(t["x"] - x, 0, x - (t["x"] + t["width"]))
    dy = max(t["y"] - y, 0, y - (t["y"] + t["height"]))
    return (dx * dx + dy * dy) ** 0.5


def small_targets(targets: list[dict]) -> list[str]:
    """Targets under 24 × 24 px that fail the spacing exception: a 24 px circle around
    the target's centre reaches another target or another small target's circle."""
    problems, radius = [], MIN_TARGET / 2
    small = [t for t in targets if t["width"] < MIN_TARGET - .01 or t["height"] < MIN_TARGET - .01]
    for t in small:
        size = f'{t["width"]:.0f} × {t["height"]:.0f} px'
        if t["listEntry"] and t["height"] < MIN_TARGET - .01:
            problems.append(f'{t["name"]} is {size}: a list entry must be at least {MIN_TARGET} px high')
            continue
        if t["inText"]:
            continue
        cx, cy = t["x"] + t["width"] / 2, t["y"] + t["height"] / 2
        crowding = [o for o in targets if o is not t and (
            _distance_to_box(cx, cy, o) < radius
            or (o in small and ((cx - o["x"] - o["width"] / 2) ** 2 + (cy - o["y"] - o["height"] / 2) ** 2) ** .5
                < MIN_TARGET))]
        if crowding:
            problems.append(f'{t["name"]} is {size} and too close to {crowding[0]["name"]}')
    return problems


class Phone:
    """Checks each page it is shown and gathers what does not fit: each problem once,
    with the pages it was found on."""

    def __init__(self, page):
        self.page, self.problems = page, {}

    def _found(self, problem: str, label: str) -> None:
        self.problems.setdefault(problem, []).append(label)

    def check(self, what: str) -> None:
        page = self.page
        page.wait_for_load_state()
        path = "/" + re.sub(r"token=[^&]+", "token=…", page.url.split("/", 3)[-1])
        label = f"{what} ({path})"
        width = page.evaluate(MEASURE_WIDTH)
        for part in ("html", "body"):
            if width[part] > width["window"]:
                self._found(f'{part} is {width[part]} px wide in a {width["window"]} px wide window;'
                            f' sticking out: {"; ".join(width["sticking"]) or "?"}', label)
        if width["window"] != PHONE["width"]:
            self._found(f'the window is {width["window"]} px wide, not {PHONE["width"]} px', label)
        for problem in small_targets(page.evaluate(MEASURE_TARGETS)):
            self._found(problem, label)

    def visit(self, path: str, what: str | None = None) -> None:
        self.page.goto(path)
        self.check(what or path)

    def assert_fits(self) -> None:
        assert not self.problems, "what does not fit a 360 px phone:\n" + "\n".join(
            f"{', '.join(pages)}: {problem}" for problem, pages in self.problems.items())


@pytest.fixture
def phone(request, browser, base_url, javascript):
    with watched_page(request, browser, base_url, java_script_enabled=javascript, viewport=PHONE,
                      has_touch=True) as page:
        yield Phone(page)


def long_address(who: str) -> str:
    """An address as long as real ones get, to find what does not wrap."""
    return f"{who}.mustermann-schulze-{uuid.uuid4().hex[:8]}@beispiel-versandhandel.example.org"


def buy(phone: Phone, javascript: bool, email: str) -> None:
    """Two products in the cart, through the three checkout steps, to the order page."""
    page = phone.page
    add_to_cart(page, javascript, "bio-muesli-beere", "Bio-Müsli Beere", 2)
    add_to_cart(page, javascript, "gusseisen-braeter-oval-5-l", "Gusseisen-Bräter oval 5 l", 1)
    phone.visit("/cart", "cart with two products")
    page.goto("/checkout/address")
    page.get_by_role("group", name="Rechnungsadresse").get_by_label("Vor- und Nachname").fill("")
    page.get_by_role("button", name="Weiter zu Versand und Zahlung").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    phone.check("checkout address with errors")
    fill_address(page, email, "Maximiliane Mustermann-Schulze", "Hauptstraße 123a", "10115", "Berlin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Versand und Zahlung")
    phone.check("checkout delivery")
    page.goto("/checkout/address")
    phone.check("checkout address")
    page.goto("/checkout/delivery")
    page.get_by_role("button", name="Weiter zur Übersicht").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bestellung prüfen")
    phone.check("checkout review")
    page.get_by_label(re.compile("Ich habe die Allgemeinen")).check()
    page.get_by_role("button", name="Zahlungspflichtig bestellen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Bestellung \d{4}-\d{6}"))
    phone.check("order")


def test_shop_pages_fit_a_phone(phone, javascript):
    for path, what in [
        ("/", "home"), ("/products", "all products"), ("/products?q=tee", "search"),
        ("/products?category=kueche-haushalt", "category"),
        ("/products?category=toepfe-pfannen", "subcategory"),
        ("/products/gusseisen-braeter-oval-5-l", "product"),
        ("/impressum", "impressum"), ("/terms", "terms"), ("/withdrawal", "withdrawal"),
        ("/privacy", "privacy"), ("/shipping", "shipping"), ("/gibt-es-nicht", "404 page"),
        ("/account/login", "login"), ("/account/register", "register"),
        ("/account/password-reset", "password reset"), ("/cart", "empty cart"),
    ]:
        phone.visit(path, what)
    buy(phone, javascript, long_address("gast"))
    phone.assert_fits()


@pytest.fixture(scope="session")
def customer(browser, base_url) -> str:
    """One registered customer for both runs."""
    address = long_address("kundin")
    context = browser.new_context(base_url=base_url, viewport=PHONE, locale="de-DE",
                                  extra_http_headers={"X-Forwarded-For": client_address()})
    register(context.new_page(), address)
    context.close()
    return address


def test_account_pages_fit_a_phone(phone, javascript, customer):
    page = phone.page
    sign_in(page, customer)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mein Konto")
    buy(phone, javascript, customer)
    page.goto("/account/orders")
    phone.check("order history")
    page.get_by_role("link", name=re.compile(r"^\d{4}-\d{6}$")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Bestellung \d{4}-\d{6}"))
    phone.check("order signed in")

    page.goto("/products/bio-muesli-beere")
    product = page.locator(".product-info")
    wish = product.get_by_role("button", name=re.compile("Wunschzettel"))
    if wish.get_attribute("aria-pressed") == "false":  # the other run may have added it
        wish.click()
    expect(product.get_by_role("button", name=re.compile("^♥ Auf meinem Wunschzettel"))).to_be_visible()
    phone.check("product on the wishlist")
    add_to_cart(page, javascript, "gusseisen-braeter-oval-5-l", "Gusseisen-Bräter oval 5 l", 1)
    phone.visit("/cart", "cart signed in")

    page.goto("/account/addresses")
    new = page.get_by_role("group", name="Neue Adresse")
    new.get_by_label("Vor- und Nachname").fill("Maximiliane Mustermann-Schulze")
    new.get_by_label("Straße und Hausnummer").fill("Am Langen Felde 12, Hinterhaus")
    new.get_by_label("Postleitzahl").fill("20457")
    new.get_by_label("Ort").fill("Hamburg")
    page.get_by_role("button", name="Adresse speichern").click()
    expect(page.get_by_text("Am Langen Felde 12, Hinterhaus").first).to_be_visible()
    for path, what in [
        ("/account/profile", "profile"), ("/account/addresses", "addresses"), ("/account/wishlist", "wishlist"),
        ("/account/preferences", "preferences"), ("/", "home signed in"),
    ]:
        phone.visit(path, what)
    page.goto("/account/wishlist")
    expect(page.get_by_role("link", name="Bio-Müsli Beere")).to_be_visible()
    phone.assert_fits()


def sign_in_as_new_admin(page, shop_env, address: str) -> None:
    subprocess.run([sys.executable, "-m", "shop", "create-admin", address],
                   env=dict(shop_env, ADMIN_PASSWORD=PASSWORD), check=True, capture_output=True)
    sign_in(page, address)


def test_back_office_fits_a_phone(phone, javascript, shop_env):
    page, address = phone.page, long_address("admin")
    sign_in_as_new_admin(page, shop_env, address)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mein Konto")
    buy(phone, javascript, address)  # so the back office lists at least one order
    phone.visit("/admin/", "back office")
    expect(page.get_by_role("heading", level=1)).to_have_text("Übersicht")
    phone.assert_fits()
    phone.visit("/admin/orders", "orders table")
    expect(page.get_by_text(address).first).to_be_visible()
    phone.assert_fits()
    phone.visit("/admin/payments", "payment issues")
    expect(page.get_by_role("heading", level=1)).to_have_text("Zahlungsprobleme")
    phone.assert_fits()


def test_back_office_catalogue_fits_a_phone(phone, javascript, shop_env):
    page = phone.page
    sign_in_as_new_admin(page, shop_env, long_address("sortiment"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Mein Konto")
    preview = import_preview(page, "E2E-PHONE-JS" if javascript else "E2E-PHONE-NOJS")
    try:
        for path, what, shows in catalogue_pages(page, preview):
            phone.visit(path, what)
            expect(page.locator(shows).first, f"{what}: no {shows}").to_be_visible()
            if what == "category edited":  # a delete's question without JavaScript: a page of its own
                phone.visit(path.replace("?edit=", "/").split("#")[0] + "/delete", "category delete asked")
            if what == "product":  # ... and at the picture
                delete = page.locator("#admin-images form[action$='/delete']").first.get_attribute("action")
                phone.visit(delete, "picture delete asked")
                expect(page.get_by_role("button", name="Endgültig löschen")).to_be_visible()
    finally:
        apply_import(page, preview)  # so its file does not wait in the import folder
    phone.assert_fits()


def test_the_low_stock_list_fits_a_tablet_and_a_desktop(request, browser, base_url, shop_env):
    """The list fits under the navigation at 820 px and beside it at 1280 px, its quick
    form in reach; on a phone it is checked above."""
    with watched_page(request, browser, base_url, viewport={"width": 820, "height": 1000}) as page:
        sign_in_as_new_admin(page, shop_env, long_address("lager"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Mein Konto")
        for width in (820, 1280):
            page.set_viewport_size({"width": width, "height": 1000})
            page.goto("/admin/stock")
            expect(page.locator("table.low-stock tbody tr").first).to_be_visible()
            fits = page.evaluate(MEASURE_WIDTH)
            assert fits["html"] <= width and not fits["sticking"], (width, fits)
            book = page.locator("table.low-stock tbody tr").first.get_by_role("button", name=re.compile("^Buchen"))
            assert book.bounding_box()["x"] + book.bounding_box()["width"] <= width, width
