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


def field_errors(response) -> dict[str, str]:
    """The message next to each field, by the field's name."""
    return {name: " ".join(html.unescape(message).split()) for name, message in
            re.findall(r'<p class="field-error" id="([^"]+)-error">(.*?)</p>', response.text, re.S)}


INVISIBLE = "Bitte verwenden Sie nur Buchstaben, Ziffern und Satzzeichen: Hier steht das unsichtbare Zeichen"


@pytest.mark.parametrize("changes,field,message", [
    ({"price": "-5"}, "price", "Ein Preis kann nicht negativ sein."),
    ({"price": "12,999"}, "price", "Bitte geben Sie einen Betrag in Euro ein, z. B. 12,50."),
    ({"price": "99999999999"}, "price", "Bitte geben Sie einen Betrag in Euro ein"),
    ({"price": "2000000"}, "price", "Höchstens 1.000.000,00 €."),
    ({"price": ""}, "price", "Bitte geben Sie den Preis ein."),
    ({"price": "0"}, "price", "Ein aktives Produkt braucht einen Preis über 0 €."),
    ({"price": "0,00 €"}, "price", "Ein aktives Produkt braucht einen Preis über 0 €."),
    ({"stock": "-1"}, "stock", "Bitte geben Sie eine ganze Zahl ab 0 ein, z. B. 5."),
    ({"stock": "99999999999"}, "stock", "Bitte geben Sie eine ganze Zahl ab 0 ein, z. B. 5."),
    ({"stock": "20000000"}, "stock", "Höchstens 10.000.000."),
    ({"low_stock_threshold": "-3"}, "low_stock_threshold", "Bitte geben Sie eine ganze Zahl ab 0 ein, z. B. 5."),
    ({"name": "Tee\x07mit Klingel"}, "name", f"{INVISIBLE} U+0007 (an Stelle 4), das oft beim Kopieren mitkommt."),
    ({"name": "Tee\u200bkanne"}, "name", f"{INVISIBLE} U+200B (an Stelle 4)"),
    ({"name": "\u202eeeT"}, "name", f"{INVISIBLE} U+202E (an Stelle 1)"),
    ({"name": "Te\x85e"}, "name", f"{INVISIBLE} U+0085"),
    ({"description": "Text\x00mit Null"}, "description", f"{INVISIBLE} U+0000"),
    ({"description": "Erste Zeile\n\u2029Zweite"}, "description", f"{INVISIBLE} U+2029"),
    ({"manufacturer": "Tee\u00adhaus GmbH"}, "manufacturer", f"{INVISIBLE} U+00AD"),
    ({"warnings": "\ufeffHeiß"}, "warnings", f"{INVISIBLE} U+FEFF"),
    ({"product_identifier": "Charge\u2028 7"}, "product_identifier", f"{INVISIBLE} U+2028"),
    ({"name": ""}, "name", "Bitte geben Sie den Namen des Produkts ein."),
    ({"name": " \u3000\t "}, "name", "Bitte geben Sie den Namen des Produkts ein."),
    ({"name": "!!!"}, "slug", "Bitte geben Sie eine Webadresse ein: Kleinbuchstaben, Ziffern und Bindestriche."),
    ({"category": "999999"}, "category", "Bitte wählen Sie eine Kategorie aus der Liste."),
    ({"category": "abc"}, "category", "Bitte wählen Sie eine Kategorie aus der Liste."),
    ({"vat_rate": "5"}, "vat_rate", "Bitte wählen Sie 19 % oder 7 %."),
    ({"ean": "4006381333932"}, "ean", "Das ist keine gültige EAN"),
    ({"ean": "12345"}, "ean", "Das ist keine gültige EAN"),
    ({"content_quantity": "0"}, "content_quantity", "Bitte geben Sie eine Zahl über 0"),
    ({"content_quantity": "-2"}, "content_quantity", "Bitte geben Sie eine Zahl über 0 ein, z. B. 250 oder 0,75."),
    ({"content_quantity": "250", "content_unit": ""}, "content_quantity", "Bitte wählen Sie auch die Einheit."),
    ({"content_quantity": "", "content_unit": "g"}, "content_quantity", "Bitte geben Sie den Inhalt für diese Einheit ein."),
    ({"content_quantity": "0,0001"}, "content_quantity", "Höchstens drei Nachkommastellen"),
    ({"content_unit": "Fass"}, "content_unit", "Bitte wählen Sie eine Einheit aus der Liste."),
    ({"slug": "Grüner Tee!"}, "slug", "Nur Kleinbuchstaben (a–z), Ziffern und einzelne Bindestriche dazwischen, "
                                      "z. B. gruener-tee."),
    ({"slug": "-tee-"}, "slug", "Nur Kleinbuchstaben (a–z), Ziffern und einzelne Bindestriche dazwischen"),
    ({"sku": "TEE 100"}, "sku", "Bitte verwenden Sie nur Buchstaben A–Z und a–z (ohne Umlaute und ß), Ziffern 0–9, "
                                "„.“, „_“ und „-“, ohne Leerzeichen"),
    ({"sku": "TÉE-1"}, "sku", "Bitte verwenden Sie nur Buchstaben A–Z und a–z (ohne Umlaute und ß)"),
    ({"sku": ""}, "sku", "Bitte geben Sie die Artikelnummer ein."),
])
def test_bad_input_is_refused_next_to_its_field_and_nothing_is_created(admin, tea_category, changes, field,
                                                                      message):
    response = admin.post("/admin/products/new", new_product_data(tea_category, **changes))
    assert response.status_code == 422
    errors = field_errors(response)
    assert list(errors) == [field]  # no follow-on message on another field
    assert errors[field].startswith(message) and errors[field].count("Bitte") <= 1
    assert "Es wurde nichts gespeichert." in text_of(response)
    assert Product.select().count() == 0 and AuditEntry.select().count() == 0


def test_a_name_refused_leads_to_no_second_message_about_its_address(admin, tea_category):
    response = admin.post("/admin/products/new", new_product_data(tea_category, name="\u200b", slug=""))
    assert list(field_errors(response)) == ["name"]
    assert Product.select().count() == 0


def test_an_inactive_product_may_cost_nothing_for_now(admin, tea_category):
    response = admin.post("/admin/products/new", new_product_data(tea_category, price="0", active=None))
    assert response.status_code == 303
    product = Product.get(Product.sku == "TEE-100")
    assert (product.price_cents, product.active) == (0, False)
    refused = edit(admin, product, active="y")
    assert refused.status_code == 422
    assert field_errors(refused) == {"price": "Ein aktives Produkt braucht einen Preis über 0 €."}
    assert not Product.get_by_id(product.id).active


def test_the_form_reads_well_in_german(admin, client, make_product):
    page = text_of(client.get("/admin/products/new"))
    assert "Der letzte Teil der Produktadresse (/products/…); leer gelassen, wird er aus dem Namen gebildet." in page
    assert "…." not in page and ".." not in page.replace("…", "")
    assert "Ihre Artikelnummer: Buchstaben A–Z, Ziffern, „.“, „_“ und „-“, keine Leerzeichen." in page


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


def two_forms(client, product) -> tuple[dict, dict]:
    """The product's form as two admins loaded it at the same time."""
    page = client.get(f"/admin/products/{product.id}").text
    return form_values(page), form_values(page)


def test_changes_to_different_fields_by_two_admins_both_stay(admin, client, make_product):
    product = make_product("Teekanne", price_cents=2500, description="Alt")
    mine, theirs = two_forms(client, product)
    theirs.update(price="19,90", description="Neu beschrieben")
    assert admin.post(f"/admin/products/{product.id}", theirs).status_code == 303

    mine.update(name="Teekanne Blau")
    response = admin.post(f"/admin/products/{product.id}", mine)
    assert response.status_code == 303
    saved = Product.get_by_id(product.id)
    assert (saved.name, saved.price_cents, saved.description, saved.version) == (
        "Teekanne Blau", 1990, "Neu beschrieben", 3)
    assert [p.price_cents for p in PriceChange.select().where(PriceChange.product == product)
            .order_by(PriceChange.id)] == [2500, 1990]
    entry = AuditEntry.select().where(AuditEntry.action == "update").order_by(AuditEntry.id.desc()).get()
    assert entry.changes == {"name": ["Teekanne", "Teekanne Blau"]}
    assert ("Die Änderungen sind gespeichert. Jemand anderes hatte inzwischen Beschreibung, Preis inkl. MwSt. "
            "geändert; diese Änderungen bleiben erhalten.") in text_of(client.get(f"/admin/products/{product.id}"))


def test_the_same_field_changed_by_two_admins_is_refused_next_to_it(admin, client, make_product):
    product = make_product("Teekanne", price_cents=2500, description="Alt")
    mine, theirs = two_forms(client, product)
    theirs.update(price="19,90", description="Neu beschrieben")
    assert admin.post(f"/admin/products/{product.id}", theirs).status_code == 303

    mine.update(name="Teekanne Blau", price="24,00")
    response = admin.post(f"/admin/products/{product.id}", mine)
    assert response.status_code == 409
    shown = text_of(response)
    assert "Jemand anderes hat dieses Produkt inzwischen gespeichert" in shown
    assert "Es wurde nichts gespeichert." in shown
    assert "Von Ihnen beiden geändert Preis inkl. MwSt." in shown
    assert '<a href="#price">' in response.text
    assert field_errors(response) == {"price": "Inzwischen von jemand anderem gespeichert: 19,90 €"}
    saved = Product.get_by_id(product.id)
    assert (saved.name, saved.price_cents, saved.description, saved.version) == (
        "Teekanne", 1990, "Neu beschrieben", 2)
    assert AuditEntry.select().where(AuditEntry.action == "update").count() == 1
    # What was typed stays; what only the other admin changed shows their value.
    again = form_values(response.text)
    assert (again["name"], again["price"], again["description"]) == ("Teekanne Blau", "24,00", "Neu beschrieben")
    # Saving again keeps the entries, on purpose, and still not the old description.
    assert admin.post(f"/admin/products/{product.id}", again).status_code == 303
    saved = Product.get_by_id(product.id)
    assert (saved.name, saved.price_cents, saved.description) == ("Teekanne Blau", 2400, "Neu beschrieben")


def test_the_same_change_by_two_admins_is_no_conflict(admin, client, make_product):
    product = make_product("Teekanne", price_cents=2500)
    mine, theirs = two_forms(client, product)
    theirs.update(price="19,90")
    mine.update(price="19,90", name="Teekanne Blau")
    assert admin.post(f"/admin/products/{product.id}", theirs).status_code == 303
    assert admin.post(f"/admin/products/{product.id}", mine).status_code == 303
    saved = Product.get_by_id(product.id)
    assert (saved.name, saved.price_cents) == ("Teekanne Blau", 1990)


@pytest.mark.parametrize("version", ["7", "0", "abc", ""])
@pytest.mark.parametrize("original", ["", "{}", "[1]", '{"name": 1}', "[" * 10_000])
def test_a_wrong_version_without_the_loaded_values_changes_nothing(admin, make_product, version, original):
    product = make_product("Teekanne")
    response = edit(admin, product, name="Anders", version=version, original=original)
    assert response.status_code == 409
    assert field_errors(response) == {"name": "Inzwischen von jemand anderem gespeichert: Teekanne"}
    assert Product.get_by_id(product.id).name == "Teekanne" and AuditEntry.select().count() == 0


def test_a_wrong_version_with_the_loaded_values_saves_only_what_was_changed(admin, make_product):
    product = make_product("Teekanne", price_cents=2500)
    assert edit(admin, product, name="Anders", version="7").status_code == 303
    saved = Product.get_by_id(product.id)
    assert (saved.name, saved.price_cents, saved.version) == ("Anders", 2500, 2)


def test_the_shop_shows_the_ean_and_the_product_identifier_under_their_own_labels(admin, client, make_product):
    product = make_product("Teekanne")
    assert edit(admin, product, ean="4006381333931", product_identifier="Charge 2024-07").status_code == 303
    page = text_of(client.get(f"/products/{product.slug}"))
    assert "GTIN/EAN 4006381333931" in page
    assert "Produktkennung Charge 2024-07" in page
    assert "(GTIN)" not in page
    assert edit(admin, Product.get_by_id(product.id), ean="", product_identifier="").status_code == 303
    page = text_of(client.get(f"/products/{product.slug}"))
    assert "GTIN/EAN" not in page and "Produktkennung" not in page


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
