"""Stock in the back office: the low-stock list, adjusting stock by hand and the ledger
that every change of stock writes to."""
from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from shop import cli
from shop.audit.models import AuditEntry
from shop.catalog import stock
from shop.catalog.importer import import_csv
from shop.catalog.models import Product, StockMovement
from shop.db import db
from shop.orders.models import Order
from shop.orders.service import transition
from tests.conftest import Shopper

ADMIN_EMAIL = "chefin@example.org"
ADMIN_PASSWORD = "ein sehr sicheres passwort"
HTMX = {"HX-Request": "true"}


class Admin(Shopper):
    """A signed-in admin in the back office."""

    def csrf(self, url: str = "/admin/stock") -> str:
        return super().csrf(url)

    def adjust(self, product, quantity, reason="received", note="", headers=None, **extra):
        data = {"reason": reason, "quantity": quantity, "note": note, **extra}
        return self.post(f"/admin/products/{product.id}/stock", data, headers=headers)


def sign_in_admin(app, settings, monkeypatch, email=ADMIN_EMAIL) -> Admin:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("ADMIN_PASSWORD", ADMIN_PASSWORD)
    database = db.obj
    assert cli.main(["create-admin", email]) == 0
    db.initialize(database)  # the command connected its own
    admin = Admin(TestClient(app, follow_redirects=False))
    signed_in = admin.client.post("/account/login", data={
        "csrf_token": Shopper.csrf(admin, "/account/login"), "email": email, "password": ADMIN_PASSWORD})
    assert signed_in.status_code == 303
    return admin


@pytest.fixture
def admin(app, settings, monkeypatch, database):
    return sign_in_admin(app, settings, monkeypatch)


def stock_of(product) -> int:
    return Product.get_by_id(product.id).stock


def rows(html: str) -> list[str]:
    """The product names in the low-stock table, top to bottom."""
    return re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a>', html)


# -- the low-stock list -------------------------------------------------------------------

def test_low_stock_list_shows_active_products_at_or_below_their_threshold_sold_out_first(admin, make_product):
    make_product("Kerze", stock=3)
    make_product("Tasse", stock=0)
    make_product("Teller", stock=8, low_stock_threshold=10)
    make_product("Schale", stock=6)  # above the shop's default of 5
    make_product("Krug", stock=5)  # at the default: low
    make_product("Vase", stock=0, active=False)
    make_product("Löffel", stock=2, low_stock_threshold=1)  # its own threshold is lower
    page = admin.client.get("/admin/stock")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    assert rows(page.text) == ["Tasse", "Kerze", "Krug", "Teller"]
    assert "4 Produkte mit niedrigem Bestand" in page.text and "Ausverkauft" in page.text
    assert 'aria-current="page" href="/admin/stock"' not in page.text  # the nav marks the section
    assert re.search(r'<a href="/admin/stock" aria-current="page">Lager</a>', page.text)
    assert 'href="/admin/products/' in page.text


def test_low_stock_list_sorts_searches_filters_and_pages(admin, make_product):
    for n in range(30):
        make_product(f"Glas {n:02d}", sku=f"GLAS-{n:02d}", stock=n % 4)
    make_product("Becher", sku="BE-1", stock=1)
    first = admin.client.get("/admin/stock")
    assert rows(first.text)[:8] == [f"Glas {n:02d}" for n in (0, 4, 8, 12, 16, 20, 24, 28)]
    assert re.search(r'rel="next" href="/admin/stock\?(sort=stock&amp;)?page=2"', first.text)
    assert len(rows(admin.client.get("/admin/stock?page=2").text)) == 6
    by_name = rows(admin.client.get("/admin/stock?sort=-name&size=50").text)
    assert by_name[0] == "Glas 29" and by_name[-1] == "Becher" and len(by_name) == 31
    assert rows(admin.client.get("/admin/stock?q=be-1").text) == ["Becher"]
    assert rows(admin.client.get("/admin/stock?q=glas 07").text) == ["Glas 07"]
    assert rows(admin.client.get("/admin/stock?q=100%25").text) == []
    sold_out = rows(admin.client.get("/admin/stock?level=out&size=50").text)
    assert len(sold_out) == 8 and all(int(name[-2:]) % 4 == 0 for name in sold_out)
    assert "Glas 00" not in rows(admin.client.get("/admin/stock?level=low&size=50").text)
    # htmx gets the table alone; nonsense in the query string falls back to the defaults
    table = admin.client.get("/admin/stock?q=becher", headers=HTMX)
    assert table.text.lstrip().startswith('<div id="admin-stock-table">') and "<html" not in table.text
    assert admin.client.get("/admin/stock?sort=secret&page=x&size=9999&level=<b>").status_code == 200


def test_only_admins_see_the_stock_pages(client, shopper, make_product):
    product = make_product("Kerze", stock=1)
    assert client.get("/admin/stock").status_code == 303  # to sign in
    shopper.post("/account/register", {"name": "Lea", "email": "lea@example.org", "password": ADMIN_PASSWORD})
    shopper.post("/account/login", {"email": "lea@example.org", "password": ADMIN_PASSWORD})
    assert client.get("/admin/stock").status_code == 404
    assert client.get(f"/admin/products/{product.id}/stock").status_code == 404
    refused = shopper.post(f"/admin/products/{product.id}/stock", {"reason": "received", "quantity": "5"})
    assert refused.status_code == 404 and stock_of(product) == 1


# -- adjusting ----------------------------------------------------------------------------

def test_goods_received_without_javascript_go_back_to_the_form_s_page(admin, make_product):
    product = make_product("Kerze", stock=2)
    response = admin.adjust(product, "+12", note="Lieferung 4711", next="/admin/stock?q=kerze")
    assert response.status_code == 303 and response.headers["location"] == "/admin/stock?q=kerze"
    assert stock_of(product) == 14
    assert "Der Bestand von „Kerze“ ist jetzt 14 (vorher 2)." in admin.client.get("/admin/stock?q=kerze").text
    movement = StockMovement.select().order_by(StockMovement.id.desc()).get()
    assert (movement.change, movement.reason, movement.actor, movement.note) == (12, "received", ADMIN_EMAIL,
                                                                                 "Lieferung 4711")
    entry = AuditEntry.get()
    assert (entry.action, entry.object_type, entry.object_id, entry.object_label, entry.actor) == (
        "adjust_stock", "product", str(product.id), f"{product.sku} Kerze", ADMIN_EMAIL)
    assert entry.changes == {"stock": [2, 14], "reason": [None, "received"], "note": [None, "Lieferung 4711"]}


@pytest.mark.parametrize("reason,quantity,after", [
    ("received", "12", 22), ("received", "+ 3", 13), ("damage", "-3", 7), ("damage", "2", 8),
    ("damage", "−4", 6), ("correction", "+1", 11), ("correction", "-10", 0), ("stocktaking", "7", 7),
    ("stocktaking", "0", 0), ("stocktaking", "10", 10),
])
def test_each_reason_changes_the_stock_its_way(admin, make_product, reason, quantity, after):
    product = make_product("Kerze", stock=10)
    assert admin.adjust(product, quantity, reason).status_code == 303
    assert stock_of(product) == after
    assert stock.mismatches() == []
    assert AuditEntry.select().count() == 1


@pytest.mark.parametrize("reason,quantity,message", [
    ("received", "", "Bitte geben Sie die Änderung ein"),
    ("stocktaking", "", "Bitte geben Sie den gezählten Bestand ein"),
    ("received", "1.5", "Bitte geben Sie eine ganze Zahl ein"),
    ("received", "1,5", "Bitte geben Sie eine ganze Zahl ein"),
    ("received", "١٢", "Bitte geben Sie eine ganze Zahl ein"),  # Arabic-Indic digits
    ("received", "１２", "Bitte geben Sie eine ganze Zahl ein"),  # full-width digits
    ("received", "12 Stück", "Bitte geben Sie eine ganze Zahl ein"),
    ("received", "+-3", "Bitte geben Sie eine ganze Zahl ein"),
    ("received", "0", "Eine Änderung um 0 ändert nichts"),
    ("received", "-3", "Ein Wareneingang erhöht den Bestand"),
    ("damage", "+3", "Schwund oder Beschädigung mindert den Bestand"),
    ("correction", "3", "Bitte mit Vorzeichen"),
    ("correction", "-11", "Nur 10 auf Lager: Der Bestand kann nicht unter 0 fallen."),
    ("damage", "11", "Nur 10 auf Lager"),
    ("stocktaking", "+5", "ohne Vorzeichen"),
    ("stocktaking", "-5", "ohne Vorzeichen"),
    ("received", "9999999999", "Bitte geben Sie eine ganze Zahl ein"),
    ("received", "+99999999", "mehr, als der Shop auf Lager führen kann"),
    ("order", "+3", "Bitte wählen Sie einen Grund"),
    ("cancellation", "+3", "Bitte wählen Sie einen Grund"),
    ("", "+3", "Bitte wählen Sie einen Grund"),
])
def test_bad_adjustments_are_refused_with_a_message_and_change_nothing(admin, make_product, reason, quantity,
                                                                       message):
    product = make_product("Kerze", stock=10)
    for headers in (None, HTMX):
        response = admin.adjust(product, quantity, reason, headers=headers)
        assert response.status_code == 422, (reason, quantity)
        assert message in response.text.replace("\xa0", " "), response.text
        assert "Der Bestand wurde nicht geändert." in response.text
    assert stock_of(product) == 10
    assert StockMovement.select().count() == 1 and AuditEntry.select().count() == 0


def test_a_note_with_control_characters_is_refused(admin, make_product):
    product = make_product("Kerze", stock=10)
    response = admin.adjust(product, "+1", note="Lieferung\x00")
    assert response.status_code == 422 and "Bitte verwenden Sie nur Buchstaben" in response.text
    assert admin.adjust(product, "+1", note="x" * 256).status_code == 422
    assert stock_of(product) == 10


def test_an_unknown_product_is_a_404(admin):
    assert admin.adjust(Product(id=999), "+1").status_code == 404
    assert admin.adjust(Product(id=999), "x").status_code == 404
    assert admin.client.get("/admin/products/999/stock").status_code == 404
    assert admin.client.get("/admin/products/9999999999/stock").status_code == 404


@pytest.mark.parametrize("target", [
    "https://evil.example/admin/", "//evil.example/admin/", "/\\evil.example", "javascript:alert(1)",
    "/account/profile", "",
])
def test_the_way_back_stays_in_the_back_office(admin, make_product, target):
    product = make_product("Kerze", stock=1)
    response = admin.adjust(product, "+1", next=target)
    assert response.headers["location"] == f"/admin/products/{product.id}/stock"


def test_htmx_swaps_the_movements_panel_in_place(admin, make_product):
    product = make_product("Kerze", stock=4)
    response = admin.adjust(product, "-1", "damage", note="Bruch", headers=HTMX,
                            next=f"/admin/products/{product.id}")
    assert response.status_code == 200 and response.headers["hx-trigger"] == "stock-changed"
    html = response.text
    assert html.lstrip().startswith('<section id="admin-stock-movements"') and "<html" not in html
    assert "Der Bestand von „Kerze“ ist jetzt 3 (vorher 4)." in html
    assert "Schwund oder Beschädigung" in html and "Bruch" in html and "−1" in html
    assert f'name="next" value="/admin/products/{product.id}"' in html  # comes back there without JS
    assert "Letzte Bewegungen" in html and f'href="/admin/products/{product.id}/stock"' in html


def test_the_quick_form_in_the_low_stock_list_swaps_its_row(admin, make_product):
    product = make_product("Kerze", stock=1)
    page = admin.client.get("/admin/stock").text
    assert f'id="stock-row-{product.id}"' in page and 'name="next" value="/admin/stock"' in page
    response = admin.adjust(product, "20", view="row", next="/admin/stock", headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<tr id="stock-row-{product.id}">')
    assert "<strong>21</strong>" in response.text and "Ausreichend" in response.text
    # On a phone, where the table's headers are hidden, the form's cell names itself.
    assert '<td class="actions" data-label="Wareneingang">' in response.text
    bad = admin.adjust(product, "zwei", view="row", next="/admin/stock", headers=HTMX)
    assert bad.status_code == 422 and bad.text.lstrip().startswith("<tr") and 'value="zwei"' in bad.text
    assert stock_of(product) == 21


def test_the_ledger_page_shows_every_movement_page_by_page(admin, make_product):
    product = make_product("Kerze", stock=100)
    for n in range(54):
        assert admin.adjust(product, "-1", "damage", note=f"Bruch {n}").status_code == 303
    first = admin.client.get(f"/admin/products/{product.id}/stock")
    assert first.status_code == 200 and "Lagerbewegungen: Kerze" in first.text
    assert "Bruch 53" in first.text and "Bruch 28" not in first.text
    assert "Bruch 28" in admin.client.get(f"/admin/products/{product.id}/stock?page=2").text
    last = admin.client.get(f"/admin/products/{product.id}/stock?page=3").text
    assert "Eröffnungsbestand" in last and "Inventur" in last and "+100" in last
    # an error on the ledger page without JavaScript: the page again, with the form's values
    refused = admin.adjust(product, "-1000", "correction", note="zu viel",
                           next=f"/admin/products/{product.id}/stock?page=2")
    assert refused.status_code == 422 and "Nur 46 auf Lager" in refused.text
    assert 'value="-1000"' in refused.text and 'value="zu viel"' in refused.text
    assert '<option value="correction" selected>' in refused.text


# -- the ledger ---------------------------------------------------------------------------

def test_stock_always_equals_the_sum_of_its_movements(app, admin, shopper, make_product, settings, tmp_path):
    kerze = make_product("Kerze", sku="KERZE", stock=10)
    tasse = make_product("Tasse", sku="TASSE", stock=3)
    category = kerze.category.slug

    shopper.buy(kerze, tasse, quantity=2)  # an order takes
    assert (stock_of(kerze), stock_of(tasse)) == (8, 1)
    second = Shopper(TestClient(app, follow_redirects=False))
    second.buy(kerze, quantity=3)
    assert stock_of(kerze) == 5
    first_order = Order.select().order_by(Order.id).get()
    transition(settings, first_order, "cancelled", actor="chefin")  # gives back
    assert (stock_of(kerze), stock_of(tasse)) == (7, 3)

    assert admin.adjust(kerze, "+20").status_code == 303  # by hand
    assert admin.adjust(tasse, "2", "stocktaking").status_code == 303
    assert admin.adjust(kerze, "-4", "damage").status_code == 303
    assert admin.adjust(kerze, "-100", "correction").status_code == 422  # refused: nothing booked
    assert (stock_of(kerze), stock_of(tasse)) == (23, 2)

    csv = tmp_path / "products.csv"
    csv.write_text(f"sku,name,category,price,stock\nKERZE,Kerze,{category},9.90,40\n"
                   f"TASSE,Tasse,{category},4.50,2\nTELLER,Teller,{category},7.00,6\n")
    import_csv(csv, settings.media_dir)
    assert (stock_of(kerze), stock_of(tasse)) == (40, 2)
    assert Product.get(Product.sku == "TELLER").stock == 6

    assert stock.mismatches() == []
    reasons = [m.reason for m in StockMovement.select().where(StockMovement.product == kerze.id)
               .order_by(StockMovement.id)]
    assert reasons == ["stocktaking", "order", "order", "cancellation", "received", "damage", "stocktaking"]
    ledger = admin.client.get(f"/admin/products/{kerze.id}/stock").text
    for shown in ("Bestellung", "Stornierung", "Wareneingang", "Schwund oder Beschädigung", "CSV-Import",
                  "Kunde", ADMIN_EMAIL, "+17"):
        assert shown in ledger, shown
    assert first_order.number in ledger
