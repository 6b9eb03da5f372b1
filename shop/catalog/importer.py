"""CSV import of categories and products.

Every row is validated before anything is written; a file with one bad row
imports nothing and reports each error with its line number. Products are
created or updated by SKU, categories by slug. Image file names are relative
to the CSV file and are copied into the media folder.
"""
from __future__ import annotations

import csv
import filecmp
import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from shop.db import write
from shop.forms import decimal_number, euro_cents, whole_number
from shop.i18n import _

from .models import CONTENT_UNITS, SLUG, VAT_RATES, Category, Product, ProductImage
from . import stock
from .search import index_products

CATEGORY_COLUMNS = {"slug", "name", "parent", "position", "description"}
PRODUCT_COLUMNS = {
    "sku", "slug", "name", "description", "category", "price", "vat_rate", "stock", "active",
    "content_quantity", "content_unit", "manufacturer", "responsible_person",
    "product_identifier", "warnings", "image", "featured",
}
REQUIRED_PRODUCT_COLUMNS = {"sku", "name", "category", "price"}
MULTI_LINE_COLUMNS = {"description", "warnings", "manufacturer", "responsible_person"}
_LINE_BREAKS = "\n\r\t"
IMAGE_SUFFIXES = {".svg", ".png", ".jpg", ".jpeg", ".webp"}
MAX_PRICE_CENTS = 100_000_000
MAX_STOCK = 10_000_000
_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TRUE = {"1", "true", "yes", "ja", "x"}
_FALSE = {"0", "false", "no", "nein", ""}

Progress = Callable[[str, int, int], None]


class ImportFailed(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class ImportResult:
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rows: list[dict] = field(default_factory=list, repr=False)


def import_csv(path: Path, media_dir: Path, progress: Progress | None = None) -> ImportResult:
    """Import a categories or products file (told apart by its header)."""
    path = Path(path)
    progress = progress or (lambda stage, done, total: None)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = set(reader.fieldnames or [])
            rows = list(reader)
    except UnicodeDecodeError:
        raise ImportFailed([_("The file is not UTF-8 encoded text.")])
    except csv.Error as error:
        raise ImportFailed([_("The file is not valid CSV: %(error)s", error=str(error))])
    if "sku" in header:
        missing = REQUIRED_PRODUCT_COLUMNS - header
        if missing:
            raise ImportFailed([_("Missing columns: %(columns)s", columns=", ".join(sorted(missing)))])
        return _import_products(rows, path.parent, media_dir, progress)
    if {"slug", "name"} <= header:
        return _import_categories(rows, progress)
    raise ImportFailed([_("Unknown file: expected a products file (with a 'sku' column) "
                          "or a categories file (with 'slug' and 'name').")])


# -- categories ---------------------------------------------------------------

def _import_categories(rows: list[dict], progress: Progress) -> ImportResult:
    existing = {c.slug: c for c in Category.select()}
    slug_of = {c.id: c.slug for c in existing.values()}
    stored_parent = {c.slug: slug_of.get(c.parent_id, "") for c in existing.values()}
    seen: dict[str, dict] = {}
    errors = []
    for line, row in enumerate(rows, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k}
        problems = _control_characters(row)
        if not SLUG.fullmatch(row.get("slug", "")):
            problems.append(_("slug must be lowercase letters, digits and hyphens"))
        elif row["slug"] in seen:
            problems.append(_("slug %(slug)s appears twice", slug=row["slug"]))
        if not row.get("name") or len(row["name"]) > 120:
            problems.append(_("name is required (at most 120 characters)"))
        position = _int(row.get("position") or "0", 0, 100_000)
        if position is None:
            problems.append(_("position must be a whole number"))
        row["position"] = position
        errors.extend(_line_errors(line, problems))
        seen[row.get("slug", f"#{line}")] = row | {"line": line}
    # Two levels only: a parent must itself be top level, as the file leaves it.
    parents = {**stored_parent, **{slug: row.get("parent", "") for slug, row in seen.items()}}
    for slug, row in seen.items():
        parent = row.get("parent", "")
        if parent and parent not in parents:
            errors.append(_("Line %(line)d: %(problem)s", line=row["line"],
                            problem=_("unknown parent category %(slug)s", slug=parent)))
        elif parent and (parent == slug or parents.get(parent) or slug in parents.values()):
            errors.append(_("Line %(line)d: %(problem)s", line=row["line"],
                            problem=_("categories have two levels only")))
    progress("validate", len(rows), len(rows))
    if errors:
        raise ImportFailed(sorted(errors, key=_line_number))

    result = ImportResult("categories")
    with write():
        # Top levels first, so a new parent exists before its children.
        for row in sorted(seen.values(), key=lambda r: bool(r.get("parent"))):
            parent = existing.get(row.get("parent") or "")
            values = dict(name=row["name"], parent=parent, position=row["position"],
                          description=row.get("description", ""))
            category = existing.get(row["slug"])
            if category is None:
                category = Category.create(slug=row["slug"], **values)
                result.created += 1
            else:
                Category.update(values).where(Category.id == category.id).execute()
                result.updated += 1
            existing[row["slug"]] = category
    progress("import", len(seen), len(seen))
    return result


# -- products -----------------------------------------------------------------

def _import_products(rows, csv_dir: Path, media_dir: Path, progress: Progress) -> ImportResult:
    categories = {c.slug: c.id for c in Category.select(Category.id, Category.slug)}
    existing = {p.sku: p for p in Product.select()}
    slug_owner = {p.slug: p.sku for p in existing.values()}
    errors: list[str] = []
    clean: list[dict] = []
    seen_skus: set[str] = set()
    for line, row in enumerate(rows, start=2):
        values, problems = _validate_product(
            {k: (v or "").strip() for k, v in row.items() if k}, categories, csv_dir
        )
        sku, slug = values.get("sku"), values.get("slug")
        if sku and sku in seen_skus:
            problems.append(_("SKU %(sku)s appears twice in the file", sku=sku))
        if slug and slug_owner.get(slug, sku) != sku:
            problems.append(_("slug %(slug)s is already used by SKU %(sku)s",
                              slug=slug, sku=slug_owner[slug]))
        if sku:
            seen_skus.add(sku)
        if slug and sku:
            slug_owner[slug] = sku
        errors.extend(_line_errors(line, problems))
        clean.append(values)
        if line % 500 == 0 or line - 1 == len(rows):
            progress("validate", line - 1, len(rows))
    if errors:
        raise ImportFailed(errors)

    result = ImportResult("products")
    with write():
        touched = []
        for done, values in enumerate(clean, start=1):
            gallery = [_copy_image(i, media_dir) for i in values.pop("images")]
            values["image"] = gallery[0] if gallery else ""
            product = existing.get(values["sku"])
            if product is None:
                product = Product(**values)
                result.created += 1
            else:
                changes = {k: v for k, v in values.items() if _stored(product, k) != v}
                if not changes:
                    result.unchanged += 1
                    continue
                if "stock" in changes:  # through the ledger; `save` then writes the same count
                    stock.set_count(product.id, changes["stock"], stock.STOCKTAKING, "import")
                for key, value in changes.items():
                    setattr(product, key, value)
                result.updated += 1
            product.save()
            _replace_gallery(product, gallery)
            touched.append(product)
            if done % 500 == 0 or done == len(clean):
                progress("import", done, len(clean))
        index_products(touched)
    return result


def _validate_product(row: dict, categories: dict, csv_dir: Path) -> tuple[dict, list[str]]:
    problems: list[str] = _control_characters(row)
    values: dict = {}

    sku = row.get("sku", "")
    if not _SKU.match(sku):
        problems.append(_("SKU is required: letters, digits, '.', '_' or '-', at most 64"))
    values["sku"] = sku

    name = row.get("name", "")
    if not name or len(name) > 200:
        problems.append(_("name is required (at most 200 characters)"))
    values["name"] = name

    slug = row.get("slug") or slugify(name)
    if not SLUG.fullmatch(slug) or len(slug) > 200:
        problems.append(_("slug must be lowercase letters, digits and hyphens"))
    values["slug"] = slug

    values["description"] = row.get("description", "")
    category = row.get("category", "")
    if category not in categories:
        problems.append(_("unknown category %(slug)s", slug=category or "''"))
    values["category"] = categories.get(category)

    price = _cents(row.get("price", ""))
    if price is None:
        problems.append(_("price must be an amount in euros like 12.90"))
    values["price_cents"] = price

    vat = _int(row.get("vat_rate") or "19", 0, 100)
    if vat not in VAT_RATES:
        problems.append(_("VAT rate must be 19 or 7"))
    values["vat_rate"] = vat

    stock = _int(row.get("stock") or "0", 0, MAX_STOCK)
    if stock is None:
        problems.append(_("stock must be a whole number from 0"))
    values["stock"] = stock

    for flag, default in (("active", True), ("featured", False)):
        value = _flag(row.get(flag), default)
        if value is None:
            problems.append(_("%(column)s must be 1 or 0", column=flag))
        values[flag] = value

    quantity_text, unit = row.get("content_quantity", ""), row.get("content_unit", "")
    quantity = None
    if quantity_text or unit:
        quantity = decimal_number(quantity_text)
        if quantity is None or quantity <= 0 or quantity > 1_000_000:
            problems.append(_("content quantity must be a positive number"))
        if unit not in CONTENT_UNITS:
            problems.append(_("content unit must be one of %(units)s",
                              units=", ".join(CONTENT_UNITS)))
    values["content_quantity"] = quantity
    values["content_unit"] = unit or None

    for text in ("manufacturer", "responsible_person", "warnings"):
        values[text] = row.get(text, "")
    identifier = row.get("product_identifier", "")
    if len(identifier) > 64:
        problems.append(_("product identifier is too long"))
    values["product_identifier"] = identifier

    images = [i.strip() for i in row.get("image", "").split("|") if i.strip()]
    for image in images:
        problem = _image_problem(csv_dir, image)
        if problem:
            problems.append(problem)
    values["images"] = [csv_dir / i for i in images]
    return values, problems


def _control_characters(row: dict) -> list[str]:
    """Line breaks belong in texts only; no other control character anywhere. (A name
    with a line break would end up in a mail's subject line.)"""
    problems = []
    for column, value in row.items():
        allowed = _LINE_BREAKS if column in MULTI_LINE_COLUMNS else ""
        if any(_is_control(c) and c not in allowed for c in value):
            problems.append(_("%(column)s must not contain control characters", column=column)
                            if allowed else _("%(column)s must be one line without control characters",
                                              column=column))
    return problems


def _is_control(c: str) -> bool:
    return unicodedata.category(c) in ("Cc", "Zl", "Zp")


def _stored(product: Product, key: str):
    return product.category_id if key == "category" else getattr(product, key)


def _image_problem(csv_dir: Path, name: str) -> str | None:
    path = (csv_dir / name).resolve()
    if csv_dir.resolve() not in path.parents:
        return _("image %(name)s must lie beside the CSV file", name=name)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return _("image %(name)s is not an SVG, PNG, JPEG or WebP file", name=name)
    if not path.is_file():
        return _("image %(name)s not found", name=name)
    return None


def _copy_image(source: Path, media_dir: Path) -> str:
    """Copy into `media/products/` (when new or changed); returns the media path."""
    target = media_dir / "products" / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or not filecmp.cmp(source, target, shallow=False):
        shutil.copyfile(source, target)
    return f"products/{source.name}"


def _replace_gallery(product: Product, filenames: list[str]) -> None:
    ProductImage.delete().where(ProductImage.product == product).execute()
    if filenames:
        ProductImage.insert_many(
            [dict(product=product, filename=f, alt=product.name, position=i)
             for i, f in enumerate(filenames)]
        ).execute()


def _line_number(error: str) -> int:
    match = re.search(r"\d+", error)
    return int(match.group()) if match else 0


def _line_errors(line: int, problems: list[str]) -> list[str]:
    return [_("Line %(line)d: %(problem)s", line=line, problem=p) for p in problems]


def slugify(text: str) -> str:
    """"Crème brûlée für Groß & Klein" -> "creme-brulee-fuer-gross-klein"."""
    text = text.lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(a, b)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "-", text)[:200].strip("-")


def _cents(text: str) -> int | None:
    cents = euro_cents(text, grouped_thousands=False)
    return cents if cents is not None and cents <= MAX_PRICE_CENTS else None


def _int(text: str, low: int, high: int) -> int | None:
    value = whole_number(text)
    return value if value is not None and low <= value <= high else None


def _flag(text: str | None, default: bool) -> bool | None:
    if text is None:
        return default
    text = text.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return default if text == "" else False
    return None
