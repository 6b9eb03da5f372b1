"""CSV import and export of categories and products.

An import has two phases that share one validation. `check` reads the file and writes
nothing: it validates every row and compares it with what is stored, which gives the
rows to create, update and leave as they are (the preview), or every error with its
line number. `apply` writes. A file with a bad row imports nothing. Products are
created or updated by SKU, categories by slug; a column left out of the file leaves
that field of existing rows as it is (an empty cell means the default).

Products go through both phases in chunks of CHUNK_ROWS: each chunk is read, compared
with the stored products of its SKUs and written in one transaction (bulk inserts,
the full-text index of the chunk), so a file of 100,000 rows takes flat memory and the
shop keeps taking orders between chunks. Only the SKUs and slugs seen so far are kept,
to find those that appear twice.

Image names are relative to the CSV file and copied into the media folder (`shop
import-csv`), or name files already in the media folder (an upload in the back office,
as the export writes them). The export writes the same columns, so exporting and
importing the result changes nothing; a cell that a spreadsheet would run as a formula
is written after an apostrophe, which the import takes off again.
"""
from __future__ import annotations

import csv
import datetime as dt
import filecmp
import io
import os
import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from shop.audit.service import Actor, record_many
from shop.db import db, is_sqlite, locked, now, write
from shop.forms import CONTROL as _CONTROL, CONTROL_IN_TEXT as _CONTROL_IN_TEXT, decimal_number, euro_cents, whole_number
from shop.i18n import _
from shop.i18n import lazy_gettext as _l

from .gtin import valid_gtin
from .models import (
    CONTENT_UNITS, SLUG, STOCKTAKING, VAT_RATES, Category, PriceChange, Product, ProductImage, SlugRedirect,
    StockMovement,
)
from .search import index_products

# In the order the export writes them (and the demo files have them).
PRODUCT_HEADER = (
    "sku", "slug", "name", "description", "category", "price", "vat_rate", "stock", "active",
    "content_quantity", "content_unit", "manufacturer", "responsible_person",
    "product_identifier", "warnings", "image", "featured", "ean", "low_stock_threshold",
)
CATEGORY_HEADER = ("slug", "name", "parent", "position", "description", "active")
PRODUCT_COLUMNS = set(PRODUCT_HEADER)
CATEGORY_COLUMNS = set(CATEGORY_HEADER)
# What a new product needs; for one that exists every column but the SKU may be left out.
NEW_PRODUCT_COLUMNS = ("name", "category", "price")
# The columns as an admin reads them (the preview, the messages).
COLUMN_LABELS = {
    "sku": _l("SKU"), "slug": _l("Web address (slug)"), "name": _l("Name"), "description": _l("Description"),
    "category": _l("Category"), "price": _l("Price"), "vat_rate": _l("VAT rate"), "stock": _l("Stock level"),
    "active": _l("Active"), "content_quantity": _l("Content"), "content_unit": _l("Unit"),
    "manufacturer": _l("Manufacturer"), "responsible_person": _l("Responsible person in the EU"),
    "product_identifier": _l("Product identifier"), "warnings": _l("Warnings and safety information"),
    "image": _l("Pictures"), "featured": _l("Featured"), "ean": _l("EAN"),
    "low_stock_threshold": _l("Reorder level"), "parent": _l("Parent category"), "position": _l("Position"),
}
MULTI_LINE_COLUMNS = {"description", "warnings", "manufacturer", "responsible_person"}
IMAGE_SUFFIXES = {".svg", ".png", ".jpg", ".jpeg", ".webp"}
MAX_PRICE_CENTS = 100_000_000
MAX_STOCK = 10_000_000
MAX_LOW_STOCK_THRESHOLD = 1_000_000
_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TRUE = {"1", "true", "yes", "ja", "x"}
_FALSE = {"0", "false", "no", "nein", ""}
# A cell that a spreadsheet would take for a formula (OWASP, "CSV injection"): the export
# writes it after an apostrophe, which the import takes off again. After further
# apostrophes too, so that a text beginning with "'=" comes back as it was.
_FORMULA_START = re.compile(r"'*[=+\-@\t\r]")
_GUARDED = re.compile(r"'+[=+\-@\t\r]")
_RISKY_FIRST = frozenset("'=+-@\t\r")

CHUNK_ROWS = 1000
SAMPLE_ROWS = 20  # the first rows of each kind that a preview shows
MAX_ERRORS = 1000  # a preview lists this many; it counts them all
CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"
# The columns whose change needs the product's full-text entry renewed.
SEARCHED_COLUMNS = {"name", "description", "category", "sku", "product_identifier", "ean", "manufacturer"}

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

    def counts(self) -> dict[str, int]:
        return {CREATE: self.created, UPDATE: self.updated, UNCHANGED: self.unchanged}


@dataclass
class Preview:
    """What an import would do: counts and the first rows of each kind, or the errors."""

    kind: str
    rows: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {CREATE: 0, UPDATE: 0, UNCHANGED: 0})
    samples: dict[str, list[dict]] = field(default_factory=lambda: {CREATE: [], UPDATE: [], UNCHANGED: []})
    errors: list[tuple[int, str]] = field(default_factory=list)
    error_count: int = 0

    def add(self, planned: Iterable[Planned], errors: list[tuple[int, str]]) -> None:
        for row in planned:
            self.rows += 1
            self.counts[row.action] += 1
            if len(self.samples[row.action]) < SAMPLE_ROWS:
                self.samples[row.action].append(
                    {"line": row.line, "key": row.key, "name": row.name, "changes": row.changes})
        self.error_count += len(errors)
        self.errors.extend(errors[:MAX_ERRORS - len(self.errors)])

    def error_texts(self) -> list[str]:
        texts = [text for _line, text in sorted(self.errors, key=lambda e: e[0])]
        if self.error_count > len(texts):
            texts.append(_("… and %(count)d more problems", count=self.error_count - len(texts)))
        return texts

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "rows": self.rows, "counts": self.counts, "samples": self.samples,
                "error_count": self.error_count}


@dataclass
class Planned:
    """One valid row and what importing it does."""

    line: int
    key: str  # the SKU, or the category's slug
    name: str
    action: str  # CREATE, UPDATE or UNCHANGED
    changes: dict[str, list]  # {column: [stored text, new text]} (stored: None when created)
    values: dict[str, Any]  # the validated row
    stored: dict[str, Any] | None = None  # the stored row it updates
    gallery: list[str] = field(default_factory=list)  # image names as stored
    stored_images: list[dict] = field(default_factory=list)


# -- the file -----------------------------------------------------------------------

@dataclass(frozen=True)
class CsvFile:
    """A catalogue file: its kind (told apart by the header), its columns and separator."""

    path: Path
    kind: str  # "products" or "categories"
    header: tuple[str, ...]
    delimiter: str

    def rows(self, skip: int = 0) -> Iterator[tuple[int, dict[str, str]]]:
        """(line, row) for each data row after the first `skip` ones, values stripped.
        Line 1 is the header; a line is a row as a spreadsheet counts them (a cell may
        hold line breaks), and empty rows count but are left out."""
        line = 1
        done = 0
        reader: Any = None
        try:
            with self.path.open(newline="", encoding="utf-8-sig") as f:
                reader = csv.reader(f, delimiter=self.delimiter)
                next(reader, None)
                for fields in reader:
                    line += 1
                    if not any(fields):
                        continue
                    done += 1
                    if done > skip:
                        yield line, {k: _unguarded(v.strip()) for k, v in zip(self.header, fields) if k}
        except UnicodeDecodeError:
            raise ImportFailed([not_utf8()]) from None
        except csv.Error:
            raise ImportFailed([_("Line %(line)d: %(problem)s", line=line + 1, problem=not_csv())]) from None

    def count(self) -> int:
        """The number of data rows."""
        return sum(1 for _row in self.rows())


def not_utf8() -> str:
    """What to do with a file in another encoding: Excel's plain "CSV" is Windows-1252."""
    return _("The file is not saved as UTF-8 text, so its umlauts would be read wrongly. In Excel, choose "
             "“Save as” and the file type “CSV UTF-8 (Comma delimited)”, then upload "
             "the file again.")


def not_csv() -> str:
    return _("The file is not valid CSV here: a quotation mark may be missing, or a cell is too long.")


def open_csv(path: Path) -> CsvFile:
    """Read a file's header: separated by semicolons or commas (whichever the header line
    has more of), UTF-8 with or without a byte order mark."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            first = f.readline(64 * 1024)
    except UnicodeDecodeError:
        raise ImportFailed([not_utf8()]) from None
    if "\x00" in first:
        raise ImportFailed([not_utf8()])
    if not first.strip():
        raise ImportFailed([_("The file is empty. It needs a first line with the column names (such as sku, "
                              "name, category, price) and a line for each product or category below it.")])
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        names = next(csv.reader([first], delimiter=delimiter), [])
    except csv.Error:
        raise ImportFailed([not_csv()]) from None
    header = tuple(name.strip().lower() for name in names)
    twice = sorted({name for name in header if name and header.count(name) > 1})
    if twice:
        raise ImportFailed([_("Columns appear twice: %(columns)s", columns=", ".join(twice))])
    columns = set(header)
    if "sku" in columns:
        return CsvFile(path, "products", header, delimiter)
    if {"slug", "name"} <= columns:
        return CsvFile(path, "categories", header, delimiter)
    raise ImportFailed([_("Unknown file: expected a products file (with a 'sku' column) "
                          "or a categories file (with 'slug' and 'name').")])


@dataclass(frozen=True)
class Images:
    """Where the image names of a file point: beside the CSV file (copied into the media
    folder on import) or into the media folder itself."""

    folder: Path
    media_dir: Path
    in_media: bool

    @classmethod
    def beside(cls, csv_path: Path, media_dir: Path) -> Images:
        return cls(Path(csv_path).parent, Path(media_dir), in_media=False)

    @classmethod
    def in_media_folder(cls, media_dir: Path) -> Images:
        return cls(Path(media_dir), Path(media_dir), in_media=True)

    def stored_name(self, path: Path) -> str:
        """The name the product keeps (relative to the media folder; a checked name, so
        its normal form lies inside it)."""
        if self.in_media:
            inside = os.path.normpath(path)[len(os.path.normpath(self.media_dir)) + 1:]
            return inside.replace(os.sep, "/")
        return f"products/{path.name}"

    def bring(self, path: Path) -> None:
        """Copy a picture beside the CSV file into `media/products/` (when new or changed)."""
        if self.in_media:
            return
        target = self.media_dir / "products" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or not filecmp.cmp(path, target, shallow=False):
            shutil.copyfile(path, target)


# -- the phases -----------------------------------------------------------------------

def import_csv(path: Path, media_dir: Path, progress: Progress | None = None) -> ImportResult:
    """Import a categories or products file (told apart by its header), its pictures
    beside it: every row is checked before anything is written. Raises ImportFailed."""
    file = open_csv(path)
    images = Images.beside(path, media_dir)
    total = file.count()
    preview = check(file, images, progress, total=total)
    if preview.error_count:
        raise ImportFailed(preview.error_texts())
    return apply(file, images, progress=progress, total=total)


def check(file: CsvFile, images: Images, progress: Progress | None = None, *, total: int = 0) -> Preview:
    """What importing the file would do, writing nothing."""
    progress = progress or _no_progress
    preview = Preview(file.kind)
    if file.kind == "categories":
        planned, errors = _CategoryRows(file).plan(list(file.rows()))
        preview.add(planned, errors)
        progress("validate", preview.rows, preview.rows)
        return preview
    rows = _ProductRows(file, images)
    done = 0
    for chunk in _chunks(file.rows(), CHUNK_ROWS):
        planned, errors = rows.plan(chunk)
        preview.add(planned, errors)
        done += len(chunk)
        progress("validate", done, max(total, done))
    return preview


AfterChunk = Callable[[int, ImportResult], None]


def apply(file: CsvFile, images: Images, *, actor: Actor | None = None, stock_actor: str = "import",
          filename: str = "", progress: Progress | None = None, total: int = 0, skip: int = 0,
          result: ImportResult | None = None, after_chunk: AfterChunk | None = None) -> ImportResult:
    """Import the file, chunk by chunk, each in its own transaction, checking each chunk
    again against what is stored now. `actor` gets an audit entry per changed row; a
    stock it sets is booked for `stock_actor`, noted with the file's name (`filename`
    as the admin uploaded it, else the file's own); `skip` rows at the start were imported already (`result` counts them), and
    `after_chunk(rows done, result)` runs inside each chunk's transaction (to keep a
    job's progress with what was written). Raises ImportFailed, having written nothing
    of that chunk, when the data changed since the check."""
    progress = progress or _no_progress
    result = result or ImportResult(file.kind)
    done = skip
    if file.kind == "categories":
        with write():
            planned, errors = _CategoryRows(file).plan(list(file.rows()), lock=True)
            if errors:
                raise ImportFailed([text for _line, text in sorted(errors, key=lambda e: e[0])])
            _write_categories(planned, actor, result)
            done = len(planned)
            if after_chunk:
                after_chunk(done, result)
        progress("import", done, done)
        return result
    rows = _ProductRows(file, images)
    booked = {"actor": stock_actor, "note": _("CSV import of %(file)s", file=filename or file.path.name)[:255]}
    for chunk in _chunks(file.rows(skip=skip), CHUNK_ROWS):
        if not images.in_media:  # copied before the transaction; a bad name is no path
            for _line, row in chunk:
                for name in _image_names(row):
                    if _image_problem(images.folder, name) is None:
                        images.bring(images.folder / name)
        with write():
            planned, errors = rows.plan(chunk, lock=True)
            if errors:
                raise ImportFailed([text for _line, text in errors])
            rows.write(planned, actor, booked, result)
            done += len(planned)
            if after_chunk:
                after_chunk(done, result)
        progress("import", done, total or done)
    return result


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


# -- categories ---------------------------------------------------------------------

class _CategoryRows:
    def __init__(self, file: CsvFile):
        self.present = set(file.header) & CATEGORY_COLUMNS

    def plan(self, rows: list[tuple[int, dict]], lock: bool = False) -> tuple[list[Planned], list[tuple[int, str]]]:
        stored = {c["slug"]: c for c in _rows(locked(Category.select()) if lock else Category.select())}
        slug_of = {c["id"]: slug for slug, c in stored.items()}
        stored_parent = {slug: slug_of.get(c["parent"], "") for slug, c in stored.items()}
        seen: dict[str, tuple[int, dict]] = {}
        errors: list[tuple[int, str]] = []
        for line, row in rows:
            problems = _control_characters(row)
            slug = row.get("slug", "")
            if not SLUG.fullmatch(slug):
                problems.append(_("slug must be lowercase letters, digits and hyphens"))
            elif slug in seen:
                problems.append(_("slug %(slug)s appears twice", slug=slug))
            if not row.get("name") or len(row["name"]) > 120:
                problems.append(_("name is required (at most 120 characters)"))
            position = _int(row.get("position") or "0", 0, 100_000)
            if position is None:
                problems.append(_("position must be a whole number"))
            active = _flag(row.get("active"), True)
            if active is None:
                problems.append(_("%(column)s must be 1 or 0", column=_column_name("active")))
            values = {"slug": slug, "name": row.get("name", ""), "position": position,
                      "description": row.get("description", ""), "active": active,
                      "parent": row.get("parent", "") if "parent" in self.present else stored_parent.get(slug, "")}
            errors.extend(_line_errors(line, problems))
            seen[slug or f"#{line}"] = (line, values)
        # Two levels only: a parent must itself be top level, as the file leaves it.
        parents = {**stored_parent, **{slug: values["parent"] for slug, (_l, values) in seen.items()}}
        for slug, (line, values) in seen.items():
            parent = values["parent"]
            if parent and parent not in parents:
                errors.extend(_line_errors(line, [_("unknown parent category %(slug)s", slug=parent)]))
            elif parent and (parent == slug or parents.get(parent) or slug in parents.values()):
                errors.extend(_line_errors(line, [_("categories have two levels only")]))
        if errors:
            return [], errors
        planned = []
        for slug, (line, values) in seen.items():
            new = _category_text(values)
            old_row = stored.get(slug)
            if old_row is None:
                action, changes = CREATE, {k: [None, v] for k, v in new.items() if v}
            else:
                old = _category_text({**old_row, "parent": stored_parent[slug]})
                changes = {k: [old[k], new[k]] for k in CATEGORY_HEADER
                           if k in self.present and k != "slug" and old[k] != new[k]}
                action = UPDATE if changes else UNCHANGED
            planned.append(Planned(line, slug, values["name"], action, changes, values, old_row))
        return planned, []


def _category_text(values: Mapping[str, Any]) -> dict[str, str]:
    return {"slug": values["slug"], "name": values["name"].strip(), "parent": values["parent"] or "",
            "position": str(values["position"]), "description": (values["description"] or "").strip(),
            "active": "1" if values["active"] else "0"}


_CATEGORY_FIELDS = {"name", "position", "description", "active"}


def _write_categories(planned: list[Planned], actor: Actor | None, result: ImportResult) -> None:
    ids = _pairs(Category.select(Category.slug, Category.id))
    audit = []
    # Top levels first, so a new parent exists before its children.
    for row in sorted(planned, key=lambda r: bool(r.values["parent"])):
        if row.action == UNCHANGED:
            result.unchanged += 1
            continue
        parent = ids.get(row.values["parent"]) if row.values["parent"] else None
        if row.action == CREATE:
            category = Category.create(slug=row.key, parent=parent,
                                       **{k: row.values[k] for k in _CATEGORY_FIELDS})
            ids[row.key] = category.id
            result.created += 1
        else:
            values: dict[str, Any] = {k: row.values[k] for k in _CATEGORY_FIELDS if k in row.changes}
            if "parent" in row.changes:
                values["parent"] = parent
            Category.update(values).where(Category.id == ids[row.key]).execute()
            result.updated += 1
        audit.append((ids[row.key], row.name, row.changes))
    if actor is not None:
        record_many(actor, "import", "category", audit)


# -- products -----------------------------------------------------------------------

_STORED_FIELDS = (
    Product.id, Product.sku, Product.slug, Product.name, Product.description, Product.category,
    Product.price_cents, Product.vat_rate, Product.stock, Product.active, Product.featured, Product.image,
    Product.image_widths, Product.content_quantity, Product.content_unit, Product.manufacturer,
    Product.responsible_person, Product.product_identifier, Product.warnings, Product.ean,
    Product.low_stock_threshold,
)
# Columns and the product fields they set (the image column: the gallery, see write).
_PRODUCT_FIELDS = {
    "slug": "slug", "name": "name", "description": "description", "category": "category",
    "price": "price_cents", "vat_rate": "vat_rate", "active": "active", "featured": "featured",
    "content_quantity": "content_quantity", "content_unit": "content_unit", "manufacturer": "manufacturer",
    "responsible_person": "responsible_person", "product_identifier": "product_identifier",
    "warnings": "warnings", "ean": "ean", "low_stock_threshold": "low_stock_threshold",
}


class _ProductRows:
    """The rules across rows (a SKU or slug twice) and the comparison with the stored
    products, one chunk at a time; shared by check and apply."""

    def __init__(self, file: CsvFile, images: Images):
        self.images = images
        self.present = set(file.header) & PRODUCT_COLUMNS
        self.missing = [column for column in NEW_PRODUCT_COLUMNS if column not in self.present]
        self.categories = _pairs(Category.select(Category.slug, Category.id))
        self.category_slug = {id_: slug for slug, id_ in self.categories.items()}
        self.seen_skus: set[str] = set()
        self.slug_owner: dict[str, str] = {}  # slugs given in the file so far, and their SKU
        self.real_dirs: dict[Path, Path] = {}

    def plan(self, chunk: list[tuple[int, dict]], lock: bool = False) -> tuple[list[Planned], list[tuple[int, str]]]:
        skus = [row.get("sku", "") for _line, row in chunk]
        query = Product.select(*_STORED_FIELDS).where(Product.sku.in_(skus))
        stored = {p["sku"]: p for p in _rows(locked(query) if lock else query)}
        galleries = _galleries([p["id"] for p in stored.values()])
        validated = []
        for line, row in chunk:
            known = stored.get(row.get("sku", ""))
            if known is None and self.missing:
                validated.append((line, {"sku": row.get("sku", ""), "slug": row.get("slug", "")}, [_(
                    "SKU %(sku)s is not in the shop yet: for a new product the file needs the columns "
                    "%(columns)s", sku=row.get("sku", ""), columns=", ".join(self.missing))]))
                continue
            if known and not row.get("slug"):
                row["slug"] = known["slug"]  # an existing product keeps its address
            validated.append((line, *_validate_product(row, self.categories, self.images.folder,
                                                       self.images.in_media, self.real_dirs,
                                                       self._left_out(known))))
        slugs = [values["slug"] for _line, values, _p in validated if values.get("slug")]
        slug_owner = _pairs(Product.select(Product.slug, Product.sku).where(Product.slug.in_(slugs)))
        planned, errors = [], []
        for line, values, problems in validated:
            sku, slug = values["sku"], values["slug"]
            if sku and sku in self.seen_skus:
                problems.append(_("SKU %(sku)s appears twice in the file", sku=sku))
            owner = self.slug_owner.get(slug) or slug_owner.get(slug)
            if slug and sku and owner not in (None, sku):
                problems.append(_("slug %(slug)s is already used by SKU %(sku)s", slug=slug, sku=owner))
            if sku:
                self.seen_skus.add(sku)
                if slug:
                    self.slug_owner[slug] = sku
            if problems:
                errors.extend(_line_errors(line, problems))
                continue
            planned.append(self._compare(line, values, stored.get(sku), galleries))
        return planned, errors

    def _left_out(self, known: dict | None) -> dict[str, str]:
        """The stored values of the columns a new product needs and the file leaves out
        (an existing product keeps them)."""
        if known is None or not self.missing:
            return {}
        stored = {"name": known["name"], "category": self.category_slug[known["category"]],
                  "price": _money_text(known["price_cents"], decimal_comma=False)}
        return {column: stored[column] for column in self.missing}

    def _compare(self, line: int, values: dict, stored: dict | None, galleries: dict) -> Planned:
        gallery = [self.images.stored_name(path) for path in values["images"]]
        new = _product_text(values, self.category_slug[values["category"]], gallery)
        if stored is None:
            changes: dict[str, list] = {k: [None, v] for k, v in new.items() if v}
            return Planned(line, values["sku"], values["name"], CREATE, changes, values, None, gallery)
        stored_images = galleries.get(stored["id"], [])
        old = _product_text(stored, self.category_slug[stored["category"]],
                            _gallery_names(stored, stored_images))
        changes = {k: [old[k], new[k]] for k in PRODUCT_HEADER
                   if k in self.present and k != "sku" and old[k] != new[k]}
        return Planned(line, values["sku"], values["name"], UPDATE if changes else UNCHANGED, changes,
                       values, stored, gallery, stored_images)

    def write(self, planned: list[Planned], actor: Actor | None, booked: dict[str, str],
              result: ImportResult) -> None:
        """Write one checked chunk; call inside its transaction. `booked`: the actor and
        note of its stock movements."""
        at = now()
        creates = [p for p in planned if p.action == CREATE]
        updates = [p for p in planned if p.action == UPDATE]
        result.unchanged += len(planned) - len(creates) - len(updates)
        ids = self._create(creates, booked, at) if creates else {}
        ids.update(self._update(updates, booked, at))
        result.created += len(creates)
        result.updated += len(updates)
        searched = [row for row in creates + updates
                    if row.action == CREATE or SEARCHED_COLUMNS & row.changes.keys()]
        index_products([_as_product(ids[row.key], row) for row in searched])
        if actor is not None:
            record_many(actor, "import", "product", [(ids[row.key], row.name, row.changes)
                                                     for row in creates + updates])

    def _create(self, rows: list[Planned], booked: dict[str, str], at: dt.datetime) -> dict[str, int]:
        _insert(Product, [{**_product_fields(row.values), "image": row.gallery[0] if row.gallery else "",
                           "created_at": at, "updated_at": at} for row in rows])
        ids = _pairs(Product.select(Product.sku, Product.id).where(Product.sku.in_([r.key for r in rows])))
        # What Product.save does for one new product: its first price and stock movement.
        _insert(PriceChange, [{"product": ids[r.key], "price_cents": r.values["price_cents"], "changed_at": at}
                              for r in rows])
        _insert(StockMovement, [{"product": ids[r.key], "change": r.values["stock"], "reason": STOCKTAKING,
                                 **booked, "created_at": at}
                                for r in rows if r.values["stock"]])
        _insert(ProductImage, [{"product": ids[r.key], "filename": name, "alt": r.name[:255], "position": i}
                               for r in rows for i, name in enumerate(r.gallery)])
        # A new product's address is its own, no longer a redirect to another.
        SlugRedirect.delete().where(SlugRedirect.old_slug.in_([r.values["slug"] for r in rows])).execute()
        return ids

    def _update(self, rows: list[Planned], booked: dict[str, str], at: dt.datetime) -> dict[str, int]:
        """Write the changed fields, grouped by which fields change (one statement each);
        a new stock as a stocktaking in the ledger, a new price in the price history."""
        groups: dict[tuple[str, ...], list[list]] = {}
        movements, prices = [], []
        for row in rows:
            assert row.stored is not None
            product_id = row.stored["id"]
            fields = _product_fields(row.values)
            values: dict[str, Any] = {_PRODUCT_FIELDS[k]: fields[_PRODUCT_FIELDS[k]]
                                      for k in row.changes if k in _PRODUCT_FIELDS}
            if "content_quantity" in values or "content_unit" in values:  # they go together
                values.update(content_quantity=fields["content_quantity"], content_unit=fields["content_unit"])
            if "stock" in row.changes:
                # The row is locked in this transaction: the ledger's movement takes it
                # from the stored count to the new one (stock.set_count, for a chunk).
                values["stock"] = row.values["stock"]
                movements.append({"product": product_id, "change": row.values["stock"] - row.stored["stock"],
                                  "reason": STOCKTAKING, **booked, "created_at": at})
            if "price" in row.changes:
                prices.append({"product": product_id, "price_cents": row.values["price_cents"], "changed_at": at})
            if "image" in row.changes:
                values.update(self._replace_gallery(product_id, row))
            if "slug" in row.changes:  # the old address answers with a redirect to the new one
                SlugRedirect.delete().where(SlugRedirect.old_slug == row.values["slug"]).execute()
                SlugRedirect.insert(old_slug=row.stored["slug"], product=product_id, created_at=at).on_conflict(
                    preserve=[SlugRedirect.product, SlugRedirect.created_at],
                    conflict_target=[SlugRedirect.old_slug],
                ).execute()
            names = tuple(sorted(values))
            groups.setdefault(names, []).append([values[name] for name in names] + [at, product_id])
        for names, params in groups.items():
            _update_products(names, params)
        _insert(StockMovement, movements)
        _insert(PriceChange, prices)
        return {row.key: row.stored["id"] for row in rows if row.stored}

    @staticmethod
    def _replace_gallery(product_id: int, row: Planned) -> dict[str, Any]:
        """The new pictures; those kept keep their text and renditions. Returns the
        product's own image fields."""
        assert row.stored is not None
        widths = {image["filename"]: image["widths"] for image in row.stored_images}
        widths.setdefault(row.stored["image"], row.stored["image_widths"])
        alts = {image["filename"]: image["alt"] for image in row.stored_images}
        ProductImage.delete().where(ProductImage.product == product_id).execute()
        _insert(ProductImage, [
            {"product": product_id, "filename": name, "alt": alts.get(name, row.name[:255]), "position": i,
             "widths": widths.get(name, "")} for i, name in enumerate(row.gallery)])
        first = row.gallery[0] if row.gallery else ""
        return {"image": first, "image_widths": widths.get(first, "") if first else ""}


def _update_products(names: tuple[str, ...], params: list[list]) -> None:
    """Set the fields `names` of many products: each of `params` holds their values, the
    time of the change and the product's id. Raises the product's version, so a form
    opened before the import cannot overwrite it."""
    if not is_sqlite():
        for *values, at, product_id in params:
            Product.update({**dict(zip(names, values)), "updated_at": at, "version": Product.version + 1}).where(
                Product.id == product_id).execute()
        return
    fields = [Product._meta.fields[name] for name in names] + [Product.updated_at]
    assignments = ", ".join(f'"{field.column_name}" = ?' for field in fields)
    db.cursor().executemany(
        f'UPDATE "product" SET {assignments}, "version" = "version" + 1 WHERE "id" = ?',
        [[field.db_value(value) for field, value in zip(fields, row[:-1])] + [row[-1]] for row in params])


def _galleries(product_ids: list[int]) -> dict[int, list[dict]]:
    galleries: dict[int, list[dict]] = {}
    if product_ids:
        query = (ProductImage.select(ProductImage.product, ProductImage.filename, ProductImage.alt,
                                     ProductImage.widths)
                 .where(ProductImage.product.in_(product_ids))
                 .order_by(ProductImage.product, ProductImage.position, ProductImage.id))
        for image in _rows(query):
            galleries.setdefault(image["product"], []).append(image)
    return galleries


def _gallery_names(product: Mapping[str, Any], images: list[dict]) -> list[str]:
    """A product's pictures in order: its gallery, else its one image."""
    if images:
        return [image["filename"] for image in images]
    return [product["image"]] if product["image"] else []


def _product_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """The product's fields from a validated row."""
    return {name: values[name] for name in (
        "sku", "slug", "name", "description", "category", "price_cents", "vat_rate", "stock", "active",
        "featured", "content_quantity", "content_unit", "manufacturer", "responsible_person",
        "product_identifier", "warnings", "ean", "low_stock_threshold")}


def _as_product(product_id: int, row: Planned) -> Product:
    """The product as the search index reads it: a new one as the file has it, a stored
    one with the file's changes (a column left out of the file is no change)."""
    fields = _product_fields(row.values)
    if row.stored is None:
        values = fields
    else:
        values = {**row.stored, **{_PRODUCT_FIELDS[k]: fields[_PRODUCT_FIELDS[k]]
                                   for k in row.changes if k in _PRODUCT_FIELDS}}
    return Product(id=product_id, category=values["category"], name=values["name"],
                   description=values["description"], sku=values["sku"],
                   product_identifier=values["product_identifier"], ean=values["ean"],
                   manufacturer=values["manufacturer"])


def _image_names(row: Mapping[str, str]) -> list[str]:
    return [name.strip() for name in row.get("image", "").split("|") if name.strip()]


# -- one row --------------------------------------------------------------------------

def _validate_product(row: dict, categories: Mapping[str, int], csv_dir: Path,
                      in_media: bool = False, real_dirs: dict[Path, Path] | None = None,
                      left_out: Mapping[str, str] | None = None) -> tuple[dict, list[str]]:
    """The values of one product row and its problems (in the current language).
    Image names are relative to `csv_dir` (the media folder, if `in_media`); `left_out`
    has the stored text of columns the file leaves out."""
    problems: list[str] = _control_characters(row)
    row = {**(left_out or {}), **row}
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
    if not category:
        problems.append(_("category is required"))
    elif category not in categories:
        problems.append(_("unknown category %(slug)s", slug=category))
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
            problems.append(_("%(column)s must be 1 or 0", column=_column_name(flag)))
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

    ean = row.get("ean", "").replace(" ", "")
    if ean and not valid_gtin(ean):
        problems.append(_("EAN must have 8 or 13 digits with the right check digit"))
    values["ean"] = ean

    threshold_text = row.get("low_stock_threshold", "")
    threshold = _int(threshold_text, 0, MAX_LOW_STOCK_THRESHOLD) if threshold_text else None
    if threshold_text and threshold is None:
        problems.append(_("reorder level (low_stock_threshold) must be a whole number from 0 to 1,000,000, "
                          "or empty for the shop's default"))
    values["low_stock_threshold"] = threshold

    images = _image_names(row)
    for image in images:
        problem = _image_problem(csv_dir, image, in_media, real_dirs)
        if problem:
            problems.append(problem)
    values["images"] = [csv_dir / i for i in images]
    return values, problems


def _control_characters(row: Mapping[str, str]) -> list[str]:
    """Line breaks belong in texts only; no other control character anywhere. (A name
    with a line break would end up in a mail's subject line.)"""
    problems = []
    for column, value in row.items():
        if column in MULTI_LINE_COLUMNS:
            if _CONTROL_IN_TEXT.search(value):
                problems.append(_("%(column)s must not contain control characters", column=_column_name(column)))
        elif _CONTROL.search(value):
            problems.append(_("%(column)s must be one line without control characters",
                              column=_column_name(column)))
    return problems


def _column_name(column: str) -> str:
    """A column in a message: its label and, to find it in the file, its name."""
    label = str(COLUMN_LABELS.get(column, column))
    return label if column.lower() in label.lower() else f"{label} ({column})"


def _image_problem(folder: Path, name: str, in_media: bool = False,
                   real_dirs: dict[Path, Path] | None = None) -> str | None:
    """What is wrong with an image name, if anything. `real_dirs` keeps the folders
    resolved during one import (most pictures share a few)."""
    real_dirs = {} if real_dirs is None else real_dirs
    path = folder / name
    if path.parent not in real_dirs:
        real_dirs[path.parent] = path.parent.resolve()
    if folder not in real_dirs:
        real_dirs[folder] = folder.resolve()
    path = path.resolve() if path.is_symlink() else real_dirs[path.parent] / path.name
    if real_dirs[folder] not in path.parents:
        return (_("image %(name)s must lie in the media folder", name=name) if in_media
                else _("image %(name)s must lie beside the CSV file", name=name))
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return _("image %(name)s is not an SVG, PNG, JPEG or WebP file", name=name)
    if not path.is_file():
        return _("image %(name)s not found", name=name)
    return None


def _line_errors(line: int, problems: list[str]) -> list[tuple[int, str]]:
    return [(line, _("Line %(line)d: %(problem)s", line=line, problem=p)) for p in problems]


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


def _insert(model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows (all with the same keys). On SQLite one prepared statement run
    for each row is several times faster than the single statement Peewee builds (most
    of an import's time went into building it); elsewhere that statement, in batches."""
    if not rows:
        return
    if not is_sqlite():
        for batch in _chunks(rows, 500):
            model.insert_many(batch).execute()
        return
    fields = [field for field in model._meta.sorted_fields if not field.primary_key]
    # The defaults of the fields not given, as Peewee would fill them in.
    defaults = {field.name: field.default() if callable(field.default) else field.default for field in fields}
    columns = ", ".join(f'"{field.column_name}"' for field in fields)
    sql = (f'INSERT INTO "{model._meta.table_name}" ({columns}) '
           f'VALUES ({", ".join("?" for _field in fields)})')
    db.cursor().executemany(sql, [[field.db_value(row.get(field.name, defaults[field.name])) for field in fields]
                                  for row in rows])


def _rows(query: Any) -> list[dict[str, Any]]:
    """A query's rows as dicts (which Peewee's type stubs take for models)."""
    return list(query.dicts())


def _pairs(query: Any) -> dict[Any, Any]:
    """A query of two columns as {first: second}."""
    return dict(query.tuples())


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# -- the export ---------------------------------------------------------------------

def _product_text(values: Mapping[str, Any], category: str, gallery: list[str],
                  decimal_comma: bool = False) -> dict[str, str]:
    """A product (stored, or a validated row) as the columns of a file: what the export
    writes, and what an import compares."""
    return {
        "sku": values["sku"], "slug": values["slug"], "name": values["name"].strip(),
        "description": (values["description"] or "").strip(), "category": category,
        "price": _money_text(values["price_cents"], decimal_comma), "vat_rate": str(values["vat_rate"]),
        "stock": str(values["stock"]), "active": "1" if values["active"] else "0",
        "content_quantity": _decimal_text(values["content_quantity"], decimal_comma),
        "content_unit": values["content_unit"] or "",
        "manufacturer": (values["manufacturer"] or "").strip(),
        "responsible_person": (values["responsible_person"] or "").strip(),
        "product_identifier": (values["product_identifier"] or "").strip(),
        "warnings": (values["warnings"] or "").strip(), "image": "|".join(gallery),
        "featured": "1" if values["featured"] else "0", "ean": values["ean"] or "",
        "low_stock_threshold": "" if values["low_stock_threshold"] is None else str(values["low_stock_threshold"]),
    }


def _money_text(cents: int, decimal_comma: bool) -> str:
    return f"{cents // 100}{',' if decimal_comma else '.'}{cents % 100:02d}"


def _decimal_text(value: Decimal | None, decimal_comma: bool) -> str:
    if value is None:
        return ""
    text = format(Decimal(value).normalize(), "f")
    return text.replace(".", ",") if decimal_comma else text


def _csv_text(rows: Iterable[Iterable[str]], delimiter: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows([_guarded(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def _guarded(cell: str) -> str:
    """A cell as exported: one that a spreadsheet would run as a formula (it begins with
    =, +, -, @, a tab or a carriage return, after any apostrophes) behind an apostrophe."""
    return "'" + cell if cell[:1] in _RISKY_FIRST and _FORMULA_START.match(cell) else cell


def _unguarded(cell: str) -> str:
    """A cell as imported: the apostrophe that the export put before it taken off."""
    return cell[1:] if cell[:1] == "'" and _GUARDED.match(cell) else cell


def export_header(kind: str, delimiter: str) -> str:
    """The header line of an export, after the byte order mark that tells Excel it is UTF-8."""
    return "\ufeff" + _csv_text([PRODUCT_HEADER if kind == "products" else CATEGORY_HEADER], delimiter)


def export_products(after_id: int, limit: int, delimiter: str) -> tuple[str, int | None]:
    """The next `limit` products after `after_id` (by id) as CSV lines, and the id to go on
    after (None at the end). With `;` (German Excel) amounts have a decimal comma."""
    products = _rows(Product.select(*_STORED_FIELDS).where(Product.id > after_id)
                     .order_by(Product.id).limit(limit))
    if not products:
        return "", None
    slugs = _pairs(Category.select(Category.id, Category.slug))
    galleries = _galleries([p["id"] for p in products])
    comma = delimiter == ";"
    rows = []
    for product in products:
        text = _product_text(product, slugs[product["category"]],
                             _gallery_names(product, galleries.get(product["id"], [])), comma)
        rows.append([text[column] for column in PRODUCT_HEADER])
    return _csv_text(rows, delimiter), products[-1]["id"]


def export_categories(delimiter: str) -> str:
    """All categories as CSV lines, each top level before its children."""
    categories = _rows(Category.select().order_by(Category.position, Category.name, Category.id))
    slugs = {c["id"]: c["slug"] for c in categories}
    ordered = sorted(categories, key=lambda c: c["parent"] is not None)
    rows = []
    for category in ordered:
        text = _category_text({**category, "parent": slugs.get(category["parent"], "")})
        rows.append([text[column] for column in CATEGORY_HEADER])
    return _csv_text(rows, delimiter)
