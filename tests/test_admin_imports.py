"""CSV import and export in the back office (/admin/imports): upload, preview, apply once,
large files through the worker, the list of imports, the exports that import back."""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
import threading
from decimal import Decimal

import pytest

from shop import worker
from shop.accounts.service import create_admin
from shop.audit.models import AuditEntry
from shop.catalog import import_jobs, importer, stock
from shop.catalog.importer import PRODUCT_HEADER
from shop.catalog.models import Category, ImportJob, PriceChange, Product, ProductImage, SlugRedirect, StockMovement
from shop.db import now, with_connection
from tests.conftest import Shopper

ADMIN = "chefin@example.org"
PASSWORD = "ein sehr sicheres passwort"
BACKGROUND_ROWS = 20  # files with more rows go to the worker in these tests


@pytest.fixture
def settings(settings, tmp_path):
    return dataclasses.replace(settings, import_background_rows=BACKGROUND_ROWS)


@pytest.fixture
def admin(client, database) -> Shopper:
    """The browser, signed in as an admin."""
    with_connection(create_admin, ADMIN, PASSWORD, "Chefin")
    shopper = Shopper(client)
    assert shopper.post("/account/login", {"email": ADMIN, "password": PASSWORD}).status_code == 303
    return shopper


@pytest.fixture
def kitchen(database):
    return Category.create(slug="kueche", name="Küche")


def csv_bytes(rows: list[dict], header=PRODUCT_HEADER, sep: str = ",", bom: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, delimiter=sep, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode()


def product_row(**values) -> dict:
    row = {"sku": "T-1", "name": "Teekanne Glas 1,2 l", "category": "kueche", "price": "24.90",
           "vat_rate": "19", "stock": "12"}
    row.update(values)
    return row


def upload(admin: Shopper, content: bytes, name: str = "produkte.csv", **kwargs):
    return admin.post("/admin/imports", files={"file": (name, content, "text/csv")}, **kwargs)


def uploaded(admin: Shopper, content: bytes, name: str = "produkte.csv") -> tuple[str, str]:
    """Upload a file (a large one is checked by a round of the worker); its job's address
    and page."""
    response = upload(admin, content, name)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(r"/admin/imports/\d+", location)
    if ImportJob.get_by_id(int(location.rsplit("/", 1)[1])).state == "queued":
        worker.run_round(admin.client.app.state.settings)
    return location, admin.client.get(location).text


def apply(admin: Shopper, location: str, **kwargs):
    return admin.post(f"{location}/apply", **kwargs)


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# -- preview and apply ----------------------------------------------------------------------

def test_a_file_with_bad_rows_lists_each_error_by_line_and_imports_nothing(admin, kitchen):
    location, page = uploaded(admin, csv_bytes([
        product_row(sku="OK-1"),
        product_row(sku="B-1", slug="b-1", price="zwölf"),
        product_row(sku="B-2", slug="b-2", category="gibt-es-nicht", vat_rate="16"),
        product_row(sku="OK-1", slug="anders"),
    ]))
    text = text_of(page)
    assert "Diese Datei kann nicht importiert werden" in text
    assert "4 Probleme" in text and "Nichts wurde importiert" in text
    assert "Zeile 3: Preis muss ein Euro-Betrag wie 12,90 sein" in text
    assert "Zeile 4: unbekannte Kategorie gibt-es-nicht" in text
    assert "Zeile 4: MwSt.-Satz muss 19 oder 7 sein" in text
    assert "Zeile 5: Artikelnummer OK-1 kommt in der Datei doppelt vor" in text
    assert "Zeile 2" not in text
    assert "/apply" not in page  # no button to import it

    response = apply(admin, location)
    assert response.status_code == 303
    assert "Diese Datei kann nicht importiert werden." in admin.client.get(location).text
    assert Product.select().count() == 0
    assert ImportJob.get().state == "failed"
    assert not list((admin.client.app.state.settings.import_dir).iterdir())  # its file is gone


@pytest.mark.parametrize("sep,bom", [(";", True), (";", False), (",", True), (",", False)])
def test_semicolon_and_comma_files_with_or_without_bom_are_read_alike(admin, kitchen, sep, bom):
    price = "24,90" if sep == ";" else "24.90"
    location, page = uploaded(admin, csv_bytes([
        product_row(price=price, content_quantity="1,2" if sep == ";" else "1.2", content_unit="l"),
        product_row(sku="T-2", name="Teesieb", price="4,50" if sep == ";" else "4.50", stock="0"),
    ], sep=sep, bom=bom))
    text = text_of(page)
    assert "Was der Import ändert" in text
    assert "2 neu 0 geändert 0 unverändert" in text
    assert "Neu (2) Zeile Artikelnummer Name Werte 2 T-1 Teekanne Glas 1,2 l" in text
    response = apply(admin, location)
    assert response.status_code == 303 and response.headers["location"] == location
    summary = text_of(admin.client.get(location).text)
    assert "Importiert" in summary and "2 neu, 0 geändert, 0 unverändert." in summary
    pot = Product.get(Product.sku == "T-1")
    assert (pot.price_cents, pot.stock, pot.content_quantity, pot.content_unit) == (2490, 12, Decimal("1.2"), "l")
    assert Product.get(Product.sku == "T-2").price_cents == 450
    assert StockMovement.select().where(StockMovement.product == pot).get().change == 12
    assert [c.price_cents for c in PriceChange.select().where(PriceChange.product == pot)] == [2490]


def test_changes_are_shown_before_and_after_then_imported_with_an_audit_trail(admin, kitchen, make_product):
    pot = make_product("Teekanne", sku="T-1", slug="teekanne", category=kitchen, price_cents=2490, stock=12)
    make_product("Tasse", sku="T-2", slug="tasse", category=kitchen, price_cents=500, stock=3)
    location, page = uploaded(admin, csv_bytes([
        product_row(name="Teekanne", slug="teekanne", price="26.90", stock="10"),
        product_row(sku="T-2", name="Tasse", slug="tasse", price="5.00", stock="3"),
        product_row(sku="T-3", name="Untersetzer", price="3.50", stock="0"),
    ]))
    text = text_of(page)
    assert "1 neu 1 geändert 1 unverändert" in text
    assert "Preis: 24,90 € → wird zu 26,90 €" in text and "Bestand: 12 → wird zu 10" in text
    assert "Untersetzer" in text and "Kategorie: kueche Preis: 3,50 €" in text
    assert "price" not in text and "stock" not in text and "24.90" not in text
    assert text.count("Zeile") >= 3
    apply(admin, location)
    pot = Product.get_by_id(pot.id)
    assert (pot.price_cents, pot.stock, pot.version) == (2690, 10, 2)
    assert [c.price_cents for c in PriceChange.select().where(PriceChange.product == pot)] == [2490, 2690]
    movement = StockMovement.select().where(StockMovement.product == pot).order_by(StockMovement.id.desc()).get()
    assert (movement.change, movement.reason, movement.actor) == (-2, "stocktaking", ADMIN)
    assert stock.mismatches() == []  # every product's stock is the sum of its ledger
    entries = {(e.object_type, e.object_id): e for e in AuditEntry.select().where(AuditEntry.action == "import")}
    assert entries[("product", str(pot.id))].changes == {"price": ["24.90", "26.90"], "stock": ["12", "10"]}
    assert entries[("product", str(pot.id))].actor == ADMIN
    created = Product.get(Product.sku == "T-3")
    assert entries[("product", str(created.id))].changes["price"] == [None, "3.50"]
    assert ("product", str(Product.get(Product.sku == "T-2").id)) not in entries  # unchanged
    job = entries[("import_job", str(ImportJob.get().id))]
    assert job.object_label == "produkte.csv"
    assert job.changes == {"kind": [None, "products"], "rows": [None, 3], "create": [None, 1],
                           "update": [None, 1], "unchanged": [None, 1]}


def test_a_column_left_out_keeps_that_field_and_a_new_slug_redirects(admin, kitchen, make_product):
    pot = make_product("Teekanne", sku="T-1", slug="teekanne", category=kitchen, price_cents=2490, stock=7,
                       featured=True, ean="4006381333931", low_stock_threshold=4,
                       description="Aus Borosilikatglas.")
    header = ("sku", "slug", "name", "category", "price")
    location, page = uploaded(admin, csv_bytes(
        [{"sku": "T-1", "slug": "teekanne-glas", "name": "Teekanne", "category": "kueche", "price": "19.90"}],
        header=header))
    assert "Bestand" not in text_of(page).split("Geändert")[1]
    apply(admin, location)
    pot = Product.get_by_id(pot.id)
    assert (pot.price_cents, pot.stock, pot.featured, pot.slug) == (1990, 7, True, "teekanne-glas")
    assert (pot.ean, pot.low_stock_threshold) == ("4006381333931", 4)
    assert SlugRedirect.get(SlugRedirect.old_slug == "teekanne").product_id == pot.id
    # An empty slug keeps the product's address, though the name changes.
    location, _page = uploaded(admin, csv_bytes(
        [{"sku": "T-1", "slug": "", "name": "Glaskanne", "category": "kueche", "price": "19.90"}], header=header))
    apply(admin, location)
    assert Product.get_by_id(pot.id).slug == "teekanne-glas"
    # Found by its new name, and still by the description the file left out.
    for word in ("glaskanne", "borosilikat"):
        assert "Glaskanne" in admin.client.get(f"/products?q={word}").text


def test_applying_twice_imports_once(admin, kitchen):
    location, page = uploaded(admin, csv_bytes([product_row(sku=f"T-{n}", name=f"Becher {n}") for n in range(5)]))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"csrf_token": token}
    first = admin.client.post(f"{location}/apply", data=form)
    replayed = admin.client.post(f"{location}/apply", data=form)  # the same form sent again
    assert first.status_code == replayed.status_code == 303
    assert "Diese Datei wird nur einmal importiert" in admin.client.get(location).text
    htmx = admin.client.post(f"{location}/apply", data=form, headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and htmx.text.lstrip().startswith('<section id="admin-import-job"')
    assert "Diese Datei wird nur einmal importiert" in htmx.text
    assert Product.select().count() == 5
    assert AuditEntry.select().where(AuditEntry.object_type == "import_job").count() == 1


def test_two_tabs_applying_at_the_same_moment_import_once(admin, kitchen, settings):
    """The state changes by a conditional UPDATE: of two requests to apply, one wins."""
    location, _page = uploaded(admin, csv_bytes([product_row(sku=f"T-{n}", name=f"Becher {n}") for n in range(3)]))
    job_id = int(location.rsplit("/", 1)[1])
    barrier = threading.Barrier(2)
    answers = []

    def request():
        barrier.wait()
        answers.append(with_connection(import_jobs.request_apply, job_id,
                                       import_jobs.Actor(email=ADMIN), settings))

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers, key=bool)[0] is None and sorted(answers, key=bool)[1][0] == "importing"


# -- large files go to the worker ------------------------------------------------------------

def test_a_large_file_is_checked_and_imported_by_the_worker_with_progress(admin, kitchen, settings, monkeypatch):
    rows = [product_row(sku=f"W-{n}", name=f"Wasserglas {n}", price=f"{n}.50") for n in range(50)]
    response = upload(admin, csv_bytes(rows, sep=";"))
    location = response.headers["location"]
    page = admin.client.get(location).text
    assert "Die Datei wird geprüft" in page and "Warten, bis der Worker beginnt" in page
    assert '<progress max="50" value="0"' in page
    assert 'hx-trigger="every 1s"' in page and f'href="{location}">Aktualisieren</a>' in page
    polled = admin.client.get(location, headers={"HX-Request": "true"})
    assert polled.text.lstrip().startswith('<section id="admin-import-job"') and "<html" not in polled.text
    assert 'hx-trigger="every 1s"' in polled.text

    worker.run_round(settings)
    page = admin.client.get(location).text
    assert "50 neu" in text_of(page) and 'hx-trigger' not in page.split('id="admin-import-job"')[1]
    assert "Die ersten 20 Zeilen" in text_of(page)

    assert apply(admin, location).status_code == 303
    page = admin.client.get(location).text
    assert "Import läuft" in page and "Warten, bis der Worker beginnt" in page and 'hx-trigger="every 1s"' in page
    assert Product.select().count() == 0

    # While it runs: the page shows how far it got.
    ImportJob.update(done_rows=20).execute()
    page = admin.client.get(location).text
    assert '<progress max="50" value="20"' in page

    ImportJob.update(done_rows=0).execute()
    seen = []
    original = import_jobs.apply

    def watched(*args, after_chunk, **kwargs):
        def noted(done, result):
            seen.append(done)
            after_chunk(done, result)
        return original(*args, after_chunk=noted, **kwargs)

    monkeypatch.setattr(importer, "CHUNK_ROWS", 20)
    monkeypatch.setattr(import_jobs, "apply", watched)
    worker.run_round(settings)
    assert seen == [20, 40, 50]
    assert Product.select().count() == 50
    page = admin.client.get(location).text
    assert "50 neu, 0 geändert, 0 unverändert." in text_of(page) and "hx-trigger" not in page.split("<main")[1]


def test_an_import_that_broke_off_goes_on_where_it_stopped(admin, kitchen, settings, monkeypatch):
    rows = [product_row(sku=f"W-{n}", name=f"Wasserglas {n}") for n in range(30)]
    location, _page = uploaded(admin, csv_bytes(rows))
    apply(admin, location)
    monkeypatch.setattr(importer, "CHUNK_ROWS", 10)
    calls = []
    original = importer.index_products

    def failing_third_chunk(products):
        calls.append(len(products))
        if len(calls) == 3:
            raise OSError("disk full")
        original(products)

    monkeypatch.setattr(importer, "index_products", failing_third_chunk)
    results = worker.run_round(settings)
    assert isinstance(results["CSV imports"], OSError)
    job = ImportJob.get()
    assert (job.state, job.done_rows, Product.select().count()) == ("import_queued", 20, 20)
    monkeypatch.setattr(importer, "index_products", original)
    worker.run_round(settings)
    job = ImportJob.get()
    assert (job.state, job.done_rows, Product.select().count()) == ("done", 30, 30)
    assert job.result["counts"] == {"create": 30, "update": 0, "unchanged": 0}


def test_an_import_whose_runner_went_silent_is_taken_up_again(admin, kitchen, settings):
    location, _page = uploaded(admin, csv_bytes([product_row(sku=f"W-{n}", name=f"Glas {n}") for n in range(5)]))
    ImportJob.update(state="importing", updated_at=now() - dt.timedelta(minutes=3),
                     result={"actor": {"email": ADMIN, "user_id": None, "address": ""}}).execute()
    worker.run_round(settings)
    assert ImportJob.get().state == "importing"  # its runner may still be at work
    ImportJob.update(updated_at=now() - dt.timedelta(minutes=6)).execute()
    worker.run_round(settings)
    assert ImportJob.get().state == "done" and Product.select().count() == 5


# -- pictures, refused files ------------------------------------------------------------------

def test_pictures_name_files_in_the_media_folder_and_may_not_leave_it(admin, kitchen, settings, tmp_path):
    (settings.media_dir / "products").mkdir(parents=True)
    (settings.media_dir / "products" / "kanne.webp").write_bytes(b"RIFF")
    (settings.media_dir / "products" / "kanne-2.webp").write_bytes(b"RIFF")
    (tmp_path / "geheim.webp").write_bytes(b"RIFF")
    location, page = uploaded(admin, csv_bytes([
        product_row(image="products/kanne.webp|products/kanne-2.webp"),
        product_row(sku="T-2", name="Tasse", image="../geheim.webp"),
        product_row(sku="T-3", name="Teller", image="/etc/passwd"),
        product_row(sku="T-4", name="Schale", image="products/fehlt.webp"),
    ]))
    text = text_of(page)
    assert "Zeile 3: Bild ../geheim.webp muss im Medienordner liegen" in text
    assert "Zeile 4: Bild /etc/passwd muss im Medienordner liegen" in text
    assert "Zeile 5: Bild products/fehlt.webp nicht gefunden" in text
    assert "Zeile 2" not in text
    location, page = uploaded(admin, csv_bytes([product_row(image="products/kanne.webp|products/kanne-2.webp")]))
    apply(admin, location)
    pot = Product.get(Product.sku == "T-1")
    assert pot.image == "products/kanne.webp"
    assert [i.filename for i in ProductImage.select().where(ProductImage.product == pot)
            .order_by(ProductImage.position)] == ["products/kanne.webp", "products/kanne-2.webp"]


EXCEL_HINT = "Bitte speichern Sie sie in Excel mit „Speichern unter“ und dem Dateityp „CSV UTF-8 (durch Trennzeichen getrennt)“"


@pytest.mark.parametrize("content,message", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", EXCEL_HINT),
    ("sku;name;category;price\nT-1;Käse;kueche;4,50\n".encode("cp1252"),
     "Die Datei ist nicht als UTF-8-Text gespeichert, ihre Umlaute würden falsch gelesen. " + EXCEL_HINT),
    (b"a;b\n1;2\n", "Unbekannte Datei"),
    (b"", "Die Datei ist leer. Sie braucht eine erste Zeile mit den Spaltennamen"),
    (b"\xef\xbb\xbf\r\n\r\n", "Die Datei ist leer."),
    (",".join(PRODUCT_HEADER).encode() + b"\n",
     "Die Datei enthält nur ihre erste Zeile mit den Spaltennamen: Darunter steht keine Zeile zum Importieren."),
])
def test_a_file_that_is_no_catalogue_is_refused_and_not_kept(admin, settings, content, message):
    response = upload(admin, content, name="bild.csv")
    assert response.status_code == 422
    assert message in response.text and 'aria-invalid="true"' in response.text
    assert ImportJob.select().count() == 0
    assert not list(settings.import_dir.iterdir())


def test_a_stock_or_price_list_changes_products_in_the_shop_and_names_new_ones(admin, kitchen, make_product):
    pot = make_product("Teekanne", sku="T-1", slug="teekanne", category=kitchen, price_cents=2490, stock=12,
                       description="Aus Glas.", ean="4006381333931")
    make_product("Tasse", sku="T-2", slug="tasse", category=kitchen, price_cents=500, stock=3)
    location, page = uploaded(admin, csv_bytes([{"sku": "T-1", "stock": "1200"}, {"sku": "T-2", "stock": "3"}],
                                               header=("sku", "stock"), sep=";"), "lager.csv")
    text = text_of(page)
    assert "0 neu 1 geändert 1 unverändert" in text
    assert "Bestand: 12 → wird zu 1.200" in text and "Preis" not in text.split("Geändert")[1]
    apply(admin, location)
    pot = Product.get_by_id(pot.id)
    assert (pot.stock, pot.price_cents, pot.name, pot.description, pot.ean) == (
        1200, 2490, "Teekanne", "Aus Glas.", "4006381333931")
    movement = StockMovement.select().where(StockMovement.product == pot).order_by(StockMovement.id.desc()).get()
    assert (movement.change, movement.actor, movement.note) == (1188, ADMIN, "CSV-Import aus lager.csv")
    assert "CSV-Import aus lager.csv" in admin.client.get(f"/admin/products/{pot.id}/stock").text

    location, page = uploaded(admin, csv_bytes([{"sku": "T-1", "price": "19,90"}], header=("sku", "price"),
                                               sep=";"), "preise.csv")
    assert "Preis: 24,90 € → wird zu 19,90 €" in text_of(page)
    apply(admin, location)
    assert Product.get_by_id(pot.id).price_cents == 1990

    # A SKU not in the shop needs name, category and price: the line says which are missing.
    location, page = uploaded(admin, csv_bytes([{"sku": "T-1", "name": "Kanne", "stock": "5"},
                                                {"sku": "NEU-1", "name": "Sieb", "stock": "5"}],
                                               header=("sku", "name", "stock")))
    text = text_of(page)
    assert "1 Problem" in text and "Nichts wurde importiert" in text
    assert ("Zeile 3: Artikelnummer NEU-1 gibt es im Shop noch nicht: Für ein neues Produkt braucht die Datei "
            "die Spalten category, price") in text
    assert Product.get_by_id(pot.id).stock == 1200


def test_the_preview_names_ean_reorder_level_and_flags_in_german(admin, kitchen, make_product):
    make_product("Teekanne", sku="T-1", slug="teekanne", category=kitchen, price_cents=2490, stock=12,
                 low_stock_threshold=4, featured=True)
    header = ("sku", "ean", "low_stock_threshold", "featured", "vat_rate", "content_quantity", "content_unit")
    location, page = uploaded(admin, csv_bytes([
        {"sku": "T-1", "ean": "4006381333931", "low_stock_threshold": "", "featured": "0", "vat_rate": "7",
         "content_quantity": "1,25", "content_unit": "l"},
    ], header=header, sep=";"))
    text = text_of(page)
    assert "EAN: – → wird zu 4006381333931" in text
    assert "Meldebestand: 4 → wird zu Standard des Shops" in text
    assert "Hervorgehoben: ja → wird zu nein" in text and "MwSt.-Satz: 19 % → wird zu 7 %" in text
    assert "Inhalt: – → wird zu 1,25" in text and "Einheit: – → wird zu l" in text
    location, page = uploaded(admin, csv_bytes([product_row(sku="T-5", ean="96385074", low_stock_threshold="1000")]))
    assert "EAN: 96385074 Meldebestand: 1.000" in text_of(page)
    _location, page = uploaded(admin, csv_bytes([{"sku": "T-1", "ean": "4006381333932",
                                                  "low_stock_threshold": "viele"}], header=("sku", "ean",
                                                                                           "low_stock_threshold")))
    text = text_of(page)
    assert "Zeile 2: EAN muss 8 oder 13 Ziffern mit der richtigen Prüfziffer haben" in text
    assert "Zeile 2: Meldebestand (low_stock_threshold) muss eine ganze Zahl von 0 bis 1.000.000 sein" in text


def test_an_upload_without_a_file_is_refused(admin):
    response = admin.post("/admin/imports", files={"file": ("", b"", "text/csv")})
    assert response.status_code == 422 and "Bitte wählen Sie eine CSV-Datei." in response.text


def test_an_upload_over_the_limit_is_refused(admin, kitchen, settings):
    admin.client.app.state.settings = dataclasses.replace(settings, import_max_bytes=512 * 1024)
    content = csv_bytes([product_row(sku=f"T-{n}", name="Becher " + "x" * 100) for n in range(6000)])
    assert len(content) > 512 * 1024
    response = upload(admin, content)
    assert response.status_code == 413
    assert "Diese Datei ist zu groß: bitte höchstens 0,5 MB" in response.text
    assert ImportJob.select().count() == 0
    assert not settings.import_dir.exists() or not list(settings.import_dir.iterdir())


def test_the_import_pages_are_for_admins_only(client, database):
    for path in ("/admin/imports", "/admin/products/export", "/admin/categories/export"):
        assert client.get(path).headers["location"].startswith("/account/login")


# -- the list ---------------------------------------------------------------------------------

def test_recent_imports_are_listed_newest_first_in_pages(admin):
    for n in range(30):
        ImportJob.create(kind="products", filename=f"datei-{n:02d}.csv", path="-", state="done",
                         total_rows=n, created_by=ADMIN)
    page = admin.client.get("/admin/imports").text
    assert "30 Importe" in page and "Seite 1 von 2" in page
    assert page.index("datei-29.csv") < page.index("datei-05.csv") and "datei-04.csv" not in page
    second = admin.client.get("/admin/imports?page=2", headers={"HX-Request": "true"})
    assert second.text.lstrip().startswith('<section id="admin-import-list"')
    assert "datei-04.csv" in second.text and "datei-05.csv" not in second.text
    ImportJob.update(state="failed").where(ImportJob.filename == "datei-07.csv").execute()
    failed = admin.client.get("/admin/imports?state=failed").text
    assert "1 Import" in failed and "datei-07.csv" in failed and "Fehlerhaft" in failed


# -- export -----------------------------------------------------------------------------------

def test_exported_products_and_categories_import_back_unchanged(admin, demo, settings):
    Product.update(ean="4006381333931", low_stock_threshold=12).where(Product.sku == "KH-1001").execute()
    Product.update(ean="96385074", low_stock_threshold=0).where(Product.sku == "KH-1002").execute()
    Product.update(ean="").where(Product.sku == "KH-1003").execute()
    kitchen = Category.get(Category.slug == "kueche-haushalt")
    for sku, name, description in (
            ("F-1", '=HYPERLINK("https://example.org/gewinn";"Gratis!")', "@Angebot: +1 Becher\n-20 % bis Sonntag"),
            ("F-2", "-20 % Rabatt", "'=nur ein Zitat"),
    ):
        Product.create(sku=sku, slug=sku.lower(), name=name, description=description, category=kitchen,
                       price_cents=990, stock=3)
    Category.create(slug="aktion", name="+ Aktion", description="=1+1", position=99)
    count = Product.select().count()
    response = admin.client.get("/admin/products/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="products-\d{4}-\d{2}-\d{2}\.csv"',
                        response.headers["content-disposition"])
    assert response.content.startswith(b"\xef\xbb\xbf" + ";".join(PRODUCT_HEADER).encode() + b"\r\n")
    assert ";49,90;19;" in response.text and "products/KH-1001.svg" in response.text
    assert response.text.count("\r\n") >= count + 1
    rows = {row[0]: dict(zip(PRODUCT_HEADER, row)) for row in
            csv.reader(io.StringIO(response.text.removeprefix("\ufeff")), delimiter=";")}
    assert (rows["KH-1001"]["ean"], rows["KH-1001"]["low_stock_threshold"]) == ("4006381333931", "12")
    assert (rows["KH-1002"]["ean"], rows["KH-1002"]["low_stock_threshold"]) == ("96385074", "0")
    assert (rows["KH-1003"]["ean"], rows["KH-1003"]["low_stock_threshold"]) == ("", "")
    # A cell a spreadsheet would run as a formula comes after an apostrophe; prices do not.
    assert rows["F-1"]["name"] == """'=HYPERLINK("https://example.org/gewinn";"Gratis!")"""
    assert rows["F-1"]["description"] == "'@Angebot: +1 Becher\n-20 % bis Sonntag"
    assert (rows["F-2"]["name"], rows["F-2"]["description"]) == ("'-20 % Rabatt", "''=nur ein Zitat")
    assert rows["F-2"]["price"] == "9,90"

    location, page = uploaded(admin, response.content, "export.csv")
    text = text_of(page)
    assert f"0 neu 0 geändert {count} unverändert" in text
    assert "Nichts in dieser Datei weicht vom Katalog ab." in text

    commas = admin.client.get("/admin/products/export?sep=,")
    assert commas.text.startswith("\ufeff" + ",".join(PRODUCT_HEADER)) and ",49.90,19," in commas.text
    _location, page = uploaded(admin, commas.content, "export.csv")
    assert f"0 neu 0 geändert {count} unverändert" in text_of(page)

    categories = admin.client.get("/admin/categories/export")
    assert 'filename="categories-' in categories.headers["content-disposition"]
    assert categories.text.startswith("\ufeffslug;name;parent;position;description;active\r\n")
    assert "aktion;'+ Aktion;;99;'=1+1;1\r\n" in categories.text
    _location, page = uploaded(admin, categories.content, "kategorien.csv")
    assert f"0 neu 0 geändert {Category.select().count()} unverändert" in text_of(page)


def test_an_uploaded_cell_loses_the_apostrophe_the_export_put_before_a_formula(admin, kitchen):
    location, page = uploaded(admin, csv_bytes([
        product_row(sku="F-1", name="'=HYPERLINK(\"https://example.org\";\"Gratis\")", description="'@Angebot"),
        product_row(sku="F-2", name="'-20 % Rabatt", description="'Zitat"),
    ], sep=";"))
    text = text_of(page)
    assert "2 neu" in text and "-20 % Rabatt" in text and "'-20" not in text
    apply(admin, location)
    stored = {p.sku: (p.name, p.description) for p in Product.select()}
    assert stored == {"F-1": ('=HYPERLINK("https://example.org";"Gratis")', "@Angebot"),
                      "F-2": ("-20 % Rabatt", "'Zitat")}


def test_the_export_pages_through_the_products_by_id(admin, kitchen, make_product, monkeypatch):
    from shop.admin import imports

    monkeypatch.setattr(imports, "EXPORT_ROWS", 2)
    for n in range(5):
        make_product(f"Becher {n}", sku=f"B-{n}", category=kitchen, price_cents=1000 + n)
    lines = admin.client.get("/admin/products/export").text.splitlines()
    assert [line.split(";")[0] for line in lines[1:]] == [f"B-{n}" for n in range(5)]


def test_a_categories_file_builds_the_tree_in_the_browser(admin, database):
    header = ("slug", "name", "parent", "position")
    location, page = uploaded(admin, csv_bytes([
        {"slug": "rosen", "name": "Rosen", "parent": "garten", "position": "2"},
        {"slug": "garten", "name": "Garten", "parent": "", "position": "1"},
    ], header=header, sep=";"), "kategorien.csv")
    assert "2 neu" in text_of(page)
    apply(admin, location)
    assert Category.get(Category.slug == "rosen").parent.slug == "garten"
    _location, page = uploaded(admin, csv_bytes([
        {"slug": "rosen", "name": "Rosen", "parent": "rosen", "position": "2"}], header=header), "k.csv")
    assert "Zeile 2: Kategorien haben nur zwei Ebenen" in text_of(page)
