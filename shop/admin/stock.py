"""Stock in the back office: the products running low, a product's ledger (every stock
movement) and adjusting stock by hand (goods received, stocktaking, damage, correction),
each adjustment written through `shop.catalog.stock` and audited in one transaction."""
from __future__ import annotations

from dataclasses import dataclass

from peewee import fn
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import NoMatchFound, Route
from wtforms import HiddenField, SelectChoice, SelectField, StringField
from wtforms.validators import ValidationError

from shop.audit.service import Actor, record
from shop.catalog import stock
from shop.catalog.models import Category, Product, StockMovement
from shop.db import locked, run_db, write
from shop.forms import ShopForm, strip, text, whole_number
from shop.i18n import _
from shop.i18n import lazy_gettext as _l
from shop.security import safe_next
from shop.web import flash, form_data, here, is_htmx, render, see_other, url_path

from .actor import actor
from .table import Column, Filter, Page, State, Table

LATEST = 20  # movements in the panel on the product's page
PANEL = "fragments/admin/stock_movements.html"
ROW = "fragments/admin/stock_row.html"

# The reasons an admin may give; orders and cancellations move stock by themselves.
HAND_REASONS = {
    stock.RECEIVED: _l("Goods received"),
    stock.STOCKTAKING: _l("Stocktaking"),
    stock.DAMAGE: _l("Damage or loss"),
    stock.CORRECTION: _l("Correction"),
}
_SIGNS = {"+": 1, "-": -1, "\u2212": -1, "\u2013": -1}  # plus, hyphen-minus, minus sign, en dash


# -- adjusting ------------------------------------------------------------------------

def signed_number(text: str | None) -> tuple[int | None, int] | None:
    """"+12" -> (1, 12), "-3" (or "−3") -> (-1, 3), "12" -> (None, 12); None when it is
    not a whole number written with the digits 0-9."""
    text = (text or "").strip()
    sign = _SIGNS.get(text[:1])
    if sign is not None:
        text = text[1:].lstrip()
    number = whole_number(text)
    return None if number is None else (sign, number)


class AdjustForm(ShopForm):
    reason = SelectField(_l("Reason"), choices=[SelectChoice(k, v) for k, v in HAND_REASONS.items()], default=stock.RECEIVED,
                         validate_choice=False)
    quantity = StringField(_l("Quantity"), filters=[strip])
    note = text(_l("Note (optional)"), max_length=255, required=False)
    next = HiddenField()
    view = HiddenField()  # "row": the quick form in the low-stock list

    amount: int = 0  # after validation: the change, or for a stocktaking the count

    def validate_reason(self, field):
        if field.data not in HAND_REASONS:
            raise ValidationError(_l("Please choose a reason."))

    def validate_quantity(self, field):
        reason = self.reason.data
        if not field.data:
            raise ValidationError(_l("Please enter the counted stock.") if reason == stock.STOCKTAKING
                                  else _l("Please enter the change, e.g. +12 or -3."))
        parsed = signed_number(field.data)
        if parsed is None:
            raise ValidationError(_l("Please enter a whole number, e.g. +12 or -3."))
        sign, number = parsed
        if number > stock.MAX_STOCK:
            raise ValidationError(_l("That is more than the shop can keep in stock."))
        if reason == stock.STOCKTAKING:
            if sign is not None:
                raise ValidationError(_l("For a stocktaking, enter the counted stock without a sign."))
            self.amount = number
            return
        if number == 0:
            raise ValidationError(_l("A change of 0 changes nothing."))
        if reason == stock.RECEIVED:
            if sign == -1:
                raise ValidationError(_l("Goods received add to the stock; to take some away, "
                                         "choose another reason."))
            sign = 1
        elif reason == stock.DAMAGE:
            if sign == 1:
                raise ValidationError(_l("Damage or loss takes from the stock; to add some, "
                                         "choose another reason."))
            sign = -1
        elif sign is None:
            raise ValidationError(_l("Please give a sign: +12 adds, -3 takes away."))
        self.amount = sign * number


class Refused(Exception):
    """The adjustment cannot be made (nothing was written); the message says why."""


@dataclass
class Adjusted:
    name: str
    before: int
    after: int


def adjust(product_id: int, reason: str, amount: int, note: str, who: Actor) -> Adjusted:
    """Change a product's stock by hand: by `amount`, or for a stocktaking to `amount`.
    Raises LookupError for an unknown product and Refused when the stock would leave
    0…MAX_STOCK; in both cases nothing is written."""
    assert reason in HAND_REASONS, reason
    with write():
        product = locked(Product.select(Product.id, Product.sku, Product.name, Product.stock)
                         .where(Product.id == product_id)).get_or_none()
        if product is None:
            raise LookupError(product_id)
        before = product.stock
        after = amount if reason == stock.STOCKTAKING else before + amount
        if after > stock.MAX_STOCK:
            raise Refused(_("That is more than the shop can keep in stock."))
        if reason == stock.STOCKTAKING:
            stock.set_count(product_id, amount, reason, who.email, note)
        else:
            if after < 0:
                raise Refused(_("Only %(stock)d in stock: the stock cannot go below 0.", stock=before))
            if not stock.move(product_id, amount, reason, who.email, note=note):
                raise Refused(_("Only %(stock)d in stock: the stock cannot go below 0.", stock=before))
        changed = {"stock": [before, after], "reason": [None, reason]}
        if note:
            changed["note"] = [None, note]
        record(who, "adjust_stock", "product", product_id, f"{product.sku} {product.name}", changed)
    return Adjusted(product.name, before, after)


def adjusted_message(done: Adjusted) -> str:
    if done.before == done.after:
        return _("The stock of “%(name)s” is confirmed: %(stock)d.", name=done.name, stock=done.after)
    return _("The stock of “%(name)s” is now %(after)d (was %(before)d).",
             name=done.name, after=done.after, before=done.before)


# -- what the pages show ----------------------------------------------------------------

def low_stock_table(default_threshold: int) -> Table:
    threshold = fn.COALESCE(Product.low_stock_threshold, default_threshold)
    return Table(
        [
            Column("name", _l("Product"), Product.name),
            Column("sku", _l("Item number"), Product.sku),
            Column("category", _l("Category"), Category.name),
            Column("stock", _l("Stock level"), Product.stock, numeric=True),
            Column("threshold", _l("Reorder level"), threshold, numeric=True),
            Column("receive", _l("Goods received")),
        ],
        [Filter("level", _l("Stock level"), (("", _l("All low on stock")), ("out", _l("Sold out")),
                                        ("low", _l("Low, not sold out"))))],
        default_sort="stock", tiebreak=Product.id,
    )


def _rows():
    """Products with what a row of the low-stock list shows."""
    return (Product.select(Product.id, Product.name, Product.sku, Product.stock, Product.low_stock_threshold,
                           Category.id, Category.name)
            .join(Category))


def low_stock_query(default_threshold: int, state: State):
    """Active products whose stock is at or below their threshold (else the default)."""
    threshold = fn.COALESCE(Product.low_stock_threshold, default_threshold)
    query = _rows().where((Product.active == True) & (Product.stock <= threshold))  # noqa: E712
    if state.q:
        query = query.where(Product.name.contains(state.q) | Product.sku.contains(state.q))
    if state.filters.get("level") == "out":
        query = query.where(Product.stock == 0)
    elif state.filters.get("level") == "low":
        query = query.where(Product.stock > 0)
    return query


def low_stock_page(table: Table, default_threshold: int, state: State) -> Page:
    return table.page(low_stock_query(default_threshold, state), state)


def low_stock_row(product_id: int) -> Product:
    """One product as its row in the list shows it (low on stock or no longer)."""
    product = _rows().where(Product.id == product_id).get_or_none()
    if product is None:
        raise LookupError(product_id)
    return product


def movement_table() -> Table:
    return Table([Column("date", _l("Date"), StockMovement.created_at)], default_sort="date",
                 default_descending=True, tiebreak=StockMovement.id)


def product_for_panel(product_id: int) -> Product:
    product = (Product.select(Product.id, Product.name, Product.sku, Product.stock,
                              Product.low_stock_threshold, Product.active)
               .where(Product.id == product_id).get_or_none())
    if product is None:
        raise LookupError(product_id)
    return product


def panel(product_id: int, state: State | None) -> dict:
    """What the movements panel shows: the latest movements, or with `state` one page
    of all of them."""
    product = product_for_panel(product_id)
    if state is None:
        return {"product": product, "movements": stock.movements(product_id, LATEST)}
    table = movement_table()
    page = table.page(StockMovement.select().where(StockMovement.product == product_id), state)
    return {"product": product, "movements": page.rows, "movement_page": page, "movement_state": state}


# -- routes -----------------------------------------------------------------------------

def _threshold(request: Request) -> int:
    return request.app.state.settings.low_stock_threshold


def _product_url(request: Request):
    """Links to a product's back-office page."""
    try:
        url_path(request, "admin:product_edit", id=0)
    except NoMatchFound:  # that page is not there yet
        return lambda product_id: f"/admin/products/{product_id}"
    return lambda product_id: url_path(request, "admin:product_edit", id=product_id)


async def low_stock(request: Request):
    default = _threshold(request)
    table = low_stock_table(default)
    state = table.read(request.query_params)
    page = await run_db(low_stock_page, table, default, state)
    return render(request, "admin/stock.html", {
        "table": table, "state": state, "page": page, "headers": table.headers(state),
        "product_url": _product_url(request), "next": here(request),
    }, fragment="fragments/admin/stock_table.html")


async def movements(request: Request):
    product_id = request.path_params["id"]
    state = movement_table().read(request.query_params)
    try:
        context = await run_db(panel, product_id, state)
    except LookupError:
        raise HTTPException(404)
    return render(request, "admin/stock_movements.html",
                  {**context, "product_url": _product_url(request)}, fragment=PANEL)


def _next(request: Request, data: FormData, product_id: int) -> str:
    """Where the form was: a back-office page of this shop, else the product's ledger."""
    fallback = url_path(request, "admin:stock_movements", id=product_id)
    target = safe_next(data.get("next"), fallback)
    return target if target.startswith("/admin/") else fallback


async def adjust_stock(request: Request):
    product_id = request.path_params["id"]
    data = await form_data(request)
    form = AdjustForm(data)
    back = _next(request, data, product_id)
    done = None
    if form.validate():
        try:
            done = await run_db(adjust, product_id, form.reason.data, form.amount, form.note.data or "",
                                actor(request))
        except LookupError:
            raise HTTPException(404)
        except Refused as refused:
            form.quantity.errors = [*form.quantity.errors, str(refused)]
    if done and not is_htmx(request):
        flash(request, adjusted_message(done), "success")
        return see_other(back)

    # htmx: the part of the page the form was in; without it, the form with its errors.
    context = {"stock_form": None if done else form, "stock_message": done and adjusted_message(done),
               "next": back, "product_url": _product_url(request)}
    status, headers = (200, {"HX-Trigger": "stock-changed"}) if done else (422, None)
    try:
        if is_htmx(request) and form.view.data == "row":
            context["p"] = await run_db(low_stock_row, product_id)
            return render(request, "admin/stock.html", context, fragment=ROW, status_code=status,
                          headers=headers)
        # The ledger page shows all movements page by page; elsewhere the panel shows the latest.
        ledger = url_path(request, "admin:stock_movements", id=product_id)
        paged = not is_htmx(request) or back.split("?")[0] == ledger
        context.update(await run_db(panel, product_id, movement_table().read({}) if paged else None))
    except LookupError:
        raise HTTPException(404)
    return render(request, "admin/stock_movements.html", context, fragment=PANEL, status_code=status,
                  headers=headers)


routes = [
    Route("/stock", low_stock, name="stock"),
    Route("/products/{id:id}/stock", movements, name="stock_movements"),
    Route("/products/{id:id}/stock", adjust_stock, methods=["POST"], name="stock_adjust"),
]
