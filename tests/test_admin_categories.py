"""Categories in the back office: the two-level tree, the edit row, moving, reordering,
hiding, creating and deleting, each change audited and bad input refused."""
from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from shop import cli
from shop.audit.models import AuditEntry
from shop.catalog.models import Category
from shop.db import db
from tests.conftest import Shopper

ADMIN_EMAIL = "chefin@example.org"
ADMIN_PASSWORD = "ein sehr sicheres passwort"
HTMX = {"HX-Request": "true"}


class Admin(Shopper):
    """A signed-in admin in the back office."""

    def csrf(self, url: str = "/admin/categories") -> str:
        return super().csrf(url)


@pytest.fixture
def admin(app, settings, monkeypatch, database) -> Admin:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("ADMIN_PASSWORD", ADMIN_PASSWORD)
    connected = db.obj
    assert cli.main(["create-admin", ADMIN_EMAIL]) == 0
    db.initialize(connected)  # the command connected its own
    admin = Admin(TestClient(app, follow_redirects=False))
    signed_in = admin.client.post("/account/login", data={
        "csrf_token": Shopper.csrf(admin, "/account/login"), "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert signed_in.status_code == 303
    return admin


@pytest.fixture
def shop_tree(make_category, make_product):
    """Küche (Töpfe, Messer), Garten (empty), Bad; products in Töpfe (2) and Bad (1)."""
    kueche = make_category("Küche", slug="kueche")
    garten = make_category("Garten", slug="garten")
    bad = make_category("Bad", slug="bad")
    toepfe = make_category("Töpfe", kueche, slug="toepfe")
    messer = make_category("Messer", kueche, slug="messer")
    make_product("Topf", category=toepfe)
    make_product("Pfanne", category=toepfe)
    make_product("Seife", category=bad)
    return {c.slug: c for c in (kueche, garten, bad, toepfe, messer)}


def names(html: str) -> list[str]:
    """The category names in the table, top to bottom (subcategories marked with └)."""
    found = re.findall(r'<th scope="row" class="category-name">(<span class="tree-mark" aria-hidden="true">└</span> )?'
                       r'([^<\n]+)', html)
    return [("└ " if mark else "") + name.strip() for mark, name in found]


def row(html: str, category) -> str:
    return re.search(rf'<tr id="category-{category.id}".*?</tr>', html, re.S).group(0)


def get(category) -> Category:
    return Category.get_by_id(category.id)


def test_the_tree_as_a_table_with_product_counts(admin, shop_tree):
    page = admin.client.get("/admin/categories")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    assert names(page.text) == ["Küche", "└ Töpfe", "└ Messer", "Garten", "Bad"]
    assert re.search(r'data-label="Produkte">2<', row(page.text, shop_tree["toepfe"]))
    assert re.search(r'data-label="Produkte">0<', row(page.text, shop_tree["garten"]))
    assert re.search(r'<a href="/admin/categories" aria-current="page">Kategorien</a>', page.text)


def test_only_admins_see_categories(client, shop_tree):
    assert client.get("/admin/categories").status_code == 303
    kueche = shop_tree["kueche"]
    assert client.post(f"/admin/categories/{kueche.id}", data={"name": "X"}).status_code in (303, 403)
    assert get(kueche).name == "Küche"


# -- the edit row ---------------------------------------------------------------------------

def test_rename_in_the_edit_row_with_htmx(admin, shop_tree):
    messer = shop_tree["messer"]
    editing = admin.client.get(f"/admin/categories/{messer.id}/row?edit=1", headers=HTMX)
    assert editing.status_code == 200 and editing.text.lstrip().startswith(f'<tr id="category-{messer.id}" class="editing')
    assert 'name="name" value="Messer"' in editing.text and "Speichern" in editing.text
    assert re.search(rf'<option value="{shop_tree["kueche"].id}" selected>Küche</option>', editing.text)
    saved = admin.post(f"/admin/categories/{messer.id}", {"name": "  Messer & Scheren ", "parent": shop_tree["kueche"].id},
                       headers=HTMX)
    assert saved.status_code == 200 and saved.text.lstrip().startswith(f'<tr id="category-{messer.id}"')
    assert "Messer &amp; Scheren" in saved.text and "editing" not in saved.text
    assert get(messer).name == "Messer & Scheren"
    entry = AuditEntry.get()
    assert (entry.action, entry.object_id, entry.actor) == ("update", str(messer.id), ADMIN_EMAIL)
    assert entry.changes == {"name": ["Messer", "Messer & Scheren"]}
    cancelled = admin.client.get(f"/admin/categories/{messer.id}/row", headers=HTMX)
    assert cancelled.status_code == 200 and "Bearbeiten" in cancelled.text and "editing" not in cancelled.text


def test_the_edit_row_cancels_on_escape_and_gives_the_focus_back_to_its_edit_link(admin, shop_tree):
    messer = shop_tree["messer"]
    editing = admin.client.get(f"/admin/categories/{messer.id}/row?edit=1", headers=HTMX).text
    # admin.js clicks the edit row's [data-cancel] link on Escape (no inline script: the CSP forbids it)
    assert re.search(r'<a class="button small secondary" href="[^"]+" data-cancel hx-get=', editing)
    edit_link = f'id="category-{messer.id}-edit" href="/admin/categories?edit={messer.id}#category-{messer.id}" autofocus'
    cancelled = admin.client.get(f"/admin/categories/{messer.id}/row", headers=HTMX).text
    saved = admin.post(f"/admin/categories/{messer.id}", {"name": "Messer", "parent": shop_tree["kueche"].id},
                       headers=HTMX).text
    moved = admin.post(f"/admin/categories/{messer.id}", {"name": "Messer", "parent": ""}, headers=HTMX).text
    for answer in (cancelled, saved, moved):  # htmx focuses [autofocus] in what it swaps in
        assert edit_link in answer and answer.count("autofocus") == 1
    assert "autofocus" not in admin.client.get("/admin/categories").text


def test_rename_without_javascript(admin, shop_tree):
    garten = shop_tree["garten"]
    page = admin.client.get(f"/admin/categories?edit={garten.id}")
    assert page.status_code == 200 and 'class="editing' in row(page.text, garten)
    assert f'form="category-edit-{garten.id}"' in page.text
    assert admin.client.get(f"/admin/categories/{garten.id}/row?edit=1").headers["location"] == \
        f"/admin/categories?edit={garten.id}"
    saved = admin.post(f"/admin/categories/{garten.id}", {"name": "Garten & Balkon", "parent": ""})
    assert saved.status_code == 303 and saved.headers["location"] == f"/admin/categories#category-{garten.id}"
    assert "Die Kategorie „Garten &amp; Balkon“ ist gespeichert." in admin.client.get("/admin/categories").text


@pytest.mark.parametrize("name,message", [
    ("", "Bitte geben Sie einen Namen ein."),
    ("   ", "Bitte geben Sie einen Namen ein."),
    ("Garten\nBalkon", "Bitte verwenden Sie nur Buchstaben"),
    ("Gar\x85ten", "Bitte verwenden Sie nur Buchstaben"),
    ("Gar\u2028ten", "Bitte verwenden Sie nur Buchstaben"),
    ("x" * 121, "Höchstens 120 Zeichen, bitte."),
])
def test_a_bad_name_is_refused(admin, shop_tree, name, message):
    garten = shop_tree["garten"]
    for headers in (HTMX, None):
        response = admin.post(f"/admin/categories/{garten.id}", {"name": name, "parent": ""}, headers=headers)
        assert response.status_code == 422 and message in response.text
        assert 'class="editing' in row(response.text, garten)
    assert get(garten).name == "Garten" and AuditEntry.select().count() == 0


def test_unknown_categories_are_a_404(admin, shop_tree):
    for url in ("/admin/categories/999", "/admin/categories/999/position", "/admin/categories/999/active",
                "/admin/categories/999/delete"):
        data = {"name": "X", "parent": "", "direction": "up", "active": "0", "confirm": "yes"}
        assert admin.post(url, data).status_code == 404, url
    assert admin.client.get("/admin/categories/999/row?edit=1", headers=HTMX).status_code == 404
    assert admin.client.get("/admin/categories/999/delete").status_code == 404
    assert admin.client.get("/admin/categories?edit=999").status_code == 200


# -- moving -----------------------------------------------------------------------------------

def test_move_a_category_under_another_top_level_and_back(admin, shop_tree):
    messer, garten = shop_tree["messer"], shop_tree["garten"]
    moved = admin.post(f"/admin/categories/{messer.id}", {"name": "Messer", "parent": garten.id}, headers=HTMX)
    assert moved.status_code == 200
    assert moved.headers["hx-retarget"] == "#admin-category-table" and moved.headers["hx-reswap"] == "outerHTML"
    assert names(moved.text) == ["Küche", "└ Töpfe", "Garten", "└ Messer", "Bad"]
    assert get(messer).parent_id == garten.id
    entry = AuditEntry.get()
    assert entry.action == "update" and entry.changes["parent"] == [shop_tree["kueche"].id, garten.id]
    admin.post(f"/admin/categories/{messer.id}", {"name": "Messer", "parent": ""})
    assert get(messer).parent_id is None
    assert names(admin.client.get("/admin/categories").text)[-1] == "Messer"


@pytest.mark.parametrize("parent,message", [
    ("toepfe", "„Töpfe“ ist selbst eine Unterkategorie"),  # a parent that is itself a child
    ("garten", "„Garten“ hat 0"),  # never: Garten has no children; replaced below
    ("self", "kann nicht ihre eigene Oberkategorie sein"),
    ("999", "Die gewählte Oberkategorie gibt es nicht (mehr)."),
    ("abc", "Die gewählte Oberkategorie gibt es nicht (mehr)."),
    ("-1", "Die gewählte Oberkategorie gibt es nicht (mehr)."),
])
def test_moves_that_would_break_the_two_levels_are_refused(admin, shop_tree, parent, message):
    kueche, garten = shop_tree["kueche"], shop_tree["garten"]
    category = garten
    if parent == "garten":  # a category with children cannot go under another
        category, parent, message = kueche, str(garten.id), "„Küche“ hat 2 Unterkategorien und bleibt daher oben"
    elif parent == "self":
        parent = str(garten.id)
    elif parent in shop_tree:
        parent = str(shop_tree[parent].id)
    for headers in (HTMX, None):
        response = admin.post(f"/admin/categories/{category.id}", {"name": category.name, "parent": parent},
                              headers=headers)
        assert response.status_code == 422 and message in response.text, response.text
    assert get(category).parent_id is None and AuditEntry.select().count() == 0


# -- reordering ------------------------------------------------------------------------------

def test_up_and_down_swap_a_category_with_its_neighbour(admin, shop_tree):
    bad, toepfe = shop_tree["bad"], shop_tree["toepfe"]
    up = admin.post(f"/admin/categories/{bad.id}/position", {"direction": "up"}, headers=HTMX)
    assert up.status_code == 200 and up.text.lstrip().startswith('<div id="admin-category-table"')
    assert names(up.text) == ["Küche", "└ Töpfe", "└ Messer", "Bad", "Garten"]
    assert admin.post(f"/admin/categories/{toepfe.id}/position", {"direction": "down"}).status_code == 303
    page = admin.client.get("/admin/categories").text
    assert names(page) == ["Küche", "└ Messer", "└ Töpfe", "Bad", "Garten"]
    assert re.search(rf'id="category-{toepfe.id}-down" disabled', page)  # last among its siblings
    # the first stays first
    admin.post(f"/admin/categories/{shop_tree['kueche'].id}/position", {"direction": "up"})
    assert names(admin.client.get("/admin/categories").text)[0] == "Küche"
    assert {e.action for e in AuditEntry.select()} == {"reorder"}
    assert admin.post(f"/admin/categories/{bad.id}/position", {"direction": "sideways"}).status_code == 400


def test_the_arrow_used_and_hide_keep_the_focus(admin, shop_tree):
    bad, kueche = shop_tree["bad"], shop_tree["kueche"]
    down = admin.post(f"/admin/categories/{kueche.id}/position", {"direction": "down"}, headers=HTMX).text
    assert re.search(rf'id="category-{kueche.id}-down"[^>]* autofocus', down) and down.count("autofocus") == 1
    up = admin.post(f"/admin/categories/{kueche.id}/position", {"direction": "up"}, headers=HTMX).text
    # at the top its up arrow is disabled: the down arrow takes the focus
    assert re.search(rf'id="category-{kueche.id}-down"[^>]* autofocus', up) and up.count("autofocus") == 1
    hidden = admin.post(f"/admin/categories/{bad.id}/active", {"active": "0"}, headers=HTMX).text
    assert re.search(rf'id="category-{bad.id}-active" autofocus>Anzeigen', hidden)


def test_siblings_sharing_a_position_still_swap(admin):
    a, b, c = (Category.create(name=name, slug=name.lower(), position=0) for name in ("Anton", "Berta", "Zeta"))
    admin.post(f"/admin/categories/{c.id}/position", {"direction": "up"})
    assert names(admin.client.get("/admin/categories").text) == ["Anton", "Zeta", "Berta"]


# -- hiding ------------------------------------------------------------------------------------

def test_hiding_a_category_takes_it_out_of_the_shop_and_showing_brings_it_back(admin, client, shop_tree):
    kueche, toepfe = shop_tree["kueche"], shop_tree["toepfe"]
    assert "Küche" in client.get("/").text
    hidden = admin.post(f"/admin/categories/{kueche.id}/active", {"active": "0"}, headers=HTMX)
    assert hidden.status_code == 200 and "„Küche“ ist jetzt im Shop ausgeblendet" in hidden.text
    assert "Mit Oberkategorie ausgeblendet" in row(hidden.text, toepfe)
    assert get(kueche).active is False
    assert client.get("/products?category=kueche").status_code == 404
    assert "Topf" not in client.get("/products").text
    entry = AuditEntry.get()
    assert (entry.action, entry.changes) == ("deactivate", {"active": [True, False]})
    assert admin.post(f"/admin/categories/{kueche.id}/active", {"active": "1"}).status_code == 303
    assert get(kueche).active is True and client.get("/products?category=kueche").status_code == 200
    assert admin.post(f"/admin/categories/{kueche.id}/active", {"active": "vielleicht"}).status_code == 400


# -- creating ----------------------------------------------------------------------------------

def test_create_a_category_with_a_slug_proposed_from_its_name(admin, client, shop_tree):
    proposal = admin.client.get("/admin/categories/slug?name=Grill+%26+Brät", headers=HTMX)
    assert 'placeholder="grill-braet"' in proposal.text
    assert re.search(r'<p class="hint" id="category-new-slug-hint">Leer lassen für „grill-braet“</p>', proposal.text)
    created = admin.post("/admin/categories", {"name": "Grill & Brät", "slug": "", "parent": shop_tree["garten"].id},
                         headers=HTMX)
    assert created.status_code == 200 and "Die Kategorie „Grill &amp; Brät“ ist angelegt." in created.text
    assert 'id="admin-category-table" hx-swap-oob="true"' in created.text
    category = Category.get(Category.slug == "grill-braet")
    assert category.parent_id == shop_tree["garten"].id and category.name == "Grill & Brät"
    assert "└ Grill &amp; Brät" in names(created.text)
    entry = AuditEntry.get()
    assert entry.action == "create" and entry.changes["slug"] == [None, "grill-braet"]
    plain = admin.post("/admin/categories", {"name": "Werkzeug", "slug": "werkzeug-1", "parent": ""})
    assert plain.status_code == 303
    assert names(admin.client.get("/admin/categories").text)[-1] == "Werkzeug"
    assert client.get("/products?category=werkzeug-1").status_code == 200


@pytest.mark.parametrize("values,message", [
    ({"name": ""}, "Bitte geben Sie einen Namen ein."),
    ({"name": "Bad\tWanne"}, "Bitte verwenden Sie nur Buchstaben"),
    ({"name": "Küche"}, "Die Webadresse „kueche“ wird schon von der Kategorie „Küche“ verwendet."),
    ({"name": "Neu", "slug": "bad"}, "Die Webadresse „bad“ wird schon von der Kategorie „Bad“ verwendet."),
    ({"name": "Neu", "slug": "neu kategorie"}, "Nur Kleinbuchstaben a–z"),
    ({"name": "Neu", "slug": "-neu"}, "Nur Kleinbuchstaben a–z"),
    ({"name": "Neu", "slug": "küche"}, "Nur Kleinbuchstaben a–z"),
    ({"name": "!!!"}, "Bitte geben Sie eine Webadresse ein"),
    ({"name": "Neu", "parent": "toepfe"}, "„Töpfe“ ist selbst eine Unterkategorie"),
    ({"name": "Neu", "parent": "4711"}, "Die gewählte Oberkategorie gibt es nicht (mehr)."),
])
def test_bad_new_categories_are_refused(admin, shop_tree, values, message):
    data = {"slug": "", "parent": "", **values}
    if data["parent"] in shop_tree:
        data["parent"] = shop_tree[data["parent"]].id
    for headers in (HTMX, None):
        response = admin.post("/admin/categories", data, headers=headers)
        assert response.status_code == 422 and message in response.text, response.text
        assert f'value="{data["name"]}"' in response.text or not data["name"].isprintable()
    assert Category.select().count() == 5 and AuditEntry.select().count() == 0


# -- deleting ----------------------------------------------------------------------------------

def test_delete_an_empty_category(admin, shop_tree):
    garten, messer = shop_tree["garten"], shop_tree["messer"]
    table = admin.client.get("/admin/categories").text
    assert re.search(r'hx-confirm="Die Kategorie „Garten“ löschen\?" hx-vals=\'\{"confirm": "yes"\}\'', table)
    deleted = admin.post(f"/admin/categories/{garten.id}/delete", {"confirm": "yes"}, headers=HTMX)
    assert deleted.status_code == 200 and "Die Kategorie „Garten“ ist gelöscht." in deleted.text
    assert "Garten" not in names(deleted.text)
    assert admin.post(f"/admin/categories/{messer.id}/delete", {"confirm": "yes"}).status_code == 303
    assert Category.get_or_none(Category.id == garten.id) is None
    assert Category.get_or_none(Category.id == messer.id) is None
    assert [(e.action, e.object_label) for e in AuditEntry.select().order_by(AuditEntry.id)] == [
        ("delete", "Garten"), ("delete", "Messer")]


@pytest.mark.parametrize("slug,message", [
    ("toepfe", "„Töpfe“ enthält noch 2 Produkte und kann nicht gelöscht werden."),
    ("bad", "„Bad“ enthält noch 1 Produkt und kann nicht gelöscht werden."),
    ("kueche", "„Küche“ hat noch 2 Unterkategorien und kann nicht gelöscht werden."),
])
def test_a_category_with_products_or_subcategories_is_not_deleted(admin, shop_tree, slug, message):
    category = shop_tree[slug]
    for headers in (HTMX, None):
        response = admin.post(f"/admin/categories/{category.id}/delete", {"confirm": "yes"}, headers=headers)
        assert response.status_code == 409 and message in response.text, response.text
    assert Category.select().count() == 5 and AuditEntry.select().count() == 0


def test_without_javascript_a_delete_asks_first_on_a_page_of_its_own(admin, shop_tree):
    garten = shop_tree["garten"]
    for confirm in ({}, {"confirm": ""}, {"confirm": "ja"}):  # the row's button, or anything but the answer
        asked = admin.post(f"/admin/categories/{garten.id}/delete", confirm)
        assert asked.status_code == 303 and asked.headers["location"] == f"/admin/categories/{garten.id}/delete"
    assert get(garten).name == "Garten" and AuditEntry.select().count() == 0
    page = admin.client.get(f"/admin/categories/{garten.id}/delete")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    assert "<h2 id=\"confirm-delete-question\">Die Kategorie „Garten“ wirklich löschen?</h2>" in page.text
    form = re.search(r'<form class="confirm-actions" method="post" action="([^"]+)">(.*?)</form>', page.text, re.S)
    assert form.group(1) == f"/admin/categories/{garten.id}/delete"
    assert '<input type="hidden" name="confirm" value="yes">' in form.group(2)
    assert f'href="/admin/categories#category-{garten.id}">Abbrechen</a>' in form.group(2)
    assert "<table" not in page.text  # the question alone
    deleted = admin.post(f"/admin/categories/{garten.id}/delete", {"confirm": "yes"})
    assert deleted.status_code == 303 and Category.get_or_none(Category.id == garten.id) is None
    assert "Die Kategorie „Garten“ ist gelöscht." in admin.client.get(deleted.headers["location"]).text
