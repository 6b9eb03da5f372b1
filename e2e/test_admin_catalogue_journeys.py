"""An admin keeps the catalogue, with JavaScript and without: a picture uploaded on a
product's page shows in the shop; a CSV file exported, changed and imported again
(a small one at once, a large one by the worker while the page shows its progress);
a category created and hidden leaves the shop's navigation."""
from __future__ import annotations

import csv
import io
import re
import subprocess
import sys

import pytest
from PIL import Image
from playwright.sync_api import expect

from e2e.conftest import client_address, run_worker
from e2e.test_admin_journeys import PASSWORD, sign_in

VARIANT = {True: "JS", False: "ohne JS"}


@pytest.fixture(scope="module")
def admin_email(shop_env, base_url) -> str:
    email = "sortiment@example.org"
    subprocess.run([sys.executable, "-m", "shop", "create-admin", email],
                   env=dict(shop_env, ADMIN_PASSWORD=PASSWORD), check=True, capture_output=True)
    return email


@pytest.fixture(scope="module")
def admin_session(browser, base_url, admin_email) -> list[dict]:
    """The admin signs in once (as in test_admin_journeys); each journey opens its own
    window on that session, as in another tab."""
    context = browser.new_context(base_url=base_url, locale="de-DE",
                                  extra_http_headers={"X-Forwarded-For": client_address()})
    sign_in(context.new_page(), admin_email)
    cookies = context.cookies()
    context.close()
    return cookies


@pytest.fixture
def signed_in(page, admin_session) -> None:
    """The journey's page is signed in as the admin."""
    page.context.add_cookies(admin_session)


def open_product(page, sku: str) -> str:
    """The product's back-office page, found by its SKU in the products table; its name."""
    page.goto(f"/admin/products?q={sku}")
    link = page.locator("tbody tr", has_text=sku).get_by_role("rowheader").get_by_role("link")
    name = link.inner_text()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    return name


# -- pictures ---------------------------------------------------------------------------

def test_an_uploaded_picture_shows_on_the_product_page(page, javascript, signed_in, tmp_path):
    sku, colour = ("KH-1006", (180, 40, 40)) if javascript else ("KH-1007", (40, 90, 160))
    picture = tmp_path / ("kochmesser.jpg" if javascript else "brotmesser.png")
    Image.new("RGB", (800, 600), colour).save(picture)  # a real picture, wider than 640 px
    alt = f"Messer auf einem Holzbrett, von oben ({VARIANT[javascript]})"

    open_product(page, sku)
    product_url = page.url
    pictures = page.get_by_role("region", name="Bilder")
    upload = pictures.get_by_role("group", name="Bild hinzufügen")
    upload.get_by_label("Bilddatei").set_input_files(picture)
    upload.get_by_label("Alternativtext").fill(alt)
    upload.get_by_role("button", name="Bild hochladen").click()

    pictures = page.get_by_role("region", name="Bilder")
    # htmx swaps the panel with its notice; without JavaScript the page comes back with it on top.
    expect(page.get_by_role("status").filter(has_text="Das Bild ist hinzugefügt.")).to_have_count(1)
    expect(pictures.get_by_text("Bild 2 von 2")).to_be_visible()
    expect(pictures.get_by_role("listitem").filter(has_text="Bild 2 von 2").get_by_label("Alternativtext")
           ).to_have_value(alt)
    assert page.url.split("#")[0] == product_url

    page.get_by_role("link", name="Im Shop ansehen").click()
    image = page.locator("main").get_by_role("img", name=alt, exact=True)
    expect(image).to_be_visible()
    expect(image).to_have_attribute("srcset", re.compile(r"-320\.webp 320w, .*-640\.webp 640w, .*-800\.webp 800w"))
    image.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    renditions = [part.split()[0] for part in image.get_attribute("srcset").split(",")]
    for url in [image.get_attribute("src"), *renditions]:
        response = page.request.get(url)
        assert response.status == 200, url
        assert response.headers["content-type"] == "image/webp", url
        cache = response.headers.get("cache-control", "")
        assert "max-age=31536000" in cache and "immutable" in cache, f"{url}: Cache-Control {cache!r}"


# -- CSV imports ------------------------------------------------------------------------

def exported_products(page) -> tuple[list[str], dict[str, dict]]:
    """The products export as the admin downloads it: its header, and its rows by SKU."""
    response = page.request.get("/admin/products/export")
    assert response.status == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text().lstrip("\ufeff")), delimiter=";"))
    return list(rows[0]), {row["sku"]: row for row in rows}


def csv_file(name: str, header: list[str], rows: list[dict]) -> dict:
    text = io.StringIO()
    writer = csv.DictWriter(text, header, delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({column: row.get(column, "") for column in header} for row in rows)
    return {"name": name, "mimeType": "text/csv", "buffer": ("\ufeff" + text.getvalue()).encode()}


def upload_csv(page, file: dict) -> None:
    page.goto("/admin/imports")
    page.get_by_label("CSV-Datei", exact=True).set_input_files(file)
    page.get_by_role("button", name="Hochladen und prüfen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Import von {file['name']}")


def import_job(page):
    return page.locator("#admin-import-job")


def test_a_small_products_file_is_checked_and_imported_at_once(page, javascript, signed_in):
    unchanged_sku, changed_sku = ("KH-1010", "KH-1011") if javascript else ("KH-1012", "KH-1013")
    new_sku, new_name, new_price = (("E2E-JS-1", "Eierschneider Edelstahl", "12,95") if javascript
                                    else ("E2E-NOJS-1", "Knoblauchpresse Edelstahl", "16,45"))
    header, products = exported_products(page)
    unchanged, changed = products[unchanged_sku], dict(products[changed_sku])
    old_price, changed["price"] = changed["price"], "23,45"
    new = {"sku": new_sku, "name": new_name, "category": "kuechenhelfer", "price": new_price, "vat_rate": "19",
           "stock": "25", "active": "1", "manufacturer": changed["manufacturer"]}
    file = csv_file(f"preise-{new_sku.lower()}.csv", header, [unchanged, changed, new])

    upload_csv(page, file)
    job_url = page.url
    job = import_job(page)
    expect(job.get_by_role("heading", level=2)).to_have_text("Was der Import ändert")
    expect(job.get_by_role("list").first.get_by_role("listitem")).to_have_text(
        ["1 neu", "1 geändert", "1 unverändert"])
    expect(job.get_by_role("region", name="Neu (1)").get_by_role("row", name=re.compile(new_sku))).to_contain_text(
        new_name)
    change = job.get_by_role("region", name="Geändert (1)").get_by_role("row", name=re.compile(changed_sku))
    expect(change).to_contain_text(re.compile(rf"Preis: {re.escape(old_price)}\xa0€\D+23,45\xa0€"))

    job.get_by_role("button", name="Jetzt importieren").click()
    job = import_job(page)
    expect(job.get_by_role("heading", level=2)).to_have_text("Importiert")
    expect(job.get_by_role("status")).to_have_text("1 neu, 1 geändert, 1 unverändert.")
    assert page.url == job_url
    page.reload()  # applied once: the page says so after a reload too
    expect(import_job(page).get_by_role("status")).to_have_text("1 neu, 1 geändert, 1 unverändert.")

    page.goto(f"/products?q={new_sku}")
    page.get_by_role("link", name=new_name).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(new_name)
    expect(page.locator("main").get_by_text(f"{new_price}\xa0€").first).to_be_visible()
    expect(page.locator(".breadcrumb")).to_contain_text("Küchenhelfer")
    page.goto(f"/products/{changed['slug']}")
    expect(page.locator("main").get_by_text("23,45\xa0€").first).to_be_visible()


def test_a_stock_list_of_skus_and_counts_updates_the_products_and_their_ledger(page, javascript, signed_in):
    sku = "KH-1016" if javascript else "KH-1017"
    _header, products = exported_products(page)
    old = products[sku]["stock"]
    name = f"bestand-{sku.lower()}.csv"

    upload_csv(page, csv_file(name, ["sku", "stock"], [{"sku": sku, "stock": "1234"}]))
    job = import_job(page)
    expect(job.get_by_role("list").first.get_by_role("listitem")).to_have_text(
        ["0 neu", "1 geändert", "0 unverändert"])
    change = job.get_by_role("region", name="Geändert (1)").get_by_role("row", name=re.compile(sku))
    expect(change).to_contain_text(re.compile(rf"Bestand: {old}\D+1\.234"))
    job.get_by_role("button", name="Jetzt importieren").click()
    expect(import_job(page).get_by_role("status")).to_have_text("0 neu, 1 geändert, 0 unverändert.")

    open_product(page, sku)
    ledger = page.locator("#admin-stock-movements")
    expect(ledger.locator("dd").first).to_contain_text("1.234")
    movement = ledger.locator("tbody tr", has_text=f"CSV-Import aus {name}")
    expect(movement).to_contain_text("Inventur")
    expect(movement).to_contain_text("sortiment@example.org")


def test_a_large_products_file_is_imported_by_the_worker_with_its_progress(
        page, javascript, signed_in, shop_env, base_url, inbox):
    rows = int(shop_env.get("IMPORT_BACKGROUND_ROWS", 2000)) + 100  # one more than the request takes
    total = f"{rows:,}".replace(",", ".")
    prefix = "E2E-BULK-JS" if javascript else "E2E-BULK-NOJS"
    file = csv_file(f"{prefix.lower()}.csv", ["sku", "name", "category", "price", "vat_rate", "stock", "active"], [
        {"sku": f"{prefix}-{n:05d}", "name": f"Lagerposten {VARIANT[javascript]} Nr. {n}", "category": "tierbedarf",
         "price": f"{n % 90 + 1},99", "vat_rate": "19", "stock": "100", "active": "0"}  # inactive: not in the shop
        for n in range(1, rows + 1)])
    upload_csv(page, file)
    job_url = page.url
    expect(page.locator("main")).to_contain_text(f"Produkte · {total} Zeilen")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)

    def shows_progress(heading: str) -> None:
        job = import_job(page)
        expect(job.get_by_role("heading", level=2)).to_have_text(heading)
        progress = job.get_by_role("progressbar", name=heading)
        expect(progress).to_have_attribute("max", str(rows))
        expect(progress).to_have_attribute("value", "0")
        expect(job.get_by_text("Warten, bis der Worker beginnt …")).to_be_visible()
        refresh = job.get_by_role("link", name="Aktualisieren")
        expect(refresh).to_have_attribute("href", job_url.removeprefix(base_url))
        if javascript:  # the page asks for its progress by itself, every second
            with page.expect_request(lambda r: r.url == job_url and r.headers.get("hx-request") == "true"):
                pass

    def worker_round() -> None:
        """The worker runs one round; without JavaScript, the admin then follows the link."""
        run_worker(shop_env, inbox)
        if not javascript:
            import_job(page).get_by_role("link", name="Aktualisieren").click()

    shows_progress("Die Datei wird geprüft …")
    worker_round()
    job = import_job(page)
    expect(job.get_by_role("heading", level=2)).to_have_text("Was der Import ändert")
    expect(job.get_by_role("list").first.get_by_role("listitem")).to_have_text(
        [f"{total} neu", "0 geändert", "0 unverändert"])
    expect(job.get_by_text("Die ersten 20 Zeilen:")).to_be_visible()

    job.get_by_role("button", name="Jetzt importieren").click()
    shows_progress("Import läuft …")
    worker_round()
    job = import_job(page)
    expect(job.get_by_role("heading", level=2)).to_have_text("Importiert")
    expect(job.get_by_role("status")).to_have_text(f"{total} neu, 0 geändert, 0 unverändert.")
    expect(job.get_by_role("progressbar")).to_have_count(0)
    expect(job).not_to_have_attribute("hx-trigger", re.compile("every"))  # done: no more asking
    assert page.url == job_url
    if javascript:
        assert navigations == [], f"the page was left or reloaded: {navigations}"

    last = f"{prefix}-{rows:05d}"
    page.goto(f"/admin/products?q={last}")
    expect(page.locator("tbody tr", has_text=last)).to_contain_text("inaktiv")
    page.goto("/admin/imports")
    expect(page.get_by_role("row", name=re.compile(re.escape(file["name"])))).to_contain_text("Importiert")


# -- categories -------------------------------------------------------------------------

def test_a_hidden_category_leaves_the_shop_navigation(page, javascript, signed_in):
    name = f"Saisonware {VARIANT[javascript]}"
    page.goto("/admin/categories")
    form = page.get_by_role("region", name="Neue Kategorie")
    form.get_by_label("Name").fill(name)
    form.get_by_role("button", name="Kategorie anlegen").click()
    expect(page.get_by_role("status").filter(has_text=f"Die Kategorie „{name}“ ist angelegt.")).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=name, exact=True))
    expect(row).to_contain_text("Sichtbar")
    slug = row.locator("code").inner_text()

    page.goto("/")
    navigation = page.get_by_role("navigation", name="Hauptkategorien")
    expect(navigation.get_by_role("link", name=name, exact=True)).to_be_visible()

    page.goto("/admin/categories")
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=name, exact=True))
    row.get_by_role("button", name=re.compile(r"^Ausblenden")).click()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=name, exact=True))
    expect(row).to_contain_text("Ausgeblendet")
    expect(row.get_by_role("button", name=re.compile(r"^Anzeigen"))).to_be_visible()
    if not javascript:
        hidden = page.get_by_role("status").filter(has_text=f"„{name}“ ist jetzt im Shop ausgeblendet")
        expect(hidden).to_be_visible()

    page.goto("/")
    navigation = page.get_by_role("navigation", name="Hauptkategorien")
    expect(navigation.get_by_role("link", name="Garten", exact=True)).to_be_visible()
    expect(navigation.get_by_role("link", name=name, exact=True)).to_have_count(0)
    response = page.goto(f"/products?category={slug}")
    assert response.status == 404


# -- for the back office's page checks (test_phone_layout, test_accessibility) ---------------

PREVIEW_HEADER = ["sku", "name", "description", "category", "price", "vat_rate", "stock", "active", "manufacturer"]


def import_preview(page, key: str) -> str:
    """An import ready to apply, for the pages' checks, with a row of each kind: a first
    file makes two inactive products `key`-1 and `key`-3; a second changes the first
    (long texts, as real ones are), adds `key`-2 and leaves `key`-3. Returns its path;
    `apply_import` then imports it, so no file waits in the import folder."""
    product = {"category": "tierbedarf", "vat_rate": "19", "stock": "10", "active": "0",
               "manufacturer": "Tierfreund GmbH, Hauptstraße 1, 10115 Berlin, Deutschland, info@tierfreund.example"}
    first, second, third = (dict(product, sku=f"{key}-{n}", name=f"Kratzbaum {key} Nr. {n}", price=f"{n}9,90",
                                 description="Ein Kratzbaum.") for n in (1, 2, 3))
    upload_csv(page, csv_file(f"{key.lower()}-anlage.csv", PREVIEW_HEADER, [first, third]))
    import_job(page).get_by_role("button", name="Jetzt importieren").click()
    expect(import_job(page).get_by_role("heading", level=2)).to_have_text("Importiert")
    changed = dict(first, name=f"Kratzbaum „Himmelsleiter“ mit drei Liegemulden, Sisalstämmen ({key})",
                   price="149,90", description="Der Kratzbaum reicht bis unter die Zimmerdecke: "
                   "drei Liegemulden mit waschbaren Plüschkissen, fünf Stämme mit Sisalseil, eine Höhle "
                   "und eine Spielmaus am Gummiband. https://www.tierfreund.example/kratzbaeume/himmelsleiter-xxl")
    upload_csv(page, csv_file(f"{key.lower()}-aenderungen-und-neuheiten-fruehjahr.csv", PREVIEW_HEADER,
                              [changed, second, third]))
    expect(import_job(page).get_by_role("list").first.get_by_role("listitem")).to_have_text(
        ["1 neu", "1 geändert", "1 unverändert"])
    return "/" + page.url.split("/", 3)[-1]


def catalogue_pages(page, preview: str) -> list[tuple[str, str, str]]:
    """The back office's catalogue pages, as (path, what it is, a selector of what it
    shows), with the ids its links name: the first product of the products table (whose
    row `?edit=` opens), the demo product KH-1002, the subcategory Töpfe & Pfannen; and
    the import `preview` (see import_preview)."""
    ids = {}
    for key, path, row in [("row", "/admin/products", page.locator("tbody tr").first),
                           ("product", "/admin/products?q=KH-1002", page.locator("tbody tr", has_text="KH-1002"))]:
        page.goto(path)
        ids[key] = row.get_by_role("rowheader").get_by_role("link").get_attribute("href").rsplit("/", 1)[-1]
    page.goto("/admin/categories")
    link = page.get_by_role("link", name=re.compile(r"^Bearbeiten\W+Töpfe & Pfannen$"))
    category = re.search(r"edit=(\d+)", link.get_attribute("href")).group(1)
    return [
        ("/admin/products", "products", "tbody tr"),
        (f"/admin/products?edit={ids['row']}", "product edited in the table", "tr.editing"),
        ("/admin/products/new", "new product", "#main form"),
        (f"/admin/products/{ids['product']}", "product", "#admin-images"),
        (f"/admin/products/{ids['product']}/stock", "stock ledger", "#admin-stock-movements tbody tr"),
        ("/admin/stock", "low stock", "tbody tr"),
        ("/admin/categories", "categories", "tbody tr"),
        (f"/admin/categories?edit={category}", "category edited", "tr.editing"),
        ("/admin/imports", "imports", "tbody tr"),
        (preview, "import preview", ".import-rows"),
    ]


def apply_import(page, path: str) -> None:
    page.goto(path)
    import_job(page).get_by_role("button", name="Jetzt importieren").click()
    expect(import_job(page).get_by_role("heading", level=2)).to_have_text("Importiert")
