"""The importer's rule for each column, one row at a time, without a database."""
from __future__ import annotations

from decimal import Decimal

import pytest

from shop.catalog.importer import _cents, _control_characters, _validate_product, slugify
from shop.catalog.models import SLUG
from shop.i18n import in_language
from tests.test_numbers import OTHER_SCRIPTS_DIGITS


# -- the rules for each field, one row at a time ----------------------------------

CATEGORIES = {"kueche": 1, "garten": 2}
SKU_RULE = "Artikelnummer fehlt: Buchstaben, Ziffern, „.“, „_“ oder „-“, höchstens 64 Zeichen"
NAME_RULE = "Name fehlt (höchstens 200 Zeichen)"
SLUG_RULE = "Slug darf nur Kleinbuchstaben, Ziffern und Bindestriche enthalten"
PRICE_RULE = "Preis muss ein Euro-Betrag wie 12,90 sein"
VAT_RULE = "MwSt.-Satz muss 19 oder 7 sein"
STOCK_RULE = "Bestand muss eine ganze Zahl ab 0 sein"
QUANTITY_RULE = "Inhaltsmenge muss eine positive Zahl sein"
UNIT_RULE = "Inhaltseinheit muss eine von g, kg, ml, l, m sein"
EAN_RULE = "EAN muss 8 oder 13 Ziffern mit der richtigen Prüfziffer haben"
THRESHOLD_RULE = ("Meldebestand (low_stock_threshold) muss eine ganze Zahl von 0 bis 1.000.000 sein, "
                  "oder leer für den Standard des Shops")


@pytest.fixture
def validate(tmp_path):
    """Check one product row (the example row with `changes`) as the importer would,
    the CSV lying in `tmp_path`: (the values it would store, the problems in German)."""
    def check(**changes) -> tuple[dict, list[str]]:
        row = {"sku": "T-1", "slug": "", "name": "Teekanne Glas", "category": "kueche", "price": "24.90"}
        row.update(changes)
        with in_language("de"):
            return _validate_product(row, CATEGORIES, tmp_path)

    return check


def test_a_complete_row_has_no_problems(validate):
    values, problems = validate(description="Hitzebeständig.\nSpülmaschinenfest.", vat_rate="7",
                                stock="12", active="1", featured="0", content_quantity="1,2",
                                content_unit="l", manufacturer="Glaswerk GmbH", product_identifier="4009126001379",
                                ean="4006381333931", low_stock_threshold="8")
    assert problems == []
    assert values["sku"] == "T-1" and values["name"] == "Teekanne Glas" and values["slug"] == "teekanne-glas"
    assert (values["category"], values["price_cents"], values["vat_rate"], values["stock"]) == (1, 2490, 7, 12)
    assert (values["active"], values["featured"]) == (True, False)
    assert (values["content_quantity"], values["content_unit"]) == (Decimal("1.2"), "l")
    assert (values["ean"], values["low_stock_threshold"]) == ("4006381333931", 8)
    assert values["images"] == []


def test_empty_optional_columns_take_their_defaults(validate):
    values, problems = validate(vat_rate="", stock="", active="", featured="", content_quantity="",
                                content_unit="", image="", ean="", low_stock_threshold="")
    assert problems == []
    assert (values["vat_rate"], values["stock"], values["active"], values["featured"]) == (19, 0, True, False)
    assert (values["content_quantity"], values["content_unit"]) == (None, None)
    assert (values["ean"], values["low_stock_threshold"]) == ("", None)  # none, and the shop's default


@pytest.mark.parametrize("sku", ["A", "T-1", "kh_1001.b", "9", "A" * 64])
def test_skus_of_letters_digits_dots_underscores_and_hyphens_are_taken(validate, sku):
    values, problems = validate(sku=sku)
    assert problems == [] and values["sku"] == sku


@pytest.mark.parametrize("sku", ["", "-T1", ".T1", "_T1", "T 1", "T/1", "T,1", "Ä-1", "T#1", "A" * 65])
def test_other_skus_are_refused(validate, sku):
    assert validate(sku=sku)[1] == [SKU_RULE]


def test_a_name_is_required_and_at_most_200_characters(validate):
    assert validate(name="N" * 200)[1] == []
    assert validate(name="N" * 201, slug="n")[1] == [NAME_RULE]
    assert validate(name="", slug="n")[1] == [NAME_RULE]


@pytest.mark.parametrize("slug", ["teekanne", "teekanne-glas-2", "1-2-3", "a" * 200])
def test_slugs_of_lowercase_letters_digits_and_single_hyphens_are_taken(validate, slug):
    values, problems = validate(slug=slug)
    assert problems == [] and values["slug"] == slug


@pytest.mark.parametrize("slug", ["Teekanne", "tee kanne", "tee--kanne", "-tee", "tee-", "tee_kanne",
                                  "küche", "tee/kanne", "a" * 201])
def test_other_slugs_are_refused(validate, slug):
    assert validate(slug=slug)[1] == [SLUG_RULE]


def test_without_a_slug_it_is_made_from_the_name(validate):
    assert validate(name="Größe Übertopf, weiß")[0]["slug"] == "groesse-uebertopf-weiss"
    values, problems = validate(name="€ 100")
    assert values["slug"] == "100" and problems == []
    assert validate(name="€€€")[1] == [SLUG_RULE]  # nothing to make a slug of: the merchant must give one


def test_the_category_must_exist(validate):
    values, problems = validate(category="garten")
    assert problems == [] and values["category"] == 2
    assert validate(category="gibt-es-nicht")[1] == ["unbekannte Kategorie gibt-es-nicht"]
    assert validate(category="")[1] == ["Kategorie fehlt"]
    assert validate(category="Kueche")[1] == ["unbekannte Kategorie Kueche"]


@pytest.mark.parametrize("price,cents", [
    ("12.90", 1290), ("12,90", 1290), ("12,9", 1290), ("12", 1200), ("0", 0), ("1.234,50", 123450),
    ("1.000,00", 100_000), ("12,90 €", 1290), ("0.05", 5), ("1.000.000,00", 100_000_000),
])
def test_prices_with_a_decimal_comma_or_point_are_taken(validate, price, cents):
    values, problems = validate(price=price)
    assert problems == [] and values["price_cents"] == cents


@pytest.mark.parametrize("price", ["", "-1", "+1", "1e3", "12,999", "12.9.9", "1,234.50", "12.", ",5",
                                   "zwölf", "NaN", "inf", "1_000", "1.000.000,01", "9" * 30,
                                   *OTHER_SCRIPTS_DIGITS])
def test_other_prices_are_refused(validate, price):
    assert validate(price=price)[1] == [PRICE_RULE]


@pytest.mark.parametrize("rate,stored", [("19", 19), ("7", 7), ("", 19)])
def test_vat_rates_19_and_7_are_taken(validate, rate, stored):
    values, problems = validate(vat_rate=rate)
    assert problems == [] and values["vat_rate"] == stored


@pytest.mark.parametrize("rate", ["16", "5", "0", "100", "19.0", "19 %", "+7", "-7", "٧", "７"])
def test_other_vat_rates_are_refused(validate, rate):
    assert validate(vat_rate=rate)[1] == [VAT_RULE]


@pytest.mark.parametrize("stock,stored", [("0", 0), ("", 0), ("12", 12), ("10000000", 10_000_000)])
def test_stock_from_0_to_ten_million_is_taken(validate, stock, stored):
    values, problems = validate(stock=stock)
    assert problems == [] and values["stock"] == stored


@pytest.mark.parametrize("stock", ["-1", "10000001", "1.5", "1,0", "1_000", "+3", "viele", "３", "٣"])
def test_other_stock_figures_are_refused(validate, stock):
    assert validate(stock=stock)[1] == [STOCK_RULE]


@pytest.mark.parametrize("text,flag", [("1", True), ("true", True), ("yes", True), ("ja", True),
                                       ("x", True), ("JA", True), ("0", False), ("false", False),
                                       ("no", False), ("nein", False), ("Nein", False)])
def test_active_and_featured_take_yes_and_no(validate, text, flag):
    values, problems = validate(active=text, featured=text)
    assert problems == []
    assert (values["active"], values["featured"]) == (flag, flag)


def test_active_and_featured_default_to_on_sale_and_not_featured(validate):
    values, problems = validate()  # columns missing
    assert problems == [] and (values["active"], values["featured"]) == (True, False)


@pytest.mark.parametrize("text", ["2", "-1", "vielleicht", "on", "wahr"])
def test_other_flags_are_refused(validate, text):
    assert validate(active=text)[1] == ["Aktiv (active) muss 1 oder 0 sein"]
    assert validate(featured=text)[1] == ["Hervorgehoben (featured) muss 1 oder 0 sein"]


@pytest.mark.parametrize("quantity,unit,stored", [
    ("500", "g", Decimal("500")), ("0,5", "l", Decimal("0.5")), ("1.25", "kg", Decimal("1.25")),
    ("750", "ml", Decimal("750")), ("10", "m", Decimal("10")), ("1000000", "g", Decimal("1000000")),
])
def test_a_content_is_a_positive_quantity_with_a_unit(validate, quantity, unit, stored):
    values, problems = validate(content_quantity=quantity, content_unit=unit)
    assert problems == []
    assert (values["content_quantity"], values["content_unit"]) == (stored, unit)


def test_a_content_needs_both_quantity_and_unit(validate):
    assert validate(content_quantity="500")[1] == [UNIT_RULE]
    assert validate(content_quantity="500", content_unit="")[1] == [UNIT_RULE]
    assert validate(content_unit="g")[1] == [QUANTITY_RULE]


@pytest.mark.parametrize("quantity", ["0", "0,0", "-5", "1000001", "1e3", "abc", "1.000,5", "٥", "５"])
def test_a_content_quantity_that_is_not_positive_is_refused(validate, quantity):
    assert validate(content_quantity=quantity, content_unit="g")[1] == [QUANTITY_RULE]


@pytest.mark.parametrize("unit", ["G", "Stück", "cl", "kg.", "gramm"])
def test_content_units_other_than_g_kg_ml_l_m_are_refused(validate, unit):
    assert validate(content_quantity="500", content_unit=unit)[1] == [UNIT_RULE]


def test_a_product_identifier_has_at_most_64_characters(validate):
    assert validate(product_identifier="4" * 64)[1] == []
    assert validate(product_identifier="4" * 65)[1] == ["Produktkennung ist zu lang"]


@pytest.mark.parametrize("ean, stored", [
    ("4006381333931", "4006381333931"), ("4 006381 333931", "4006381333931"), ("96385074", "96385074"),
    ("0012345678905", "0012345678905"),
])
def test_eans_of_8_or_13_digits_with_their_check_digit_are_taken(validate, ean, stored):
    values, problems = validate(ean=ean)
    assert problems == []
    assert values["ean"] == stored


@pytest.mark.parametrize("ean", [
    "4006381333932",  # a wrong check digit
    "400638133393",  # twelve digits (a leading zero lost in a spreadsheet)
    "4,00638E+12", "40063813339310", "9638507", "EAN4006381", "４００６３８１３３３９３１", "-4006381333931",
])
def test_other_eans_are_refused(validate, ean):
    assert validate(ean=ean)[1] == [EAN_RULE]


@pytest.mark.parametrize("threshold, stored", [("0", 0), ("5", 5), ("1000000", 1_000_000), ("", None)])
def test_a_reorder_level_from_0_to_a_million_or_none_is_taken(validate, threshold, stored):
    values, problems = validate(low_stock_threshold=threshold)
    assert problems == []
    assert values["low_stock_threshold"] == stored


@pytest.mark.parametrize("threshold", ["-1", "1000001", "2,5", "1.000", "zehn", "+3", "３"])
def test_other_reorder_levels_are_refused(validate, threshold):
    assert validate(low_stock_threshold=threshold)[1] == [THRESHOLD_RULE]


def test_images_beside_the_csv_are_taken_in_order(validate, tmp_path):
    (tmp_path / "img").mkdir()
    for name in ("a.svg", "b.PNG", "c.jpeg", "d.webp", "e.jpg"):
        (tmp_path / "img" / name).write_bytes(b"x")
    values, problems = validate(image="img/a.svg | img/b.PNG|img/c.jpeg|img/d.webp|img/e.jpg")
    assert problems == []
    assert values["images"] == [tmp_path / "img" / n for n in ("a.svg", "b.PNG", "c.jpeg", "d.webp", "e.jpg")]


def test_images_outside_the_csv_folder_missing_or_of_another_kind_are_refused(validate, tmp_path):
    csv_dir = tmp_path / "import"
    csv_dir.mkdir()
    (tmp_path / "outside.svg").write_bytes(b"x")
    (csv_dir / "notes.txt").write_text("x")
    (csv_dir / "link.svg").symlink_to(tmp_path / "outside.svg")
    with in_language("de"):
        def problems(image):
            return _validate_product({"sku": "T-1", "name": "Teekanne", "category": "kueche", "price": "1",
                                      "image": image}, CATEGORIES, csv_dir)[1]

        assert problems("../outside.svg") == ["Bild ../outside.svg muss neben der CSV-Datei liegen"]
        assert problems(str(tmp_path / "outside.svg")) == [
            f"Bild {tmp_path / 'outside.svg'} muss neben der CSV-Datei liegen"]
        assert problems("link.svg") == ["Bild link.svg muss neben der CSV-Datei liegen"]
        assert problems("notes.txt") == ["Bild notes.txt ist keine SVG-, PNG-, JPEG- oder WebP-Datei"]
        assert problems("fehlt.png") == ["Bild fehlt.png nicht gefunden"]
        assert problems("fehlt.png|notes.txt") == ["Bild fehlt.png nicht gefunden",
                                                   "Bild notes.txt ist keine SVG-, PNG-, JPEG- oder WebP-Datei"]


def test_every_problem_of_a_row_is_reported_at_once(validate):
    problems = validate(sku="", name="", price="gratis", vat_rate="16", stock="-1", category="nirgends")[1]
    assert problems == [SKU_RULE, NAME_RULE, SLUG_RULE, "unbekannte Kategorie nirgends", PRICE_RULE,
                        VAT_RULE, STOCK_RULE]


# -- control characters -------------------------------------------------------------

# A column in a message: its German name and, where that differs, the column's name in the file.
@pytest.mark.parametrize("column,named", [
    ("sku", "Artikelnummer (sku)"), ("slug", "Webadresse (Slug)"), ("name", "Name"),
    ("category", "Kategorie (category)"), ("price", "Preis (price)"), ("image", "Bilder (image)"),
    ("product_identifier", "Produktkennung (product_identifier)"), ("ean", "EAN"),
    ("low_stock_threshold", "Meldebestand (low_stock_threshold)"),
])
@pytest.mark.parametrize("char", ["\n", "\r", "\t", "\x00", "\x07", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"])
def test_one_line_columns_refuse_line_breaks_and_control_characters(column, named, char):
    with in_language("de"):
        assert _control_characters({column: f"a{char}b"}) == [f"{named} muss eine Zeile ohne Steuerzeichen sein"]


@pytest.mark.parametrize("column,named", [
    ("description", "Beschreibung (description)"),
    ("warnings", "Warnhinweise und Sicherheitsinformationen (warnings)"),
    ("manufacturer", "Hersteller (manufacturer)"),
    ("responsible_person", "Verantwortliche Person in der EU (responsible_person)"),
])
def test_text_columns_take_line_breaks_and_tabs_but_no_other_control_characters(column, named):
    with in_language("de"):
        assert _control_characters({column: "Erster Absatz.\r\n\r\nZweiter\tAbsatz.\n"}) == []
        for char in ("\x00", "\x07", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"):
            assert _control_characters({column: f"a{char}b"}) == [f"{named} darf keine Steuerzeichen enthalten"]


def test_ordinary_text_has_no_control_characters():
    assert _control_characters({"name": "Gießkanne „Zink“ – 10 l, 😀", "description": "Ä\u00a0Ö"}) == []


def test_a_control_character_in_a_row_is_reported_per_column(validate):
    problems = validate(name="Teekanne\x07", slug="teekanne", warnings="Heiß!\x1b")[1]
    assert problems == ["Name muss eine Zeile ohne Steuerzeichen sein",
                        "Warnhinweise und Sicherheitsinformationen (warnings) darf keine Steuerzeichen enthalten"]


# -- slugs from names -----------------------------------------------------------------

@pytest.mark.parametrize("name,slug", [
    ("Teekanne Glas 1,2 l", "teekanne-glas-1-2-l"),
    ("Größe", "groesse"),
    ("Äpfel, Öl & Übertopf", "aepfel-oel-uebertopf"),
    ("ÄÖÜ", "aeoeue"),
    ("Straßenbesen", "strassenbesen"),
    ("  --Zwei   Leerzeichen--  ", "zwei-leerzeichen"),
    ("€€€", ""),
])
def test_slugs_spell_out_umlauts_and_sharp_s(name, slug):
    assert slugify(name) == slug


def test_slugs_are_valid_and_at_most_200_characters():
    for name in ("Bio-Müsli Beere 500 g", "A" * 300, "ü" * 150, "Kaffee (gemahlen) – 250 g"):
        slug = slugify(name)
        assert SLUG.fullmatch(slug) and len(slug) <= 200, name


@pytest.mark.parametrize("typed,cents", [("12.90", 1290), ("12,9", 1290), ("1.234,50", 123450), ("7", 700)])
def test_prices_in_a_file_are_read_as_written(typed, cents):
    assert _cents(typed) == cents


@pytest.mark.parametrize("typo", ["12.999", "1.000", "12 90", "1 234"])
def test_a_price_typo_in_a_file_is_refused_not_read_as_thousands(typo):
    """In a filter a shopper may type 1.000 for a thousand euros; in a price list "12.999"
    is a typo, and reading it as 12,999 € would sell a mug for a fortune."""
    assert _cents(typo) is None


def test_slugs_keep_accented_letters_and_end_cleanly():
    assert slugify("Crème brûlée für Groß & Klein") == "creme-brulee-fuer-gross-klein"
    long = slugify("a" * 197 + "ä b")
    assert len(long) <= 200 and not long.endswith("-")
