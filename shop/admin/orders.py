"""The orders table: search by number, email or name; filters for the order's state, the
payment state, the payment method and a date range; sorting and pages, all in the URL.
Bulk: mark the ticked orders paid (after a confirmation) and print their packing slips."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.routing import Route

from shop.admin.actor import actor
from shop.admin.table import PAGE_SIZES, Column, Filter, Page, State, Table, count_of, day
from shop.audit.service import Actor, record
from shop.catalog.queries import VersionedCache
from shop.db import run_db, write
from shop.i18n import SHOP_TIMEZONE, _, ngettext
from shop.i18n import lazy_gettext as _l
from shop.orders.models import AWAITING_PAYMENT, PAID, PAYMENT_LABELS, STATUS_LABELS, Order, OrderVersion
from shop.orders.service import IllegalTransition, transition
from shop.pricing import PAYMENT_NAMES
from shop.web import flash, form_data, render, see_other, url_path

MAX_BULK = 500  # orders ticked at once (a page holds at most 200)

COLUMNS = [
    Column("number", _l("Order number"), Order.number),
    Column("placed", _l("Date"), Order.placed_at, numeric=True),
    Column("customer", _l("Customer"), Order.customer_name),
    Column("total", _l("Total"), Order.total_cents, numeric=True),
    Column("payment", _l("Payment"), Order.payment_status),
    Column("status", _l("Status"), Order.status),
    Column("country", _l("Country"), Order.country),
]

TABLE = Table(COLUMNS, [
    Filter("status", _l("Status"), (("", _l("Every state")), *STATUS_LABELS.items())),
    Filter("payment", _l("Payment"), (("", _l("Paid or not")), *PAYMENT_LABELS.items())),
    Filter("method", _l("Payment method"), (("", _l("Every method")), *PAYMENT_NAMES.items())),
    Filter("from", _l("Placed from"), kind="date"),
    Filter("to", _l("Placed until"), kind="date"),
], default_sort="placed", default_descending=True, tiebreak=Order.id)

# What a row shows.
ROW_COLUMNS = (Order.id, Order.number, Order.placed_at, Order.customer_name, Order.email, Order.total_cents,
               Order.payment_method, Order.payment_status, Order.status, Order.country)

TABLE_PARAMS = ("q", *TABLE.filters, "sort", "page", "size")
NUMBER = re.compile(r"(\d{4})[-\s]?(\d{1,6})")


def matching_orders(state: State):
    """The orders the table's search and filters select (unordered)."""
    query = Order.select(Order.id)
    if state.q:
        query = query.where(_search(state.q))
    filters = state.filters
    if filters.get("status"):
        query = query.where(Order.status == filters["status"])
    if filters.get("payment"):
        query = query.where(Order.payment_status == filters["payment"])
    if filters.get("method"):
        query = query.where(Order.payment_method == filters["method"])
    if start := day(filters.get("from", "")):
        query = query.where(Order.placed_at >= day_start(start))
    if end := day(filters.get("to", "")):
        query = query.where(Order.placed_at < day_start(end + dt.timedelta(days=1)))
    return query


def _search(text: str):
    """An order number (or its start: "2026-0001", "2026 000123", "2026000123") finds by
    number through its index; anything else searches names and email addresses."""
    number = NUMBER.fullmatch(text)
    if number:
        start = f"{number.group(1)}-{number.group(2)}"
        return (Order.number >= start) & (Order.number < start + "\uffff")
    return (Order.customer_name.contains(text)) | (Order.email.contains(text))


def day_start(value: dt.date) -> dt.datetime:
    """Midnight of a day in the shop's timezone, as the UTC time orders are stored in."""
    local = dt.datetime.combine(value, dt.time.min, tzinfo=SHOP_TIMEZONE)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


# How many orders match each search and filters, while no order changes.
_counts = VersionedCache(size=1024)


def orders_page(params) -> tuple[State, Page]:
    state = TABLE.read(params)
    query = matching_orders(state)
    key = (state.q, *sorted(state.filters.items()))
    total = _counts.get(OrderVersion.current(), key, lambda: count_of(query))
    return state, TABLE.page(query, state, load=_rows, count=lambda: total)


def _rows(query) -> list[Order]:
    """First the page's ids (an index answers that without reading the rows, even deep
    down the pages), then those rows."""
    ids = [row[0] for row in query.tuples()]
    rows = {o.id: o for o in Order.select(*ROW_COLUMNS).where(Order.id.in_(ids))} if ids else {}
    return [rows[i] for i in ids if i in rows]


async def order_table(request: Request):
    state, page = await run_db(orders_page, request.query_params)
    return render(request, "admin/orders.html", {
        "table": TABLE, "state": state, "page": page, "headers": TABLE.headers(state),
        "page_sizes": PAGE_SIZES, "back": state.query(page=page.page),
    }, fragment="fragments/admin/orders_table.html")


# -- bulk: mark paid ---------------------------------------------------------------

def ticked_ids(data) -> list[int]:
    """The ticked orders' ids; anything that is not one is ignored."""
    ids = {int(i) for i in data.getlist("ids") if isinstance(i, str) and i.isascii() and i.isdigit() and len(i) <= 9}
    return sorted(ids)[:MAX_BULK]


@dataclass
class PaidPlan:
    payable: list[Order]  # awaiting payment: these become paid
    others: list[Order]  # the ticked ones that cannot


def plan_paid(ids: list[int]) -> PaidPlan:
    orders = list(Order.select(*ROW_COLUMNS).where(Order.id.in_(ids)).order_by(Order.placed_at, Order.id))
    return PaidPlan([o for o in orders if o.status == AWAITING_PAYMENT],
                    [o for o in orders if o.status != AWAITING_PAYMENT])


def mark_paid(settings, ids: list[int], who: Actor) -> int:
    """Each order still awaiting payment becomes paid, with its mail; returns how many.
    Sent twice, the second time finds them paid and changes nothing."""
    done = 0
    for order in Order.select().where(Order.id.in_(ids) & (Order.status == AWAITING_PAYMENT)):
        try:
            with write():
                transition(settings, order, PAID, who.email, note=_("Marked paid with other orders"))
                record(who, "paid", "order", order.id, order.number, {"status": [AWAITING_PAYMENT, PAID]})
        except IllegalTransition:
            continue  # paid (or cancelled) meanwhile
        done += 1
    return done


async def bulk_paid(request: Request):
    """The confirmation: which of the ticked orders become paid, and which cannot."""
    data = await form_data(request)
    back = _back(data)
    ids = ticked_ids(data)
    if not ids:
        flash(request, _("Please tick the orders to mark as paid."), "error")
        return see_other(url_path(request, "admin:orders") + back)
    plan = await run_db(plan_paid, ids)
    back_fields = [(k, v) for k, v in data.multi_items() if k in TABLE_PARAMS and isinstance(v, str)]
    return render(request, "admin/orders_paid.html", {"plan": plan, "back": back, "back_fields": back_fields})


async def bulk_paid_apply(request: Request):
    data = await form_data(request)
    done = await run_db(mark_paid, request.app.state.settings, ticked_ids(data), actor(request))
    if done:
        flash(request, ngettext("%(num)d order marked as paid; its customer has been mailed.",
                                "%(num)d orders marked as paid; their customers have been mailed.", done),
              "success")
    else:
        flash(request, _("No order was marked as paid: they were paid or cancelled already."), "error")
    return see_other(url_path(request, "admin:orders") + _back(data))


def _back(data) -> str:
    """The table's state to come back to, as "?query", from the form's hidden fields."""
    state = TABLE.read({k: v for k, v in data.items() if isinstance(v, str)})
    params = {k: v for k, v in state.query().items() if v}
    return f"?{urlencode(params)}" if params else ""


routes = [
    Route("/orders", order_table, name="orders"),
    Route("/orders/paid", bulk_paid, methods=["POST"], name="orders_paid"),
    Route("/orders/paid/apply", bulk_paid_apply, methods=["POST"], name="orders_paid_apply"),
]
