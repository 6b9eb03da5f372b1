"""Home, listing and product pages as a shopper sees them."""
from __future__ import annotations

import re

import pytest
from playhouse.test_utils import count_queries

from shop.catalog.models import PriceChange, Product


def test_home_shows_categories_featured_and_new_products(client, make_category, make_product):
    kitchen = make_category("Küche & Haushalt")
    make_category("Töpfe & Pfannen", parent=kitchen)
    make_product("Bratpfanne Edelstahl", category=kitchen, featured=True)
    make_product("Brotkasten", category=kitchen)
    html = client.get("/").text
    assert "Küche &amp; Haushalt" in html
    assert "Töpfe &amp; Pfannen" in html
    assert "Bratpfanne Edelstahl" in html and "Brotkasten" in html


def test_product_page_shows_price_vat_note_unit_price_and_safety_details(client, make_product):
    make_product(
        "Bio-Müsli Beere", slug="bio-muesli-beere", price_cents=499, vat_rate=7,
        content_quantity=500, content_unit="g",
        manufacturer="Mühlenhof GmbH, Am Bach 3, 79100 Freiburg",
        responsible_person="EU-Vertretung GmbH, Berlin", product_identifier="4001234567890",
        warnings="Kann Spuren von Nüssen enthalten.",
    )
    response = client.get("/products/bio-muesli-beere")
    assert response.status_code == 200
    html = response.text
    assert "4,99\xa0€" in html
    assert "9,98\xa0€ / 1&nbsp;kg" in html  # PAngV unit price
    assert "inkl. MwSt.," in html and 'href="/shipping"' in html and "zzgl. Versand" in html
    for detail in ("Mühlenhof GmbH", "EU-Vertretung GmbH", "4001234567890", "Spuren von Nüssen"):
        assert detail in html


def test_product_page_has_breadcrumb_and_related_products(client, make_category, make_product):
    food = make_category("Lebensmittel")
    cereals = make_category("Müsli & Frühstück", parent=food)
    make_product("Haferflocken", slug="haferflocken", category=cereals)
    make_product("Schoko-Müsli", category=cereals)
    html = client.get("/products/haferflocken").text
    breadcrumb = html[html.index('class="breadcrumb"'):html.index("</nav>", html.index('class="breadcrumb"'))]
    assert breadcrumb.index("Lebensmittel") < breadcrumb.index("Müsli &amp; Frühstück") < breadcrumb.index("Haferflocken")
    related = html[html.index("related-heading"):]
    assert "Schoko-Müsli" in related


def test_sold_out_product_says_so(client, make_product):
    make_product("Gießkanne", slug="giesskanne", stock=0)
    assert "Ausverkauft" in client.get("/products/giesskanne").text


def test_unknown_or_inactive_product_is_a_404_in_the_shop_layout(client, make_product):
    make_product("Alt", slug="alt", active=False)
    for url in ("/products/alt", "/products/gibt-es-nicht", "/nirgendwo"):
        response = client.get(url)
        assert response.status_code == 404
        assert "Diese Seite haben wir nicht gefunden" in response.text
        assert 'class="site-header"' in response.text


def test_prices_are_formatted_the_german_way(client, make_product):
    make_product("Teuer", slug="teuer", price_cents=123456)
    assert "1.234,56\xa0€" in client.get("/products/teuer").text


def test_price_change_is_recorded_for_the_30_day_lowest_price(database, make_product):
    product = make_product("Kaffee", price_cents=1299)
    product.price_cents = 999
    product.save()
    product.stock = 4
    product.save()
    history = [c.price_cents for c in PriceChange.select().where(PriceChange.product == product)]
    assert history == [1299, 999]
    product.price_cents = 1499
    product.save()
    assert Product.get_by_id(product.id).lowest_price_since(30) == 999


def test_listing_fragment_for_htmx_and_full_page_otherwise(client, make_product):
    make_product("Notizbuch A5")
    page = client.get("/products")
    fragment = client.get("/products", headers={"HX-Request": "true"})
    assert page.text.lstrip().startswith("<!doctype html>")
    assert 'id="catalog-results"' in page.text
    assert not fragment.text.lstrip().startswith("<!doctype")
    # The tab title first (htmx takes it from the top level), then the results.
    assert re.match(r'\s*<title>Alle Produkte · [^<]+</title>\s*<section id="catalog-results"', fragment.text)
    assert 'id="catalog-facets" class="facets"' in fragment.text and 'hx-swap-oob="true"' in fragment.text
    assert "Notizbuch A5" in fragment.text
    assert page.headers["vary"].lower().count("hx-request") == 1
    # A history restore or a boosted request needs the whole page.
    restore = client.get("/products", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert restore.text.lstrip().startswith("<!doctype html>")


def _queries(client, url: str) -> int:
    with count_queries() as counter:
        assert client.get(url).status_code == 200
    return counter.count


def test_pages_run_a_fixed_number_of_queries_whatever_the_catalogue_size(
    client, make_category, make_product
):
    top = make_category("Garten")
    sub = make_category("Pflanzen", parent=top)
    make_product("Rose", slug="rose", category=sub)
    make_product("Rosenschere", category=sub)
    urls = ["/", "/products", "/products?q=rose", f"/products?category={sub.slug}&sort=price_asc",
            "/products/rose"]
    small = {url: _queries(client, url) for url in urls}
    for n in range(60):
        make_product(f"Rose {n}", category=sub if n % 2 else top, featured=n % 5 == 0)
    large = {url: _queries(client, url) for url in urls}
    assert small == large
    assert max(large.values()) <= 5
    # Unchanged catalogue: categories, counts and the page's products come from the cache.
    assert _queries(client, "/products?q=rose") == 2


def test_images_are_served_from_media(client, demo):
    html = client.get("/products").text
    image = re.search(r'src="(/media/products/[^"]+\.svg)"', html).group(1)
    response = client.get(image)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")


def test_counts_follow_changes_to_the_catalogue(client, make_category, make_product, database):
    garden = make_category("Garten", slug="garten")
    rose = make_product("Rose", category=garden, stock=1)
    make_product("Tulpe", category=garden)

    def garden_count(url="/products"):
        html = client.get(url).text
        return re.search(r'category=garten[^"]*"[^>]*>Garten <span class="count">(\d+)', html).group(1)

    assert garden_count() == "2" and garden_count("/products?in_stock=1") == "2"
    rose.stock = 0
    rose.save()
    assert garden_count("/products?in_stock=1") == "1"
    rose.active = False
    rose.save()
    assert garden_count() == "1"


def test_htmx_listing_pushes_a_clean_address(client, make_product):
    make_product("Tee")
    response = client.get("/products?q=tee&category=&min_price=&max_price=&sort=relevance&in_stock=1",
                          headers={"HX-Request": "true"})
    assert response.headers["hx-push-url"] == "/products?q=tee&in_stock=1"


def test_a_server_error_shows_the_shops_own_500_page(settings, tmp_path):
    from dataclasses import replace

    from starlette.testclient import TestClient

    from shop.app import create_app

    # A database file that is not a database: every query fails.
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"this is not a database" * 100)
    app = create_app(replace(settings, database_url=f"sqlite:///{broken}"))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/products")
    assert response.status_code == 500
    assert "Bei uns ist etwas schiefgelaufen" in response.text
    assert 'class="site-header"' in response.text


@pytest.mark.parametrize("path", ["/products/%00", "/products/" + "a" * 5000, "/products/Bio-M%C3%BCsli",
                                  "/products/x%27%20OR%201=1--", "/products/..%2F..%2Fetc"])
def test_odd_product_addresses_are_a_plain_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "Diese Seite haben wir nicht gefunden" in response.text


def test_nul_bytes_in_parameters_are_harmless(client, make_product):
    make_product("Tee")
    assert client.get("/products?q=%00tee").status_code == 200
    assert client.get("/products?category=%00").status_code == 404
    assert client.get("/products?sort=%00").status_code == 400


def test_cards_show_changes_at_once_though_they_are_cached(client, make_product, database):
    lamp = make_product("Leuchte", price_cents=4990, stock=2)
    assert "49,90\xa0€" in client.get("/products").text
    lamp.price_cents, lamp.image = 3990, "products/neu.svg"
    lamp.save()
    html = client.get("/products").text
    assert "39,90\xa0€" in html and "/media/products/neu.svg" in html
    lamp.stock = 0
    lamp.save()
    assert "Ausverkauft" in client.get("/products").text
    # The cached card carries this page's form token, like every other form on it.
    tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', client.get("/products").text))
    assert len(tokens) == 1 and "\x00" not in tokens.pop()
