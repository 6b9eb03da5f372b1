"""`shop import-csv`: all rows valid or nothing imported; create or update by SKU.
The rule for each column: tests/test_import_rules.py."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from shop import cli
from shop.catalog.importer import ImportFailed, import_csv
from shop.catalog.models import Category, PriceChange, Product, ProductImage
from shop.db import connect, db, reset_postgres_schema

HEADER = ["sku", "slug", "name", "description", "category", "price", "vat_rate", "stock", "active",
          "content_quantity", "content_unit", "manufacturer", "responsible_person",
          "product_identifier", "warnings", "image", "featured"]


def write_csv(path: Path, rows: list[dict], header=HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def product_row(**values) -> dict:
    row = {"sku": "T-1", "name": "Teekanne Glas 1,2 l", "category": "kueche", "price": "24.90",
           "vat_rate": "19", "stock": "12"}
    row.update(values)
    return row


@pytest.fixture
def kitchen(database):
    return Category.create(slug="kueche", name="Küche")


def test_import_creates_then_updates_by_sku(tmp_path, settings, kitchen):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "t1.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    file = write_csv(tmp_path / "p.csv", [
        product_row(image="img/t1.svg", content_quantity="1,2", content_unit="l"),
        product_row(sku="T-2", name="Teesieb", price="4,50", vat_rate="19", stock="0"),
    ])
    result = import_csv(file, settings.media_dir)
    assert (result.created, result.updated) == (2, 0)
    pot = Product.get(Product.sku == "T-1")
    assert (pot.slug, pot.price_cents, pot.image) == ("teekanne-glas-1-2-l", 2490, "products/t1.svg")
    assert (settings.media_dir / "products" / "t1.svg").exists()
    assert ProductImage.select().where(ProductImage.product == pot).count() == 1

    write_csv(file, [product_row(price="19.90", image="img/t1.svg", content_quantity="1.2", content_unit="l"),
                     product_row(sku="T-2", name="Teesieb", price="4.50", stock="0")])
    result = import_csv(file, settings.media_dir)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    assert Product.get(Product.sku == "T-1").price_cents == 1990
    assert [c.price_cents for c in PriceChange.select().where(PriceChange.product == pot)] == [2490, 1990]


def test_a_file_with_bad_rows_imports_nothing_and_names_each_line(tmp_path, settings, kitchen):
    file = write_csv(tmp_path / "bad.csv", [
        product_row(sku="OK-1"),
        product_row(sku="B-1", price="-3"),
        product_row(sku="B-2", price="zwölf", vat_rate="16"),
        product_row(sku="B-3", category="gibt-es-nicht", stock="-1"),
        product_row(sku="OK-1", slug="anders"),
        product_row(sku="B-4", image="../../etc/passwd"),
        product_row(sku="B-5", content_quantity="500"),
        product_row(sku="", name=""),
    ])
    with pytest.raises(ImportFailed) as failure:
        import_csv(file, settings.media_dir)
    errors = "\n".join(failure.value.errors)
    for line in ("Zeile 3:", "Zeile 4:", "Zeile 5:", "Zeile 6:", "Zeile 7:", "Zeile 8:", "Zeile 9:"):
        assert line in errors
    assert "Zeile 2:" not in errors
    assert "MwSt.-Satz muss 19 oder 7 sein" in errors
    assert "unbekannte Kategorie gibt-es-nicht" in errors
    assert "doppelt" in errors
    assert Product.select().count() == 0


def test_files_that_are_not_a_catalogue_are_refused(tmp_path, settings, kitchen):
    binary = tmp_path / "bild.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    with pytest.raises(ImportFailed):
        import_csv(binary, settings.media_dir)
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(ImportFailed):
        import_csv(other, settings.media_dir)
    latin = tmp_path / "excel.csv"
    latin.write_bytes("sku;name\nT-1;Käse\n".encode("cp1252"))
    with pytest.raises(ImportFailed) as failure:
        import_csv(latin, settings.media_dir)
    assert "„CSV UTF-8 (durch Trennzeichen getrennt)“" in failure.value.errors[0]
    empty = tmp_path / "leer.csv"
    empty.write_bytes(b"\r\n")
    with pytest.raises(ImportFailed) as failure:
        import_csv(empty, settings.media_dir)
    assert failure.value.errors[0].startswith("Die Datei ist leer.")


def test_a_product_in_the_shop_needs_only_its_sku_and_the_columns_that_change(tmp_path, settings, kitchen):
    import_csv(write_csv(tmp_path / "p.csv", [product_row(description="Aus Glas.")]), settings.media_dir)
    result = import_csv(write_csv(tmp_path / "lager.csv", [{"sku": "T-1", "stock": "30"}],
                                  header=["sku", "stock"]), settings.media_dir)
    assert (result.created, result.updated) == (0, 1)
    pot = Product.get(Product.sku == "T-1")
    assert (pot.stock, pot.price_cents, pot.name, pot.description) == (30, 2490, "Teekanne Glas 1,2 l", "Aus Glas.")
    import_csv(write_csv(tmp_path / "preise.csv", [{"sku": "T-1", "price": "19,90"}], header=["sku", "price"]),
               settings.media_dir)
    assert (Product.get(Product.sku == "T-1").price_cents, Product.get(Product.sku == "T-1").stock) == (1990, 30)

    # A new SKU needs name, category and price: its line says so, and nothing is imported.
    new = write_csv(tmp_path / "neu.csv", [{"sku": "T-1", "name": "Kanne", "stock": "5"},
                                           {"sku": "T-9", "name": "Sieb", "stock": "5"}],
                    header=["sku", "name", "stock"])
    with pytest.raises(ImportFailed) as failure:
        import_csv(new, settings.media_dir)
    assert failure.value.errors == ["Zeile 3: Artikelnummer T-9 gibt es im Shop noch nicht: Für ein neues Produkt "
                                    "braucht die Datei die Spalten category, price"]
    assert Product.get(Product.sku == "T-1").stock == 30


def test_categories_file_builds_two_levels(tmp_path, settings, database):
    file = write_csv(tmp_path / "c.csv", [
        {"slug": "garten", "name": "Garten", "parent": "", "position": "1"},
        {"slug": "pflanzen", "name": "Pflanzen", "parent": "garten", "position": "1"},
        {"slug": "samen", "name": "Samen", "parent": "pflanzen", "position": "1"},
    ], header=["slug", "name", "parent", "position", "description"])
    with pytest.raises(ImportFailed) as failure:
        import_csv(file, settings.media_dir)
    assert failure.value.errors == ["Zeile 3: Kategorien haben nur zwei Ebenen",
                                    "Zeile 4: Kategorien haben nur zwei Ebenen"]
    write_csv(file, [
        {"slug": "garten", "name": "Garten", "parent": "", "position": "1"},
        {"slug": "pflanzen", "name": "Pflanzen", "parent": "garten", "position": "1"},
    ], header=["slug", "name", "parent", "position", "description"])
    import_csv(file, settings.media_dir)
    assert Category.get(Category.slug == "pflanzen").parent.slug == "garten"

    header = ["slug", "name", "parent"]
    for rows in ([{"slug": "garten", "name": "Garten", "parent": "garten"}],       # its own parent
                 [{"slug": "kueche", "name": "Küche", "parent": ""},
                  {"slug": "garten", "name": "Garten", "parent": "kueche"}],       # has children
                 [{"slug": "samen", "name": "Samen", "parent": "pflanzen"}]):      # a third level
        with pytest.raises(ImportFailed):
            import_csv(write_csv(file, rows, header=header), settings.media_dir)
    assert Category.get(Category.slug == "garten").parent is None


def test_children_may_come_before_their_new_parent(tmp_path, settings, database):
    file = write_csv(tmp_path / "c.csv", [
        {"slug": "rosen", "name": "Rosen", "parent": "garten"},
        {"slug": "garten", "name": "Garten", "parent": ""},
    ], header=["slug", "name", "parent"])
    import_csv(file, settings.media_dir)
    assert Category.get(Category.slug == "rosen").parent.slug == "garten"


def test_demo_catalogue_is_complete(demo, database):
    products = Product.select()
    assert products.count() >= 120
    assert Category.select().where(Category.parent.is_null()).count() >= 8
    assert products.where(Product.vat_rate == 7).count() >= 10
    assert products.where(Product.stock == 0).count() >= 3
    assert products.where(Product.content_quantity.is_null(False)).count() >= 10
    assert products.where(Product.image == "").count() == 0


def test_cli_reports_errors_by_line_and_exit_code(tmp_path, settings, monkeypatch, capsys):
    if settings.database_url.startswith("postgres"):
        connect(settings.database_url)
        reset_postgres_schema()
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.setenv("MEDIA_DIR", str(settings.media_dir))
    categories = write_csv(tmp_path / "c.csv", [{"slug": "kueche", "name": "Küche"}], header=["slug", "name"])
    assert cli.main(["import-csv", str(categories)]) == 0
    bad = write_csv(tmp_path / "bad.csv", [product_row(price="gratis")])
    assert cli.main(["import-csv", str(bad)]) == 1
    assert "Zeile 2: Preis muss ein Euro-Betrag" in capsys.readouterr().err
    good = write_csv(tmp_path / "good.csv", [product_row(sku=f"G-{n}", name=f"Becher {n}") for n in range(3)])
    assert cli.main(["import-csv", str(good)]) == 0
    out = capsys.readouterr()
    assert "3 created" in out.out and "import: 3/3" in out.err
    assert cli.main(["import-csv", str(tmp_path / "fehlt.csv")]) == 2
    db.close_all()


def test_names_with_line_breaks_and_other_scripts_digits_are_refused(tmp_path, settings, kitchen):
    file = write_csv(tmp_path / "p.csv", [
        product_row(sku="Z-1", slug="z-1", name="Teekanne\nBcc: alle@example.org"),
        product_row(sku="Z-2", slug="z-2", name="Tasse\u2028zwei"),
        product_row(sku="Z-3", slug="z-3", stock="３"),
        product_row(sku="Z-4", slug="z-4", price="１２.50"),
        product_row(sku="Z-5", slug="z-5", stock="1_000"),
        product_row(sku="Z-6", slug="z-6", vat_rate="+7"),
        product_row(sku="Z-7", slug="z-7", content_quantity="٥", content_unit="g"),
        product_row(sku="OK-1", name="Glaskanne", description="Erster Absatz.\n\nZweiter Absatz.",
                    warnings="Heiß!\nVorsicht."),
    ])
    with pytest.raises(ImportFailed) as failure:
        import_csv(file, settings.media_dir)
    errors = "\n".join(failure.value.errors)
    for line in range(2, 9):
        assert f"Zeile {line}:" in errors
    assert "Zeile 9:" not in errors  # line breaks in texts are fine
    assert "Zeile 2: Name muss eine Zeile ohne Steuerzeichen sein" in errors
    assert Product.select().count() == 0


def test_a_category_name_with_a_control_character_is_refused(tmp_path, settings, database):
    file = write_csv(tmp_path / "c.csv", [{"slug": "kueche", "name": "Küche\x07"}], header=["slug", "name"])
    with pytest.raises(ImportFailed) as failure:
        import_csv(file, settings.media_dir)
    assert "Zeile 2:" in failure.value.errors[0]


def test_ean_and_reorder_level_are_imported_checked_and_kept_when_left_out(tmp_path, settings, kitchen):
    header = [*HEADER, "ean", "low_stock_threshold"]
    file = write_csv(tmp_path / "p.csv", [
        product_row(ean="4006381333931", low_stock_threshold="3"),
        product_row(sku="T-2", name="Teesieb", ean="", low_stock_threshold=""),
    ], header=header)
    import_csv(file, settings.media_dir)
    pot, strainer = Product.get(Product.sku == "T-1"), Product.get(Product.sku == "T-2")
    assert (pot.ean, pot.low_stock_threshold) == ("4006381333931", 3)
    assert (strainer.ean, strainer.low_stock_threshold) == ("", None)  # none, and the shop's default

    bad = write_csv(tmp_path / "bad.csv", [
        product_row(ean="4006381333932"),
        product_row(sku="T-2", name="Teesieb", low_stock_threshold="-5"),
        product_row(sku="T-3", name="Tasse", low_stock_threshold="1000001"),
    ], header=header)
    with pytest.raises(ImportFailed) as failure:
        import_csv(bad, settings.media_dir)
    assert failure.value.errors == [
        "Zeile 2: EAN muss 8 oder 13 Ziffern mit der richtigen Prüfziffer haben",
        "Zeile 3: Meldebestand (low_stock_threshold) muss eine ganze Zahl von 0 bis 1.000.000 sein, "
        "oder leer für den Standard des Shops",
        "Zeile 4: Meldebestand (low_stock_threshold) muss eine ganze Zahl von 0 bis 1.000.000 sein, "
        "oder leer für den Standard des Shops",
    ]

    # Without the columns, a product keeps its EAN and reorder level.
    result = import_csv(write_csv(tmp_path / "p.csv", [product_row(price="19.90")]), settings.media_dir)
    assert result.updated == 1
    pot = Product.get(Product.sku == "T-1")
    assert (pot.price_cents, pot.ean, pot.low_stock_threshold) == (1990, "4006381333931", 3)
    # An empty cell: no EAN, the shop's default.
    import_csv(write_csv(tmp_path / "p.csv", [product_row(price="19.90", ean="", low_stock_threshold="")],
                         header=header), settings.media_dir)
    pot = Product.get(Product.sku == "T-1")
    assert (pot.ean, pot.low_stock_threshold) == ("", None)


def test_the_apostrophe_before_a_formula_is_taken_off_once(tmp_path, settings, kitchen):
    """What the export writes before a cell a spreadsheet would run as a formula."""
    file = write_csv(tmp_path / "p.csv", [
        product_row(sku="F-1", name="'=HYPERLINK(\"https://example.org\";\"Gratis\")"),
        product_row(sku="F-2", name="'-20 % Rabatt", description="'+49 30 123456\nAnrufen!"),
        product_row(sku="F-3", name="''@Ecke"),
        product_row(sku="F-4", name="'Apostroph am Anfang", description="-10 % ohne Apostroph"),
    ])
    import_csv(file, settings.media_dir)
    stored = {p.sku: (p.name, p.description) for p in Product.select()}
    assert stored == {
        "F-1": ("=HYPERLINK(\"https://example.org\";\"Gratis\")", ""),
        "F-2": ("-20 % Rabatt", "+49 30 123456\nAnrufen!"),
        "F-3": ("'@Ecke", ""),
        "F-4": ("'Apostroph am Anfang", "-10 % ohne Apostroph"),
    }
