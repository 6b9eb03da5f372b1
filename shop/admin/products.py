"""The products table: search as you type, filters, sorting and pages; rows edited in
place (htmx edit-row, or `?edit=ID` without JavaScript); bulk changes with a
confirmation step."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

from markupsafe import Markup
from peewee import JOIN, fn
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from shop import i18n
from shop.admin.actor import actor
from shop.admin.table import PAGE_SIZES, Column, Filter, State, Table
from shop.audit.models import AuditEntry
from shop.audit.service import Actor, changes, record, record_many
from shop.catalog import stock
from shop.catalog.importer import MAX_PRICE_CENTS
from shop.catalog.models import CatalogVersion, Category, PriceChange, Product
from shop.catalog.queries import VersionedCache, all_categories
from shop.catalog.search import index_products, matching_ids, terms
from shop.db import Prepared, locked, now, run_db, write
from shop.forms import EuroField, ShopForm, WholeNumberField, euro_cents, text, whole_number
from shop.i18n import _, format_money, format_number, ngettext
from shop.i18n import lazy_gettext as _l
from shop.pricing import round_cents
from shop.web import flash, form_data, form_key, is_htmx, render, see_other, url_path

SOLD_OUT, LOW, IN_STOCK = "out", "low", "in"
# The fields a row edits, as the table shows them.
ROW_FIELDS = ("name", "price_cents", "stock", "category", "active")
BULK_PREVIEW_ROWS = 10
MAX_BULK = 100_000

COLUMNS = [
    Column("image", _l("Image")),
    Column("sku", _l("SKU"), Product.sku),
    Column("name", _l("Name"), Product.name),
    Column("category", _l("Category"), Category.name),
    Column("price", _l("Price"), Product.price_cents, numeric=True),
    Column("stock", _l("Stock"), Product.stock, numeric=True),
    Column("active", _l("Active"), Product.active),
    Column("updated", _l("Last change"), Product.updated_at, numeric=True),
]


def _table(categories: list[Category]) -> Table:
    category_choices: list[tuple[str, Any]] = [("", _l("All categories"))] + [
        (str(c.id), f"– {c.name}" if c.parent_id else c.name) for c in categories
    ]
    return Table(COLUMNS, [
        Filter("category", _l("Category"), tuple(category_choices)),
        Filter("active", _l("Status"), (("", _l("Active and inactive")), ("yes", _l("Active")),
                                        ("no", _l("Inactive")))),
        Filter("stock", _l("Stock"), (("", _l("Any stock")), (SOLD_OUT, _l("Sold out")),
                                      (LOW, _l("Low")), (IN_STOCK, _l("In stock")))),
    ], default_sort="updated", default_descending=True, tiebreak=Product.id)


# -- queries -------------------------------------------------------------------

def matching_products(state: State, categories: list[Category], low_default: int, walk: bool = False):
    """The products the table's search and filters select (unordered). With `walk`, the
    filters keep off their indexes (`column + 0`), so that the database walks the index
    of the sort order instead: much faster when many rows match."""
    def plain(column):
        return column + 0 if walk else column

    query = Product.select(
        Product.id, Product.sku, Product.name, Product.slug, Product.image, Product.price_cents,
        Product.stock, Product.active, Product.updated_at, Product.category, Product.version,
        Product.low_stock_threshold,
    )
    code = _code_match(state.q)
    words = terms(state.q)
    if code is not None:
        query = query.where(code)
    elif words:
        query = query.where(plain(Product.id).in_(matching_ids(words, names_only=True)))
    elif state.q:
        query = query.where(Product.id.is_null())  # punctuation alone finds nothing
    category = state.filters.get("category")
    if category:
        ids = [int(category)] + [c.id for c in categories if str(c.parent_id) == category]
        query = query.where(plain(Product.category).in_(ids))
    if state.filters.get("active") == "yes":
        query = query.where(Product.active == True)  # noqa: E712
    elif state.filters.get("active") == "no":
        query = query.where(Product.active == False)  # noqa: E712
    threshold = fn.COALESCE(Product.low_stock_threshold, low_default)
    level = state.filters.get("stock")
    if level == SOLD_OUT:
        query = query.where(plain(Product.stock) == 0)
    elif level == LOW:
        # The range lets the stock index find the few low ones among many.
        highest = max(low_default, highest_threshold())
        query = query.where(plain(Product.stock).between(1, highest) & (Product.stock <= threshold))
    elif level == IN_STOCK:
        query = query.where(Product.stock > threshold)
    return query


def highest_threshold() -> int:
    return Product.select(fn.MAX(Product.low_stock_threshold)).scalar() or 0


def _code_match(text: str):
    """A search that is the start of some SKU or EAN ("K-1", "40063") finds those
    products only; a range over the indexed columns, as typed and in capitals."""
    if not text or " " in text:
        return None
    condition = None
    for column in (Product.sku, Product.ean):
        for variant in {text, text.upper()}:
            starts = (column >= variant) & (column < variant + "\uffff")
            condition = starts if condition is None else condition | starts
    found = Product.select(Product.id).where(condition).limit(1).exists()
    return condition if found else None


@dataclass
class TablePage:
    table: Table
    state: State
    page: Any
    categories: list[Category]
    editing: Product | None = None


_counts = VersionedCache(size=1024)


# Sort orders with an index of their own, which a page can walk.
INDEXED_SORTS = {"sku", "name", "price", "stock", "updated"}
WALK_LIMIT = 20_000  # rows the walk may pass before a page is full


def table_page(params, low_default: int, edit_id: int | None = None) -> TablePage:
    version = CatalogVersion.current()
    categories = all_categories(version)
    table = _table(categories)
    state = table.read(params)
    total = _count(state, categories, low_default, version)
    everything = _counts.get(version, ("admin-count", "", None, None), Product.select().count)
    # Walking the sort order's index passes about (rows up to this page) × everything / total.
    rows_up_to_page = min(state.page, max(1, -(-total // state.size))) * state.size
    walk = (total < everything and state.sort in INDEXED_SORTS
            and rows_up_to_page * everything < WALK_LIMIT * max(total, 1))
    query = matching_products(state, categories, low_default, walk=walk)
    load = _with_category_sorted if state.sort == "category" else _with_category
    page = table.page(query, state, load=load, count=lambda: total)
    editing = next((p for p in page.rows if p.id == edit_id), None)
    return TablePage(table, state, page, categories, editing)


def _count(state: State, categories: list[Category], low_default: int, version) -> int:
    """How many products match. Without a stock filter, that changes only with the
    catalogue's version; "in stock" is all but the sold-out and low ones, which the
    stock index counts quickly."""
    level = state.filters.get("stock")
    if level == IN_STOCK:
        return (_count(replace(state, filters={**state.filters, "stock": ""}), categories, low_default, version)
                - _count(replace(state, filters={**state.filters, "stock": SOLD_OUT}), categories, low_default, version)
                - _count(replace(state, filters={**state.filters, "stock": LOW}), categories, low_default, version))
    if level:
        return matching_products(state, categories, low_default).count()
    key = ("admin-count", state.q, state.filters.get("category"), state.filters.get("active"))
    return _counts.get(version, key, lambda: matching_products(state, categories, low_default).count())


def _with_category(query) -> list[Product]:
    """The page's rows with their category's name: first the page's ids alone (which an
    index can answer without reading the rows, even deep down the pages), then those rows."""
    ids = [row[0] for row in query.select(Product.id).tuples()]
    return _rows_in_order(ids)


def _with_category_sorted(query) -> list[Product]:
    """As `_with_category`, for a page sorted by the category's name."""
    ids = [row[0] for row in query.select(Product.id).join(
        Category, JOIN.LEFT_OUTER, on=(Product.category == Category.id)).tuples()]
    return _rows_in_order(ids)


# What a row shows and its edit form starts from.
ROW_PRODUCT_COLUMNS = (
    Product.id, Product.sku, Product.name, Product.image, Product.price_cents, Product.stock, Product.active,
    Product.updated_at, Product.category, Product.version, Product.low_stock_threshold,
)
ROW_COLUMNS = (*ROW_PRODUCT_COLUMNS, Category.name.alias("category_name"))


def _rows_in_order(ids: list[int]) -> list[Product]:
    rows = {p.id: p for p in (
        Product.select(*ROW_COLUMNS)
        .join(Category, JOIN.LEFT_OUTER, on=(Product.category == Category.id))
        .where(Product.id.in_(ids)).objects()
    )} if ids else {}
    return [rows[i] for i in ids if i in rows]


_product_row = Prepared(lambda product_id: (
    Product.select(*ROW_COLUMNS).join(Category, JOIN.LEFT_OUTER, on=(Product.category == Category.id))
    .where(Product.id == product_id).objects()))


def product_row(product_id: int) -> Product | None:
    return _product_row.first(product_id)


# -- the table -------------------------------------------------------------------

def _edit_id(request: Request) -> int | None:
    text_id = request.query_params.get("edit", "")
    return int(text_id) if text_id.isascii() and text_id.isdigit() and len(text_id) <= 9 else None


async def product_table(request: Request):
    settings = request.app.state.settings
    data = await run_db(table_page, request.query_params, settings.low_stock_threshold,
                        _edit_id(request))
    form = RowForm(obj=data.editing, categories=data.categories) if data.editing else None
    return render(request, "admin/products.html", _table_context(request, data, form),
                  fragment="fragments/admin/products_table.html")


def row_labels() -> dict[str, str]:
    """The words every row repeats, translated once per table."""
    return {
        "image": _("Image"), "sku": _("SKU"), "category": _("Category"), "price": _("Price"),
        "stock": _("Stock"), "active": _("Active"), "updated": _("Last change"),
        "sold_out": _("sold out"), "low": _("low"), "on": _("active"), "off": _("inactive"),
        "edit": _("Edit"),
    }


# Rows as rendered, keyed by every value a row shows: a cached row is never stale.
_rows = VersionedCache(size=4096)


def _row_renderer(request: Request, back: str, labels: dict, low_default: int, ticked=frozenset()):
    """`row_html(p)` for the table template: a plain row, rendered once per content
    (a row ticked for a refused bulk change, as it is)."""
    template = request.app.state.templates.get_template("fragments/admin/product_row.html")
    context = {"back": back, "labels": labels, "low_default": low_default, "editing": None}
    key = (i18n.get_locale(), back, low_default)

    def row_html(p: Product) -> Markup:
        if p.id in ticked:
            return Markup(template.render({**context, "p": p, "ticked": True}))
        shown = (p.id, p.version, p.sku, p.name, p.image, p.price_cents, p.stock, p.active,
                 p.updated_at, p.category_name, p.low_stock_threshold)
        return Markup(_rows.get(shown, key, lambda: template.render({**context, "p": p})))

    return row_html


def _table_context(request: Request, data: TablePage, form=None, bulk: dict | None = None, **extra) -> dict:
    """What the table's page shows; `bulk`, a refused bulk form: what was typed and why."""
    back = _table_query(data.state.query(page=data.page.page))
    labels = row_labels()
    low_default = request.app.state.settings.low_stock_threshold
    ticked = bulk["ticked"] if bulk else frozenset()
    return {
        "table": data.table, "state": data.state, "page": data.page, "headers": data.table.headers(data.state),
        "categories": data.categories, "editing": data.editing, "form": form, "page_sizes": PAGE_SIZES,
        "back": back, "low_default": low_default, "bulk_actions": BULK_ACTIONS, "labels": labels,
        "bulk": bulk, "row_html": _row_renderer(request, back, labels, low_default, ticked), **extra,
    }


# -- one row, edited in place -----------------------------------------------------

class RowForm(ShopForm):
    name = text(_l("Name"), max_length=200)
    price = EuroField(_l("Price"), validators=[InputRequired(_l("Please enter a price."))])
    stock = WholeNumberField(_l("Stock"), validators=[
        InputRequired(_l("Please enter the stock.")),
        NumberRange(max=stock.MAX_STOCK, message=_l("At most %(max)d.", max=stock.MAX_STOCK)),
    ])
    category = SelectField(_l("Category"), coerce=int, validate_choice=True)
    active = BooleanField(_l("Active"))
    version = IntegerField(validators=[InputRequired()])
    # The values the row showed when editing began, to tell what someone else changed.
    original = StringField(validators=[Optional()])

    def __init__(self, formdata=None, obj=None, categories=(), **kwargs):
        if obj is not None and formdata is None:
            values = _row_values(obj)
            kwargs["data"] = {**values, "price": Decimal(obj.price_cents) / 100,
                              "version": obj.version, "original": json.dumps(values)}
        super().__init__(formdata, **kwargs)
        self.category.choices = [(c.id, f"– {c.name}" if c.parent_id else c.name) for c in categories]

    def seen(self) -> dict:
        """The row's values when editing began."""
        try:
            original = json.loads(self.original.data or "{}")
        except ValueError:
            return {}
        return original if isinstance(original, dict) else {}

    def typed(self) -> dict:
        """The row's values as typed, keyed like `_row_values`."""
        return {"name": self.name.data, "price_cents": self.price.cents, "stock": self.stock.data,
                "category": self.category.data, "active": self.active.data}

    def based_on(self, product: Product) -> None:
        """After a conflict: keep what was typed, take the fields left as they were from
        the product as stored now, and base the form on that: saving again makes the
        typed changes and keeps the rest of someone else's."""
        seen, typed, now = self.seen(), self.typed(), _row_values(product)
        fields = {"name": self.name, "price_cents": self.price, "stock": self.stock,
                  "category": self.category, "active": self.active}
        for key, field in fields.items():
            if key in seen and typed[key] == seen[key]:
                field.data = Decimal(now[key]) / 100 if key == "price_cents" else now[key]
                field.raw_data = None
        self.version.data, self.version.raw_data = product.version, None
        self.original.data = json.dumps(now)

    def validate_price(self, field):
        if field.cents is not None and field.cents > MAX_PRICE_CENTS:
            raise ValidationError(_("At most %(amount)s.", amount="1.000.000 €"))
        if field.cents == 0 and self.active.data:
            raise ValidationError(_("An active product needs a price above 0 €."))


def _row_values(product: Product) -> dict:
    return {"name": product.name, "price_cents": product.price_cents, "stock": product.stock,
            "category": product.category_id, "active": product.active}


class EditConflict(Exception):
    """Someone saved the row since this form was loaded; `changed` says what they changed."""

    def __init__(self, product: Product, changed: dict[str, list]):
        super().__init__(product.id)
        self.product, self.changed = product, changed


# A row's save, the back office's most frequent write, in statements built once.
_row_to_save = Prepared(lambda product_id: locked(
    Product.select(*ROW_PRODUCT_COLUMNS).where(Product.id == product_id)))
_save_row = Prepared(lambda product_id, name, price_cents, category, active, stamp: Product.update(
    name=name, price_cents=price_cents, category=category, active=active, version=Product.version + 1,
    updated_at=stamp).where(Product.id == product_id))
_price_change = Prepared(lambda product_id, price_cents, stamp: PriceChange.insert(
    product=product_id, price_cents=price_cents, changed_at=stamp))


def save_row(product_id: int, form: RowForm, who: Actor, categories: list[Category]) -> Product:
    """Save the edited row if nobody changed the product meanwhile (its version, and its
    stock, are what the form was loaded with); else raise EditConflict. Returns the row
    as saved."""
    with write():
        product = _row_to_save.first(product_id)
        if product is None:
            raise LookupError(product_id)
        product.category_name = _category_name(categories, product.category_id)
        before, seen = _row_values(product), form.seen()
        if product.version != form.version.data or seen.get("stock", product.stock) != product.stock:
            raise EditConflict(product, {k: [seen.get(k), v] for k, v in before.items()
                                         if k in seen and seen[k] != v})
        after = form.typed()
        changed = changes(before, after)
        if not changed:
            return product
        if "stock" in changed:
            stock.set_count(product.id, after["stock"], stock.CORRECTION, who.email)
        stamp = now()
        _save_row.execute(product.id, after["name"], after["price_cents"], after["category"], after["active"], stamp)
        if "price_cents" in changed:
            _price_change.execute(product.id, after["price_cents"], stamp)
        if "name" in changed or "category" in changed:
            index_products([Product.get_by_id(product.id)])
        record(who, "update", "product", product.id, f"{product.sku} {after['name']}", changed)
        return _saved(product, after, stamp, categories)


def _saved(product: Product, after: dict, stamp, categories: list[Category]) -> Product:
    """The row as `save_row` left it: what the update wrote, without reading it back."""
    product.name, product.price_cents, product.stock, product.active = (
        after["name"], after["price_cents"], after["stock"], after["active"])
    product.category_id = after["category"]
    product.category_name = _category_name(categories, after["category"])
    product.version += 1
    product.updated_at = stamp
    return product


def _category_name(categories: list[Category], category_id: int | None) -> str | None:
    return next((c.name for c in categories if c.id == category_id), None)


async def edit_row(request: Request):
    """The row as a form (htmx); without JavaScript, the table with the row in edit mode."""
    product_id = request.path_params["id"]
    back = _back(request.query_params.get("back", ""))
    if not is_htmx(request):
        return see_other(url_path(request, "admin:products") + _with_edit(back, product_id))
    product, categories = await run_db(lambda: (product_row(product_id), all_categories(CatalogVersion.current())))
    if product is None:
        raise HTTPException(404)
    form = RowForm(obj=product, categories=categories)
    return render(request, "fragments/admin/product_row.html",
                  {"p": product, "form": form, "editing": product, "back": back, "labels": row_labels()})


async def show_row(request: Request):
    """The row as it is now (Cancel)."""
    product = await run_db(product_row, request.path_params["id"])
    if product is None:
        raise HTTPException(404)
    back = _back(request.query_params.get("back", ""))
    if not is_htmx(request):
        return see_other(url_path(request, "admin:products") + (f"?{back}" if back else ""))
    return render(request, "fragments/admin/product_row.html",
                  {"p": product, "editing": None, "back": back, "focus": True, "labels": row_labels()})


@dataclass
class RowSaved:
    """What saving a row came to: the row as stored now, and the form, with errors or a
    conflict when it was not saved."""

    product: Product | None
    form: RowForm
    categories: list[Category]
    saved: bool = False
    conflict: EditConflict | None = None


def check_and_save_row(product_id: int, data, who: Actor) -> RowSaved:
    """Validate and save in one go (one trip to the database thread)."""
    categories = all_categories(CatalogVersion.current())
    form = RowForm(data, categories=categories)
    conflict = None
    if form.validate():
        try:
            saved = save_row(product_id, form, who, categories)
        except EditConflict as error:
            conflict = error
        else:
            return RowSaved(saved, form, categories, saved=True)
    product = product_row(product_id)
    if conflict and product:
        form.based_on(product)
    return RowSaved(product, form, categories, conflict=conflict)


async def save_row_request(request: Request):
    product_id = request.path_params["id"]
    data = await form_data(request)
    back = _back(str(data.get("back", "")))
    try:
        result = await run_db(check_and_save_row, product_id, data, actor(request))
    except LookupError:
        raise HTTPException(404)
    if result.product is None:
        raise HTTPException(404)
    if result.saved:
        if not is_htmx(request):
            flash(request, _("Saved."))
            return see_other(url_path(request, "admin:products") + (f"?{back}" if back else ""))
        return render(request, "fragments/admin/product_row.html", {
            "p": result.product, "editing": None, "back": back, "focus": True, "saved": True,
            "labels": row_labels()})
    conflict = result.conflict
    context: dict[str, Any] = {
        "p": result.product, "form": result.form, "editing": result.product, "back": back,
        "labels": row_labels(), "conflict": conflict and _conflict_text(conflict, result.categories)}
    status = 409 if conflict else 422
    if is_htmx(request):
        return render(request, "fragments/admin/product_row.html", context, status_code=status)
    page = await run_db(table_page, _parse_query(back), request.app.state.settings.low_stock_threshold,
                        product_id)
    page.editing = result.product
    return render(request, "admin/products.html", _table_context(request, page, **context),
                  status_code=status)


def _conflict_text(conflict: EditConflict, categories: list[Category]) -> list[str]:
    """What someone else changed, field by field, for the message in the row."""
    names = {c.id: c.name for c in categories}
    labels = {"name": _("Name"), "price_cents": _("Price"), "stock": _("Stock"),
              "category": _("Category"), "active": _("Active")}
    return [_("%(field)s: %(before)s → %(after)s", field=labels[k], before=_shown(k, v[0], names),
              after=_shown(k, v[1], names)) for k, v in conflict.changed.items() if k in labels]


def _shown(key: str, value, category_names: dict[int, str]) -> str:
    """A row value as the table shows it."""
    if key == "price_cents" and isinstance(value, int):
        return format_money(value)
    if key == "category":
        return category_names.get(value, "–")
    if key == "active":
        return _("active") if value else _("inactive")
    return str(value)


# -- bulk changes -------------------------------------------------------------------

ACTIVATE, DEACTIVATE, MOVE, PRICE_PERCENT, PRICE_AMOUNT, SET_STOCK = (
    "activate", "deactivate", "move", "price_percent", "price_amount", "set_stock")
BULK_ACTIONS = {
    ACTIVATE: _l("Activate"), DEACTIVATE: _l("Deactivate"), MOVE: _l("Move to category"),
    PRICE_PERCENT: _l("Change prices by percent"), PRICE_AMOUNT: _l("Change prices by an amount"),
    SET_STOCK: _l("Set stock"),
}


class BulkProblem(ValueError):
    """Why a bulk change is refused; `field` names the form's field it is about."""

    def __init__(self, message: str, field: str = "scope", status: int = 422):
        super().__init__(message)
        self.field, self.status = field, status


@dataclass
class BulkChange:
    action: str
    value: Any = None  # percent (Decimal), cents (int), a category id or a stock count

    def apply(self, product: Product) -> dict:
        """The product's changed fields under this change."""
        if self.action == ACTIVATE:
            return {"active": True}
        if self.action == DEACTIVATE:
            return {"active": False}
        if self.action == MOVE:
            return {"category": self.value}
        if self.action == SET_STOCK:
            return {"stock": self.value}
        if self.action == PRICE_PERCENT:
            price = round_cents(Decimal(product.price_cents) * (100 + self.value) / 100)
        else:
            price = product.price_cents + self.value
        return {"price_cents": price}


def read_bulk(data, categories: list[Category]) -> BulkChange:
    action = data.get("action", "")
    if action not in BULK_ACTIONS:
        raise BulkProblem(_("Please choose what to change."), "action")
    value_text = (data.get("value") or "").strip().replace(" ", "")
    if action == MOVE:
        category = data.get("to_category", "")
        ids = {str(c.id): c.id for c in categories}
        if category not in ids:
            raise BulkProblem(_("Please choose the category to move the products to."), "to_category")
        return BulkChange(action, ids[category])
    if action in (PRICE_PERCENT, PRICE_AMOUNT):
        sign = -1 if value_text.startswith(("-", "−")) else 1
        number = value_text.lstrip("+-−").removesuffix("%").removesuffix("€")
        if action == PRICE_PERCENT:
            return BulkChange(action, _percent(sign, euro_cents(number, grouped_thousands=False)))
        cents = euro_cents(number)
        if cents is None or cents == 0 or cents > MAX_PRICE_CENTS:
            raise BulkProblem(_("Please enter the amount in euros to add to each price or take off it, "
                                "e.g. +1,00 or -0,50."), "value")
        return BulkChange(action, sign * cents)
    if action == SET_STOCK:
        count = whole_number(value_text)
        if count is None or count > stock.MAX_STOCK:
            raise BulkProblem(_("Please enter the new stock as a whole number from 0 to %(max)s, e.g. 25.",
                                max=format_number(stock.MAX_STOCK)), "value")
        return BulkChange(action, count)
    return BulkChange(action)


def _percent(sign: int, hundredths: int | None) -> Decimal:
    """The percentage typed (12,5 % as 1250 hundredths), within what a price can take."""
    if not hundredths:
        raise BulkProblem(_("Please enter by how many percent the prices change, e.g. +10 or -5,5."), "value")
    if sign < 0 and hundredths >= 10_000:
        raise BulkProblem(_("A price can be lowered by less than 100 % only: -100 % would make it free."), "value")
    if hundredths > 100_000:
        raise BulkProblem(_("Prices can be raised by at most 1000 % at once."), "value")
    return sign * Decimal(hundredths) / 100


@dataclass
class BulkPlan:
    change: BulkChange
    ids: list[int] | None  # ticked rows; None: every product matching the filters
    total: int
    preview: list[tuple[Product, dict, dict]]  # (product, before, after)
    categories: list[Category]


def _selected(data, low_default: int, categories: list[Category]):
    """The products a bulk form means: the ticked ids, or all that match its filters.
    Filters that do not read (a category deleted meanwhile, a value made up) are
    refused: left out, they would widen the change to more products."""
    table = _table(categories)
    if table.unreadable(data):
        raise BulkProblem(_("The search or filters of this change are not valid (perhaps a category was "
                            "deleted meanwhile). Nothing was changed; please choose the filters again."),
                          status=400)
    query = matching_products(table.read(data), categories, low_default)
    if data.get("scope") == "all":
        return query, None
    ids = sorted({int(i) for i in data.getlist("ids") if i.isascii() and i.isdigit() and len(i) <= 9})
    if not ids:
        raise BulkProblem(_("Please tick the products to change, or choose all that match the filters."))
    return query.where(Product.id.in_(ids)), ids


def plan_bulk(data, low_default: int) -> BulkPlan:
    categories = all_categories(CatalogVersion.current())
    change = read_bulk(data, categories)
    query, ids = _selected(data, low_default, categories)
    total = query.count()
    if total == 0:
        raise BulkProblem(_("No product matches the search and filters."))
    if total > MAX_BULK:
        raise BulkProblem(ngettext("At most %(count)s product can be changed at once.",
                                   "At most %(count)s products can be changed at once.",
                                   MAX_BULK, count=format_number(MAX_BULK)))
    rows = list(query.order_by(Product.id).limit(BULK_PREVIEW_ROWS))
    planned = [(p, change.apply(p)) for p in rows]
    _check(change, planned)
    preview = [(p, {k: _row_values(p)[k] for k in after}, after) for p, after in planned]
    return BulkPlan(change, ids, total, preview, categories)


def _check(change: BulkChange, planned) -> None:
    for product, after in planned:
        price = after.get("price_cents")
        if price is not None and not 0 <= price <= MAX_PRICE_CENTS:
            raise BulkProblem(_("With this change, %(sku)s would cost %(price)s; a price must be between "
                                "0 € and 1.000.000 €.", sku=product.sku, price=format_money(price)), "value")


class BulkApplied(BulkProblem):
    """The confirmation was sent before (a double click, Back and send again)."""


BULK_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def apply_bulk(data, low_default: int, expected: int, key: str, who: Actor) -> int:
    """Make the change to every selected product in one transaction; returns how many
    changed. `key`, the confirmation's one-time key, is used up in the same transaction:
    a confirmation sent again changes nothing."""
    categories = all_categories(CatalogVersion.current())
    change = read_bulk(data, categories)
    with write():
        query, _ids = _selected(data, low_default, categories)
        products = list(locked(query.order_by(Product.id)))
        # Looked up once the rows are locked: the same confirmation sent twice at once
        # waits here for the first, and then finds its key.
        if _bulk_done(key):
            raise BulkApplied(_("This change has already been made; it was not made a second time."))
        if len(products) != expected:
            raise BulkProblem(ngettext(
                "The selection has changed meanwhile (now %(num)d product). Nothing was changed; please check the change again.",
                "The selection has changed meanwhile (now %(num)d products). Nothing was changed; please check the change again.",
                len(products)))
        planned = [(p, change.apply(p)) for p in products]
        _check(change, planned)
        stamp = now()
        audit = []
        for product, after in planned:
            before = {"name": product.name, "price_cents": product.price_cents, "stock": product.stock,
                      "category": product.category_id, "active": product.active}
            changed = changes({k: before[k] for k in after}, after)
            if not changed:
                continue
            if "stock" in after:
                stock.set_count(product.id, after["stock"], stock.STOCKTAKING, who.email,
                                note=_("bulk change"))
            fields = {k: v for k, v in after.items() if k != "stock"}
            Product.update(**fields, version=Product.version + 1, updated_at=stamp).where(
                Product.id == product.id).execute()
            audit.append((product.id, f"{product.sku} {product.name}", changed))
        if change.action in (PRICE_PERCENT, PRICE_AMOUNT):
            PriceChange.insert_many([
                dict(product=p.id, price_cents=after["price_cents"], changed_at=stamp)
                for p, after in planned if after["price_cents"] != p.price_cents
            ]).execute()
        record_many(who, "bulk_" + change.action, "product", audit)
        record(who, "bulk_apply", "product_bulk", key, "bulk_" + change.action, {"products": [None, len(audit)]})
        return len(audit)


def _bulk_done(key: str) -> bool:
    """Whether the bulk change with this one-time key was made (its entry in the audit trail)."""
    return AuditEntry.select().where(
        (AuditEntry.object_type == "product_bulk") & (AuditEntry.object_id == key)).exists()


async def bulk_confirm(request: Request):
    """Step one: what would change, and how many products; nothing is written."""
    data = await form_data(request)
    settings = request.app.state.settings
    try:
        plan = await run_db(plan_bulk, data, settings.low_stock_threshold)
    except BulkProblem as problem:
        return await _bulk_form_again(request, data, problem)
    names = {c.id: c.name for c in plan.categories}
    return render(request, "admin/products_bulk.html", {
        "plan": plan, "data": data, "actions": BULK_ACTIONS, "hidden": _carried(data), "form_key": form_key(),
        "show_value": lambda key, value: _shown(key, value, names),
        "back_link": url_path(request, "admin:products") + _state_query(data),
    })


async def bulk_apply(request: Request):
    data = await form_data(request)
    settings = request.app.state.settings
    expected, key = str(data.get("expected", "")), str(data.get("form_key", ""))
    try:
        if not (expected.isascii() and expected.isdigit() and len(expected) <= 9 and BULK_KEY.fullmatch(key)):
            raise BulkProblem(_("Please check the change again."))
        count = await run_db(apply_bulk, data, settings.low_stock_threshold, int(expected), key, actor(request))
    except BulkApplied as applied:
        flash(request, str(applied))
    except BulkProblem as problem:
        flash(request, str(problem), "error")
    else:
        flash(request, ngettext("%(num)d product changed.", "%(num)d products changed.", count) if count
              else _("Nothing changed: the products already had these values."))
    return see_other(url_path(request, "admin:products") + _state_query(data))


async def _bulk_form_again(request: Request, data, problem: BulkProblem):
    """The table with the bulk form open, holding what was typed, the reason next to its field."""
    page = await run_db(table_page, data, request.app.state.settings.low_stock_threshold)
    ticked = frozenset(int(i) for i in data.getlist("ids") if i.isascii() and i.isdigit() and len(i) <= 9)
    bulk = {"typed": data, "error": str(problem), "field": problem.field, "ticked": ticked}
    return render(request, "admin/products.html", _table_context(request, page, bulk=bulk),
                  status_code=problem.status)


def _carried(data) -> list[tuple[str, str]]:
    """The bulk form's fields, carried through the confirmation step."""
    keep = {*TABLE_PARAMS, "scope", "action", "value", "to_category", "ids"}
    return [(k, v) for k, v in data.multi_items() if k in keep]


def _state_query(data) -> str:
    query = _table_query(data)
    return f"?{query}" if query else ""


# -- helpers ---------------------------------------------------------------------------

TABLE_PARAMS = ("q", "category", "active", "stock", "sort", "page", "size")


def _table_query(params) -> str:
    """The table's own parameters (search, filters, sort, page) as a query string."""
    return urlencode([(k, params.get(k)) for k in TABLE_PARAMS if params.get(k)])


def _back(query: str) -> str:
    """A table state to come back to, from a query string sent by the client."""
    return _table_query(_parse_query(query))


def _parse_query(query: str) -> dict[str, str]:
    return dict(parse_qsl(query[:2000]))


def _with_edit(back: str, product_id: int) -> str:
    return f"?{back}&edit={product_id}" if back else f"?edit={product_id}"


routes = [
    Route("/products", product_table, name="products"),
    Route("/products/bulk", bulk_confirm, methods=["POST"], name="products_bulk"),
    Route("/products/bulk/apply", bulk_apply, methods=["POST"], name="products_bulk_apply"),
    Route("/products/{id:id}/row", show_row, name="product_row"),
    Route("/products/{id:id}/row", save_row_request, methods=["POST"], name="product_row_save"),
    Route("/products/{id:id}/row/edit", edit_row, name="product_row_edit"),
]
