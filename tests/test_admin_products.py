"""The products table in the back office: search, filters, sorting and pages in the URL;
rows edited in place with and without htmx; two admins on one row; bulk changes."""
from __future__ import annotations

import re

import pytest

from shop.audit.models import AuditEntry
from shop.catalog import stock
from shop.catalog.models import PriceChange, Product
from shop.db import with_connection
from tests.conftest import sign_in_admin

HTMX = {"HX-Request": "true"}


def rows(html: str) -> list[str]:
    """The SKUs of the table's rows, in order."""
    return re.findall(r'<td data-label="Artikelnummer">([^<]+)</td>', html)


def fresh(product: Product) -> Product:
    return with_connection(Product.get_by_id, product.id)


@pytest.fixture
def catalogue(make_category, make_product):
    kitchen = make_category("Küche")
    garden = make_category("Garten")
    return {
        "tasse": make_product("Tasse", sku="T-1", category=kitchen, price_cents=899, stock=40),
        "kanne": make_product("Kanne", sku="K-1", category=kitchen, price_cents=2499, stock=3),
        "schere": make_product("Rosenschere", sku="R-1", category=garden, price_cents=1999, stock=0),
        "hut": make_product("Gartenhut", sku="G-1", category=garden, price_cents=1500, stock=12,
                            active=False),
        "kitchen": kitchen, "garden": garden,
    }


def test_the_table_lists_filters_searches_and_sorts(admin, catalogue):
    page = admin.client.get("/admin/products")
    assert page.status_code == 200
    assert set(rows(page.text)) == {"T-1", "K-1", "R-1", "G-1"}
    assert "4 Produkte" in page.text and "24,99\xa0€" in page.text
    assert "ausverkauft" in page.text and "3 · knapp" in page.text and "inaktiv" in page.text

    assert rows(admin.client.get("/admin/products?q=rosen").text) == ["R-1"]
    assert rows(admin.client.get("/admin/products?q=K-1").text) == ["K-1"]
    assert set(rows(admin.client.get(f"/admin/products?category={catalogue['garden'].id}").text)) == {"R-1", "G-1"}
    assert rows(admin.client.get("/admin/products?active=no").text) == ["G-1"]
    assert rows(admin.client.get("/admin/products?stock=out").text) == ["R-1"]
    assert rows(admin.client.get("/admin/products?stock=low").text) == ["K-1"]
    assert set(rows(admin.client.get("/admin/products?stock=in").text)) == {"T-1", "G-1"}

    by_price = admin.client.get("/admin/products?sort=price").text
    assert rows(by_price) == ["T-1", "G-1", "R-1", "K-1"]
    assert re.search(r'<th scope="col" class="num" aria-sort="ascending">\s*<a href="/admin/products\?sort=-price"', by_price)
    assert rows(admin.client.get("/admin/products?sort=-price").text) == ["K-1", "R-1", "G-1", "T-1"]
    assert rows(admin.client.get("/admin/products?sort=name").text) == ["G-1", "K-1", "R-1", "T-1"]
    assert rows(admin.client.get("/admin/products?sort=category&size=50").text)[:2] in (["G-1", "R-1"], ["R-1", "G-1"])


def test_pages_and_page_size_are_in_the_url(admin, make_product):
    for n in range(30):
        make_product(f"Becher {n:02d}", sku=f"B-{n:02d}")
    first = admin.client.get("/admin/products?sort=sku")
    assert rows(first.text) == [f"B-{n:02d}" for n in range(25)]
    assert 'href="/admin/products?sort=sku&amp;page=2"' in first.text
    second = admin.client.get("/admin/products?sort=sku&page=2")
    assert rows(second.text) == [f"B-{n:02d}" for n in range(25, 30)]
    assert len(rows(admin.client.get("/admin/products?sort=sku&size=50").text)) == 30
    # Nonsense falls back to the defaults instead of failing.
    for query in ("page=x", "page=-1", "page=99999999999", "size=1000000", "sort=password",
                  "category=abc", "stock=%00", "q=" + "x" * 5000, "active=maybe"):
        response = admin.client.get(f"/admin/products?{query}")
        assert response.status_code == 200, query
    assert rows(admin.client.get("/admin/products?sort=sku&page=9").text)[-1] == "B-29"


def test_the_search_answers_htmx_with_the_table_only(admin, catalogue):
    response = admin.client.get("/admin/products?q=tasse", headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="products-table"')
    assert rows(response.text) == ["T-1"] and "<html" not in response.text


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def edit_form(admin, product, headers=HTMX) -> dict:
    """The fields of the row's edit form, as the browser would send them."""
    url = (f"/admin/products/{product.id}/row/edit?back=q%3Dtasse" if headers
           else f"/admin/products?q=tasse&edit={product.id}")
    html = admin.client.get(url, headers=headers).text
    values = dict(re.findall(r'name="(csrf_token|version|original|back)" value="([^"]*)"', html))
    values["original"] = values["original"].replace("&#34;", '"')
    name = re.search(r'name="name" form="row-\d+" type="text" value="([^"]*)"', html).group(1)
    return {**values, "name": name, "price": "8,99", "stock": "40",
            "category": str(product.category_id), "active": "y"}


def test_a_row_is_edited_in_place(admin, catalogue):
    tasse = catalogue["tasse"]
    row = admin.client.get(f"/admin/products/{tasse.id}/row/edit", headers=HTMX)
    assert row.status_code == 200 and 'class="editing"' in row.text and "autofocus" in row.text
    form = edit_form(admin, tasse)
    saved = admin.client.post(f"/admin/products/{tasse.id}/row", headers=HTMX,
                              data={**form, "name": "Große Tasse", "price": "12,99", "stock": "35"})
    assert saved.status_code == 200
    assert "Große Tasse" in saved.text and "12,99\xa0€" in saved.text and "editing" not in saved.text
    product = fresh(tasse)
    assert (product.name, product.price_cents, product.stock, product.version) == ("Große Tasse", 1299, 35, 2)
    assert with_connection(stock.mismatches) == []
    history = with_connection(lambda: [p.price_cents for p in PriceChange.select().where(PriceChange.product == tasse.id)])
    assert history == [899, 1299]
    entry = with_connection(lambda: AuditEntry.get(AuditEntry.object_id == str(tasse.id)))
    assert entry.actor == "chefin@example.org" and entry.action == "update"
    assert entry.changes["price_cents"] == [899, 1299] and entry.changes["name"] == ["Tasse", "Große Tasse"]
    assert entry.address == "testclient"


def test_editing_works_without_javascript(admin, catalogue):
    tasse = catalogue["tasse"]
    link = admin.client.get(f"/admin/products/{tasse.id}/row/edit?back=q%3Dtasse")
    assert link.status_code == 303 and link.headers["location"] == f"/admin/products?q=tasse&edit={tasse.id}"
    page = admin.client.get(link.headers["location"])
    assert page.status_code == 200 and 'class="editing"' in page.text and "<html" in page.text
    form = edit_form(admin, tasse, headers={})
    saved = admin.client.post(f"/admin/products/{tasse.id}/row", data={**form, "price": "9,49"})
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/products?q=tasse"
    assert "Gespeichert" in admin.client.get(saved.headers["location"]).text
    assert fresh(tasse).price_cents == 949


def test_errors_appear_in_the_row_and_change_nothing(admin, catalogue):
    tasse = catalogue["tasse"]
    form = edit_form(admin, tasse)
    for changes, message in [
        ({"price": "zwölf"}, "Bitte geben Sie einen Betrag in Euro ein"),
        ({"price": "-3"}, "Bitte geben Sie einen Betrag in Euro ein"),
        ({"stock": "-1"}, "ganze Zahl"),
        ({"stock": "١٢"}, "ganze Zahl"),
        ({"name": "  "}, "Dieses Feld wird benötigt"),
        ({"name": "Tasse\r\nBcc: x@example.org"}, "nur Buchstaben"),
        ({"category": "999999"}, "Keine gültige Auswahl"),
        ({"category": "abc"}, "Ungültige Auswahl"),
    ]:
        response = admin.client.post(f"/admin/products/{tasse.id}/row", headers=HTMX, data={**form, **changes})
        assert response.status_code == 422, changes
        assert 'class="editing"' in response.text and message in response.text, changes
        assert 'aria-invalid="true"' in response.text
    no_js = admin.client.post(f"/admin/products/{tasse.id}/row", data={**form, "price": "zwölf"})
    assert no_js.status_code == 422 and "<html" in no_js.text and 'class="editing"' in no_js.text
    assert fresh(tasse).price_cents == 899 and fresh(tasse).version == 1
    assert with_connection(AuditEntry.select().count) == 0


def test_the_second_of_two_admins_is_refused_and_sees_what_changed(app, admin, catalogue):
    tasse = catalogue["tasse"]
    other = sign_in_admin(app, "kollege@example.org")
    mine, theirs = edit_form(admin, tasse), edit_form(other, tasse)
    assert other.client.post(f"/admin/products/{tasse.id}/row", headers=HTMX,
                             data={**theirs, "price": "10,00"}).status_code == 200
    refused = admin.client.post(f"/admin/products/{tasse.id}/row", headers=HTMX,
                                data={**mine, "name": "Meine Tasse"})
    assert refused.status_code == 409
    # The message in a full-width row under the row, which keeps what was typed.
    conflict = re.search(r'<tr id="product-\d+-conflict" class="row-conflict">\s*<td colspan="10">(.*?)</tr>',
                         refused.text, re.S).group(1)
    assert "inzwischen geändert" in conflict and "Preis: 8,99\xa0€ → 10,00\xa0€" in conflict
    # What was typed stays; what was left as it was shows their change.
    assert 'value="Meine Tasse"' in refused.text and 'name="price" form="row-1" type="text" value="10,00"' in refused.text
    product = fresh(tasse)
    assert (product.name, product.price_cents, product.version) == ("Tasse", 1000, 2)
    # Saved again, the typed change is made and theirs kept.
    again = dict(re.findall(r'name="(version|original)" value="([^"]*)"', refused.text))
    again["original"] = again["original"].replace("&#34;", '"')
    saved = admin.client.post(f"/admin/products/{tasse.id}/row", headers=HTMX,
                              data={**mine, **again, "name": "Meine Tasse", "price": "10,00"})
    assert saved.status_code == 200 and "row-conflict" not in saved.text
    assert (fresh(tasse).name, fresh(tasse).price_cents) == ("Meine Tasse", 1000)
    # A sale meanwhile is a change too: the stock typed on the old count is refused.
    form = edit_form(admin, tasse)
    with_connection(lambda: stock.move(tasse.id, -1, stock.ORDER, "customer", order_number="2026-000001"))
    assert admin.client.post(f"/admin/products/{tasse.id}/row", headers=HTMX,
                             data={**form, "stock": "50"}).status_code == 409
    assert fresh(tasse).stock == 39


def test_a_conflict_without_javascript_keeps_the_typed_values_on_the_page(app, admin, catalogue):
    tasse = catalogue["tasse"]
    other = sign_in_admin(app, "kollege@example.org")
    mine, theirs = edit_form(admin, tasse, headers={}), edit_form(other, tasse)
    other.client.post(f"/admin/products/{tasse.id}/row", headers=HTMX, data={**theirs, "stock": "12"})
    refused = admin.client.post(f"/admin/products/{tasse.id}/row", data={**mine, "price": "7,77"})
    assert refused.status_code == 409 and "<html" in refused.text
    assert 'value="7,77"' in refused.text and "Lager: 40 → 12" in refused.text
    assert 'name="stock" form="row-1" type="text" value="12"' in refused.text
    assert 'class="row-conflict"' in refused.text and fresh(tasse).price_cents == 899


def test_writes_need_the_csrf_token_and_an_admin(app, admin, client, catalogue):
    tasse = catalogue["tasse"]
    form = edit_form(admin, tasse)
    forged = admin.client.post(f"/admin/products/{tasse.id}/row", data={**form, "csrf_token": "x"})
    assert forged.status_code == 403
    cross_site = admin.client.post(f"/admin/products/{tasse.id}/row", data=form,
                                   headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    assert client.post(f"/admin/products/{tasse.id}/row", data=form).status_code == 303  # guest: sign in
    assert fresh(tasse).version == 1
    assert admin.client.get("/admin/products/999999/row/edit", headers=HTMX).status_code == 404
    assert admin.client.post("/admin/products/999999/row", headers=HTMX, data=form).status_code == 404


def bulk(admin, **data):
    csrf = csrf_of(admin.client.get("/admin/products").text)
    return admin.client.post("/admin/products/bulk", data={"csrf_token": csrf, **data})


def confirmation_fields(confirmation) -> dict[str, list[str]]:
    form = confirmation.text[confirmation.text.index('action="/admin/products/bulk/apply"'):]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        fields.setdefault(name, []).append(value)
    return fields


def apply(admin, confirmation):
    """Press the confirmation page's button."""
    return admin.client.post("/admin/products/bulk/apply", data=confirmation_fields(confirmation))


def notice(admin, response) -> str:
    """The page a refused or done bulk change leads to."""
    assert response.status_code == 303
    return admin.client.get(response.headers["location"]).text


def test_bulk_changes_show_a_preview_then_change_all_at_once(admin, catalogue):
    kitchen = catalogue["kitchen"]
    confirmation = bulk(admin, scope="ticked", action="price_percent", value="+10",
                        ids=[catalogue["tasse"].id, catalogue["kanne"].id])
    assert confirmation.status_code == 200
    assert "Diese Änderung betrifft 2 Produkte" in confirmation.text
    assert "8,99\xa0€" in confirmation.text and "9,89\xa0€" in confirmation.text
    assert fresh(catalogue["tasse"]).price_cents == 899  # nothing yet
    done = apply(admin, confirmation)
    assert "2 Produkte geändert" in notice(admin, done)
    assert fresh(catalogue["tasse"]).price_cents == 989 and fresh(catalogue["kanne"]).price_cents == 2749
    one = bulk(admin, scope="ticked", action="deactivate", ids=[catalogue["tasse"].id])
    assert "Diese Änderung betrifft 1 Produkt." in one.text
    assert "1 Produkt geändert." in notice(admin, apply(admin, one))

    everything_in_garden = bulk(admin, scope="all", category=str(catalogue["garden"].id),
                                action="move", to_category=str(kitchen.id))
    assert "Diese Änderung betrifft 2 Produkte" in everything_in_garden.text
    apply(admin, everything_in_garden)
    assert fresh(catalogue["schere"]).category_id == kitchen.id
    entries = with_connection(lambda: list(AuditEntry.select().where(AuditEntry.action == "bulk_move")))
    assert len(entries) == 2 and entries[0].changes["category"][1] == kitchen.id


def test_bulk_input_is_checked_before_anything_changes(admin, catalogue):
    tasse = catalogue["tasse"]
    for data, field, message in [
        ({"action": "price_amount", "value": "-100,00", "ids": [tasse.id]}, "value",
         "würde T-1 -91,01\xa0€ kosten; ein Preis muss zwischen 0 € und 1.000.000 € liegen"),
        ({"action": "price_percent", "value": "-100", "ids": [tasse.id]}, "value",
         "nur um weniger als 100 % senken: Mit -100 % wäre das Produkt kostenlos"),
        ({"action": "price_percent", "value": "abc", "ids": [tasse.id]}, "value", "um wie viel Prozent"),
        ({"action": "set_stock", "value": "-5", "ids": [tasse.id]}, "value", "ganze Zahl von 0 bis"),
        ({"action": "move", "to_category": "999999", "ids": [tasse.id]}, "to_category", "Kategorie"),
        ({"action": "delete_everything", "ids": [tasse.id]}, "action", "Bitte wählen Sie"),
        ({"action": "activate"}, "scope", "Bitte haken Sie"),
    ]:
        response = bulk(admin, scope="ticked", **data)
        assert response.status_code == 422, data
        # The form stays open, the reason next to its field.
        assert '<details class="bulk" open>' in response.text, data
        error = re.search(rf'<p class="field-error" id="bulk-{field}-error">([^<]*)</p>', response.text)
        assert error and message in error.group(1).replace("&#43;", "+"), data
        assert f'aria-describedby="bulk-{field}-error"' in response.text, data
    assert fresh(tasse).price_cents == 899 and fresh(tasse).version == 1
    assert with_connection(AuditEntry.select().count) == 0


def test_a_refused_bulk_form_keeps_what_was_typed(admin, catalogue):
    tasse, kanne = catalogue["tasse"], catalogue["kanne"]
    response = bulk(admin, scope="ticked", action="price_percent", value="zehn", ids=[tasse.id, kanne.id])
    assert response.status_code == 422
    assert '<option value="price_percent" selected>' in response.text
    assert 'name="value" type="text" inputmode="decimal" size="8" maxlength="20" placeholder="+10" value="zehn"' in response.text
    ticked = re.findall(r'name="ids" value="(\d+)" form="bulk" checked', response.text)
    assert sorted(ticked) == sorted([str(tasse.id), str(kanne.id)])
    moved = bulk(admin, scope="all", action="move", to_category="")
    assert '<input type="radio" name="scope" value="all" checked>' in moved.text
    assert 'name="to_category" aria-invalid="true" aria-describedby="bulk-to_category-error" autofocus' in moved.text


def test_bulk_with_filters_that_do_not_read_is_refused(admin, catalogue):
    garden = catalogue["garden"]
    for filters in ({"category": "999999"}, {"category": f"{garden.id} OR 1=1"}, {"active": "vielleicht"},
                    {"stock": "none"}, {"q": "x" * 300}):
        response = bulk(admin, scope="all", action="deactivate", **filters)
        assert response.status_code == 400, filters
        assert "Filter dieser Änderung sind ungültig" in response.text, filters
    # A confirmation whose category went away meanwhile is refused as well.
    confirmation = bulk(admin, scope="all", category=str(garden.id), action="deactivate")
    fields = {**confirmation_fields(confirmation), "category": ["999999"]}
    refused = admin.client.post("/admin/products/bulk/apply", data=fields)
    assert "Filter dieser Änderung sind ungültig" in notice(admin, refused)
    assert all(fresh(p).active for p in (catalogue["tasse"], catalogue["kanne"], catalogue["schere"]))
    assert with_connection(AuditEntry.select().count) == 0


def test_a_bulk_change_confirmed_twice_is_made_once(admin, catalogue):
    tasse = catalogue["tasse"]
    confirmation = bulk(admin, scope="ticked", action="price_percent", value="+10", ids=[tasse.id])
    assert "1 Produkt geändert." in notice(admin, apply(admin, confirmation))
    assert fresh(tasse).price_cents == 989
    # A double click, or Back and the button again: the same one-time key.
    again = notice(admin, apply(admin, confirmation))
    assert "Diese Änderung wurde bereits ausgeführt" in again and "Produkt geändert" not in again
    assert fresh(tasse).price_cents == 989 and fresh(tasse).version == 2
    assert with_connection(AuditEntry.select().where(AuditEntry.action == "bulk_price_percent").count) == 1
    # Without its key the confirmation is not taken.
    fields = {k: v for k, v in confirmation_fields(confirmation).items() if k != "form_key"}
    assert "Bitte prüfen Sie die Änderung noch einmal" in notice(
        admin, admin.client.post("/admin/products/bulk/apply", data=fields))
    assert fresh(tasse).price_cents == 989


def test_a_selection_that_changed_before_applying_is_checked_again(admin, catalogue, make_product):
    confirmation = bulk(admin, scope="all", active="yes", action="deactivate")
    assert "Diese Änderung betrifft 3 Produkte" in confirmation.text
    make_product("Neu", sku="N-1")
    refused = notice(admin, apply(admin, confirmation))
    assert "inzwischen geändert (jetzt 4 Produkte). Es wurde nichts geändert" in refused
    assert fresh(catalogue["tasse"]).active


def test_bulk_on_a_thousand_products_in_one_go(admin, make_category, database):
    category = make_category("Massenware")
    Product.insert_many([
        dict(sku=f"M-{n:04d}", slug=f"m-{n}", name=f"Ware {n}", category=category, price_cents=1000,
             stock=0) for n in range(1000)
    ]).execute()
    confirmation = bulk(admin, scope="all", category=str(category.id), action="set_stock", value="7")
    assert "Diese Änderung betrifft 1000 Produkte" in confirmation.text
    assert apply(admin, confirmation).status_code == 303
    assert Product.select().where(Product.stock == 7).count() == 1000
    assert stock.mismatches() == []
    confirmation = bulk(admin, scope="all", category=str(category.id), action="price_amount", value="-0,01")
    apply(admin, confirmation)
    assert Product.select().where(Product.price_cents == 999).count() == 1000
    assert AuditEntry.select().where(AuditEntry.action == "bulk_price_amount").count() == 1000


def test_a_price_edited_in_the_back_office_shows_in_the_shop(admin, catalogue, client):
    tasse = catalogue["tasse"]
    assert "8,99\xa0€" in client.get("/products").text  # the listing is cached now
    form = edit_form(admin, tasse)
    admin.client.post(f"/admin/products/{tasse.id}/row", headers=HTMX, data={**form, "price": "7,49"})
    assert "7,49\xa0€" in client.get("/products").text
    assert "7,49\xa0€" in client.get(f"/products/{tasse.slug}").text
    assert "7,49\xa0€" in client.get("/products?q=tasse").text


def test_an_active_product_is_not_given_away_for_nothing(admin, catalogue):
    tasse = catalogue["tasse"]
    form = edit_form(admin, tasse)
    refused = admin.client.post(f"/admin/products/{tasse.id}/row", headers=HTMX, data={**form, "price": "0"})
    assert "Ein aktives Produkt braucht einen Preis über 0 €." in refused.text
    assert fresh(tasse).price_cents == 899
    form = {key: value for key, value in edit_form(admin, tasse).items() if key != "active"}
    saved = admin.client.post(f"/admin/products/{tasse.id}/row", headers=HTMX, data={**form, "price": "0,00"})
    assert saved.status_code == 200 and (fresh(tasse).price_cents, fresh(tasse).active) == (0, False)
