"""The product form in the back office: every field, German numbers, checks that refuse
bad input without changing anything, old addresses that lead on, two admins editing at
once, and deleting (or deactivating) a product."""
from __future__ import annotations

import html
import re

import pytest
from starlette.testclient import TestClient

from shop import cli
from shop.audit.models import AuditEntry
from shop.catalog.models import PriceChange, Product, SlugRedirect, StockMovement
from shop.db import db
from tests.conftest import Shopper

ADMIN_EMAIL = "chefin@example.org"
ADMIN_PASSWORD = "ein sehr sicheres passwort"


class Admin(Shopper):
    """An admin in the back office, over HTTP."""

    def csrf(self, url: str = "/admin/products/new") -> str:
        return super().csrf(url)


def sign_in_admin(client, settings, monkeypatch) -> Admin:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("ADMIN_PASSWORD", ADMIN_PASSWORD)
    database = db.obj
    try:
        assert cli.main(["create-admin", ADMIN_EMAIL]) == 0
    finally:
        db.initialize(database)  # the command connects anew; the test keeps its connection
    admin = Admin(client)
    signed_in = Shopper(client).post("/account/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert signed_in.status_code == 303
    return admin


@pytest.fixture
def admin(client, settings, database, monkeypatch) -> Admin:
    return sign_in_admin(client, settings, monkeypatch)


def text_of(response) -> str:
    """The page's text as a reader sees it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


def form_values(page: str) -> dict[str, str]:
    """The product form's fields as the page fills them in (what a browser would send)."""
    form = re.search(r'<form id="admin-product-form".*?</form>', page, re.S).group(0)
    values = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="checkbox"' in tag and "checked" not in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        values[name.group(1)] = html.unescape(value.group(1)) if value else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        values[name] = html.unescape(body)
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        selected = re.search(r'<option value="([^"]*)" selected', body)
        values[name] = selected.group(1) if selected else ""
    return values


def new_product_data(in_category, **changes) -> dict:
    data = {
        "sku": "TEE-100", "name": "Grüner Tee Sencha", "slug": "", "category": str(in_category.id),
        "description": "Frisch und grasig.\n\nAus Japan.", "price": "12,99", "vat_rate": "7",
        "stock": "7", "active": "y", "featured": "y", "ean": "4006381333931",
        "content_quantity": "250", "content_unit": "g", "low_stock_threshold": "3",
        "manufacturer": "Teehaus GmbH\nHafenstraße 1, 20457 Hamburg\ninfo@teehaus.example",
        "responsible_person": "", "product_identifier": "Charge 2024-07", "warnings": "Heiß aufgießen.",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def tea_category(make_category):
    drinks = make_category("Getränke")
    return make_category("Tee", parent=drinks)


def test_a_new_product_gets_every_field_and_its_opening_stock(admin, client, tea_category):
    page = client.get("/admin/products/new")
    assert page.status_code == 200
    assert "Neues Produkt" in page.text and "Getränke › Tee" in page.text
    assert page.headers["cache-control"] == "private, no-store"
    response = admin.post("/admin/products/new", new_product_data(tea_category))
    assert response.status_code == 303
    product = Product.get(Product.sku == "TEE-100")
    assert response.headers["location"] == f"/admin/products/{product.id}"
    assert product.slug == "gruener-tee-sencha"  # proposed from the name
    assert (product.price_cents, product.vat_rate, product.stock) == (1299, 7, 7)
    assert product.active and product.featured and product.ean == "4006381333931"
    assert product.unit_price == (5196, "kg")
    assert product.low_stock_threshold == 3 and product.category_id == tea_category.id
    assert product.manufacturer.startswith("Teehaus GmbH\nHafenstraße 1")
    assert product.description == "Frisch und grasig.\n\nAus Japan."
    movement = StockMovement.get(StockMovement.product == product)
    assert (movement.change, movement.reason, movement.actor) == (7, "stocktaking", ADMIN_EMAIL)
    assert [p.price_cents for p in PriceChange.select().where(PriceChange.product == product)] == [1299]
    entry = AuditEntry.get(AuditEntry.object_type == "product")
    assert (entry.action, entry.actor, entry.object_id) == ("create", ADMIN_EMAIL, str(product.id))
    assert entry.changes["price_cents"] == [None, 1299]

    edit = client.get(response.headers["location"])
    assert "Das Produkt „Grüner Tee Sencha“ ist angelegt." in text_of(edit)
    assert f'href="/products/{product.slug}"' in edit.text and "Im Shop ansehen" in edit.text
    assert 'name="stock"' not in re.search(r'<form id="admin-product-form".*?</form>', edit.text, re.S).group(0)
    assert "12,99" in edit.text and 'value="250"' in edit.text
    # The shop lists and finds it at once.
    assert client.get(f"/products/{product.slug}").status_code == 200
    assert "Grüner Tee Sencha" in client.get("/products", params={"q": "sencha"}).text


def test_a_taken_sku_or_address_is_refused_clearly(admin, make_product, tea_category):
    make_product("Schwarzer Tee", sku="TEE-1", slug="gruener-tee-sencha")
    response = admin.post("/admin/products/new", new_product_data(tea_category))
    assert response.status_code == 422
    assert "Die Adresse gruener-tee-sencha wird schon von „Schwarzer Tee“ verwendet." in text_of(response)
    response = admin.post("/admin/products/new", new_product_data(tea_category, sku="TEE-1", slug="anders"))
    assert response.status_code == 422 and "Die Artikelnummer TEE-1 wird schon von „Schwarzer Tee“" in text_of(response)
    assert Product.select().count() == 1


@pytest.mark.parametrize("changes,message", [
    ({"price": "-5"}, "Bitte geben Sie einen Betrag in Euro ein, z. B. 12,50."),
    ({"price": "99999999999"}, "Bitte geben Sie einen Betrag in Euro ein"),
    ({"price": "2000000"}, "Höchstens 1.000.000,00 €."),
    ({"price": ""}, "Bitte geben Sie den Preis ein."),
    ({"stock": "-1"}, "Bitte geben Sie eine ganze Zahl ein."),
    ({"stock": "99999999999"}, "Bitte geben Sie eine ganze Zahl ein."),
    ({"stock": "20000000"}, "Höchstens 10000000."),
    ({"name": "Tee\x07mit Klingel"}, "Bitte verwenden Sie nur Buchstaben, Ziffern und Satzzeichen."),
    ({"description": "Text\x00mit Null"}, "Bitte verwenden Sie nur Buchstaben, Ziffern und Satzzeichen."),
    ({"name": ""}, "Dieses Feld wird benötigt."),
    ({"category": "999999"}, "Bitte wählen Sie eine Kategorie aus der Liste."),
    ({"category": "abc"}, "Bitte wählen Sie eine Kategorie aus der Liste."),
    ({"vat_rate": "5"}, "Bitte wählen Sie 19 % oder 7 %."),
    ({"ean": "4006381333932"}, "keine gültige EAN"),
    ({"ean": "12345"}, "keine gültige EAN"),
    ({"content_quantity": "0"}, "Bitte geben Sie eine Zahl über 0"),
    ({"content_quantity": "250", "content_unit": ""}, "Bitte wählen Sie auch die Einheit."),
    ({"content_quantity": "", "content_unit": "g"}, "Bitte geben Sie den Inhalt für diese Einheit ein."),
    ({"content_quantity": "0,0001"}, "Höchstens drei Nachkommastellen"),
    ({"content_unit": "Fass"}, "Bitte wählen Sie eine Einheit aus der Liste."),
    ({"slug": "Grüner Tee!"}, "Nur Kleinbuchstaben (a–z), Ziffern und Bindestriche"),
    ({"sku": "TEE 100"}, "Nur Buchstaben, Ziffern"),
    ({"low_stock_threshold": "-3"}, "Bitte geben Sie eine ganze Zahl ein."),
])
def test_bad_input_is_refused_and_nothing_is_created(admin, tea_category, changes, message):
    response = admin.post("/admin/products/new", new_product_data(tea_category, **changes))
    assert response.status_code == 422
    assert message in text_of(response)
    assert "Es wurde nichts gespeichert." in text_of(response)
    assert Product.select().count() == 0 and AuditEntry.select().count() == 0


def edit(admin, product, **changes):
    """Load the product's form, change some fields, send it."""
    values = form_values(admin.client.get(f"/admin/products/{product.id}").text)
    values.update(changes)
    return admin.post(f"/admin/products/{product.id}", {k: v for k, v in values.items() if v is not None})


def test_saving_changes_bumps_the_version_keeps_the_price_history_and_the_search(admin, client, make_product):
    product = make_product("Teekanne", price_cents=2500, stock=4, content_quantity=None)
    response = edit(admin, product, name="Teekanne Gusseisen", price="29,90", active=None)
    assert response.status_code == 303 and response.headers["location"] == f"/admin/products/{product.id}"
    saved = Product.get_by_id(product.id)
    assert (saved.name, saved.price_cents, saved.version, saved.active, saved.stock) == (
        "Teekanne Gusseisen", 2990, 2, False, 4)
    assert [p.price_cents for p in PriceChange.select().where(PriceChange.product == product)
            .order_by(PriceChange.id)] == [2500, 2990]
    entry = AuditEntry.get(AuditEntry.action == "update")
    assert entry.changes == {"name": ["Teekanne", "Teekanne Gusseisen"], "price_cents": [2500, 2990],
                             "active": [True, False]}
    assert "Die Änderungen sind gespeichert." in text_of(client.get(f"/admin/products/{product.id}"))
    # Inactive now: gone from the shop; active again: found under its new name.
    assert client.get(f"/products/{product.slug}").status_code == 404
    assert edit(admin, saved, active="y").status_code == 303
    assert "Teekanne Gusseisen" in client.get("/products", params={"q": "gusseisen"}).text


def test_the_stock_cannot_be_set_by_the_form(admin, make_product):
    product = make_product("Tasse", stock=4)
    assert edit(admin, product, stock="999").status_code == 303
    assert Product.get_by_id(product.id).stock == 4


def test_saving_unchanged_values_writes_nothing(admin, make_product):
    product = make_product("Tasse")
    assert edit(admin, product).status_code == 303
    assert Product.get_by_id(product.id).version == 1 and AuditEntry.select().count() == 0


def test_an_old_address_leads_to_the_new_one(admin, client, make_product):
    product = make_product("Teekanne", slug="teekanne")
    assert edit(admin, product, slug="teekanne-blau").status_code == 303
    moved = client.get("/products/teekanne")
    assert moved.status_code == 301 and moved.headers["location"] == "/products/teekanne-blau"
    assert edit(admin, Product.get_by_id(product.id), slug="").status_code == 303  # from the name
    assert Product.get_by_id(product.id).slug == "teekanne"
    assert client.get("/products/teekanne").status_code == 200
    moved = client.get("/products/teekanne-blau")
    assert moved.status_code == 301 and moved.headers["location"] == "/products/teekanne"
    assert [r.old_slug for r in SlugRedirect.select()] == ["teekanne-blau"]
    assert client.get("/products/gab-es-nie").status_code == 404


def test_a_save_on_an_older_version_is_refused_and_says_what_changed(admin, client, make_product):
    product = make_product("Teekanne", price_cents=2500, description="Alt")
    page = client.get(f"/admin/products/{product.id}").text
    mine = form_values(page)
    theirs = form_values(page)
    theirs.update(price="19,90", description="Neu beschrieben")
    assert admin.post(f"/admin/products/{product.id}", theirs).status_code == 303

    mine.update(name="Teekanne Blau", price="24,00")
    response = admin.post(f"/admin/products/{product.id}", mine)
    assert response.status_code == 409
    shown = text_of(response)
    assert "Jemand anderes hat dieses Produkt inzwischen gespeichert" in shown
    assert "Es wurde nichts gespeichert." in shown
    conflict = re.search(r'<table class="data-table stack".*?</table>', response.text, re.S).group(0)
    rows = [" ".join(re.sub(r"<[^>]+>", " ", row).split())
            for row in re.findall(r'<tr><th scope="row">.*?</tr>', conflict, re.S)]
    assert rows == ["Beschreibung Neu beschrieben Alt", "Preis inkl. MwSt. 19,90 € 24,00 €"]
    saved = Product.get_by_id(product.id)
    assert (saved.name, saved.price_cents, saved.version) == ("Teekanne", 1990, 2)
    assert 'value="Teekanne Blau"' in response.text  # what was typed stays
    # Saving again keeps what was typed, on purpose.
    again = form_values(response.text)
    assert admin.post(f"/admin/products/{product.id}", again).status_code == 303
    assert Product.get_by_id(product.id).name == "Teekanne Blau"


@pytest.mark.parametrize("version", ["7", "0", "abc", ""])
def test_a_wrong_version_changes_nothing(admin, make_product, version):
    product = make_product("Teekanne")
    response = edit(admin, product, name="Anders", version=version)
    assert response.status_code == 409
    assert Product.get_by_id(product.id).name == "Teekanne" and AuditEntry.select().count() == 0


def test_a_product_never_ordered_is_deleted(admin, client, make_product):
    product = make_product("Teekanne")
    response = admin.post(f"/admin/products/{product.id}/delete")
    assert response.status_code == 303 and response.headers["location"] == "/admin/products"
    assert Product.get_or_none(Product.id == product.id) is None
    assert AuditEntry.get(AuditEntry.action == "delete").object_id == str(product.id)
    assert client.get(f"/admin/products/{product.id}").status_code == 404
    assert admin.post(f"/admin/products/{product.id}/delete").status_code == 404


def test_an_ordered_product_is_deactivated_instead(admin, app, client, make_product):
    product = make_product("Teekanne")
    Shopper(TestClient(app, follow_redirects=False)).buy(product)
    response = admin.post(f"/admin/products/{product.id}/delete")
    assert response.status_code == 303 and response.headers["location"] == f"/admin/products/{product.id}"
    kept = Product.get_by_id(product.id)
    assert not kept.active
    page = text_of(client.get(f"/admin/products/{product.id}"))
    assert "„Teekanne“ kommt in Bestellungen vor und kann deshalb nicht gelöscht werden." in page
    assert "Inaktiv: im Shop nicht sichtbar" in page
    assert client.get(f"/products/{product.slug}").status_code == 404


def test_an_unknown_product_is_not_found(admin, client):
    assert client.get("/admin/products/999999").status_code == 404
    assert admin.post("/admin/products/999999", {"name": "x"}).status_code == 404
