"""The audit log: every recorded write, newest first, filtered by who, action, object and
day, each entry with the fields it changed, before and after; the filtered entries as a
CSV file. Read only: nothing here writes to the trail."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, replace
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import NoMatchFound, Route

from shop.audit import queries
from shop.audit.models import AuditEntry
from shop.audit.queries import Criteria
from shop.catalog.models import Product
from shop.db import run_db
from shop.forms import CONTROL
from shop.i18n import SHOP_TIMEZONE, _, format_money
from shop.i18n import lazy_gettext as _l
from shop.web import render, url_path

from . import reauth
from .table import PAGE_SIZES, Column, Filter, State, Table, day

EXPORT_ROWS = 1000
SHORT = 60  # longer values are shortened, the whole value one click away
MAX_OBJECT_ID = 64
SEPARATORS = {";": ";", ",": ",", "semicolon": ";", "comma": ","}

ACTION_LABELS: dict[str, Any] = {
    "create": _l("created"), "update": _l("changed"), "delete": _l("deleted"), "import": _l("imported"),
    "reorder": _l("moved in the order"), "activate": _l("activated"), "deactivate": _l("deactivated"),
    "adjust_stock": _l("stock adjusted"), "bulk_apply": _l("bulk change made"),
    "bulk_activate": _l("activated (bulk change)"), "bulk_deactivate": _l("deactivated (bulk change)"),
    "bulk_move": _l("moved to a category (bulk change)"),
    "bulk_price_percent": _l("price changed by percent (bulk change)"),
    "bulk_price_amount": _l("price changed by an amount (bulk change)"),
    "bulk_set_stock": _l("stock set (bulk change)"),
    "paid": _l("marked as paid"), "ship": _l("shipped"), "delivered": _l("delivered"), "cancel": _l("cancelled"),
    "refund": _l("refunded"), "note": _l("note added"), "mail_again": _l("mail sent again"),
    "view": _l("looked at"), "lock": _l("locked"), "unlock": _l("unlocked"), "make_admin": _l("made an admin"),
    "remove_admin": _l("admin rights removed"), "end_session": _l("session ended"),
    "resend_confirmation": _l("confirmation link sent again"), "two_factor_on": _l("two-factor sign-in on"),
    "two_factor_off": _l("two-factor sign-in off"), "recovery_codes_renewed": _l("recovery codes renewed"),
    "upload": _l("uploaded"), "apply": _l("applied"),
}
TYPE_LABELS: dict[str, Any] = {
    "product": _l("Product"), "category": _l("Category"), "product_image": _l("Product picture"),
    "import_job": _l("Import"), "product_bulk": _l("Bulk change"), "order": _l("Order"),
    "customer": _l("Customer"), "user": _l("Account"), "bank_statement": _l("Bank statement"),
}
FIELD_LABELS: dict[str, Any] = {
    "name": _l("Name"), "price_cents": _l("Price"), "stock": _l("Stock"), "category": _l("Category"),
    "active": _l("Active"), "description": _l("Description"), "sku": _l("SKU"), "ean": _l("EAN"),
    "slug": _l("Address (slug)"), "parent": _l("Parent category"), "position": _l("Position"),
    "vat_rate": _l("VAT rate"), "alt": _l("Alternative text"), "status": _l("Status"), "note": _l("Note"),
    "low_stock_threshold": _l("Reorder level"), "featured": _l("Featured"), "products": _l("Products"),
    "rows": _l("Rows"), "kind": _l("Content"),
}

COLUMNS = [
    Column("at", _l("Time"), AuditEntry.at),
    Column("who", _l("Who")),
    Column("action", _l("Action")),
    Column("object", _l("Object")),
    Column("changes", _l("Changes: before → after")),
]
# The log's parameters beyond the table helper's filters.
OBJECT_ID = "object_id"


def _table(seen: queries.Seen) -> Table:
    def choices(everything: Any, values, labels: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
        return (("", everything), *sorted(((v, labels.get(v, v)) for v in values), key=lambda c: str(c[1]).lower()))

    return Table(COLUMNS, [
        Filter("who", _l("Who"), choices(_l("Everyone"), seen.actors, {})),
        Filter("action", _l("Action"), choices(_l("Every action"), seen.actions, ACTION_LABELS)),
        Filter("type", _l("Object"), choices(_l("Every object"), seen.object_types, TYPE_LABELS)),
        Filter("from", _l("From (day)"), kind="date"),
        Filter("to", _l("To (day)"), kind="date"),
    ], default_sort="at", default_descending=True, tiebreak=AuditEntry.id)


# -- reading the filters --------------------------------------------------------------------

_GERMAN_DAY = re.compile(r"\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*")


def _params(query_params) -> dict[str, str]:
    """The query string, a day typed the German way (31.12.2025, where a browser has no
    date field) written as the date field sends it (2025-12-31)."""
    params = {key: value for key, value in query_params.items()}
    for key in ("from", "to"):
        found = _GERMAN_DAY.fullmatch(params.get(key, ""))
        if found:
            params[key] = f"{found[3]}-{int(found[2]):02d}-{int(found[1]):02d}"
    return params


@dataclass
class Reading:
    table: Table
    state: State
    criteria: Criteria
    problems: list[str]


def read(params: dict[str, str], seen: queries.Seen) -> Reading:
    table = _table(seen)
    state = table.read(params)
    problems = []
    if {"from", "to"} & set(table.unreadable(params)):
        problems.append(_("A day could not be read; please enter it as 31.12.2025. "
                          "The entries are shown without it."))
    object_id = CONTROL.sub("", params.get(OBJECT_ID, "")).strip()[:MAX_OBJECT_ID]
    if object_id and not state.filters["type"]:
        problems.append(_("Please choose the kind of object too, to find an object by its number."))
    state = replace(state, filters={**state.filters, OBJECT_ID: object_id})
    start, end = day(state.filters["from"]), day(state.filters["to"])
    if start and end and start > end:
        problems.append(_("The first day is after the last; the entries are shown for the days in between, "
                          "the other way round."))
        start, end = end, start
    criteria = Criteria(
        actor=state.filters["who"], action=state.filters["action"], object_type=state.filters["type"],
        object_id=object_id if state.filters["type"] else "",
        start=_utc(start), end=_utc(end + dt.timedelta(days=1)) if end and end < dt.date.max else None)
    return Reading(table, state, criteria, problems)


def _utc(value: dt.date | None) -> dt.datetime | None:
    """The start of a day in the shop's time zone, as the naive UTC time the trail stores."""
    if value is None:
        return None
    local = dt.datetime.combine(value, dt.time(), tzinfo=SHOP_TIMEZONE)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


# -- the page ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Value:
    """A value as the log shows it: `short`, and the whole `full` where it was shortened."""

    short: str
    full: str = ""


@dataclass(frozen=True)
class Change:
    field: str
    label: Any
    before: Value
    after: Value


@dataclass
class Entry:
    row: AuditEntry
    action: Any
    object_type: Any
    changes: list[Change]
    link: str | None = None


def log_page(params: dict[str, str]) -> dict[str, Any]:
    """What the log shows for these parameters, in a bounded number of queries: the
    chain's head, the values seen and the count since the last page (both kept), one
    page of entries and which of their products are still there."""
    top = queries.top()
    reading = read(params, queries.seen(top))
    total = queries.count(reading.criteria, top)
    query = queries.matching(reading.criteria)
    page = reading.table.page(query, reading.state, count=lambda: total)
    products = {int(e.object_id) for e in page.rows if e.object_type == "product" and _is_id(e.object_id)}
    present = set(Product.select(Product.id).where(Product.id.in_(sorted(products))).scalars()) if products else set()
    return {"reading": reading, "page": page, "present": present}


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 9


def _entries(request: Request, rows: list[AuditEntry], present: set[int]) -> list[Entry]:
    link = _linker(request, present)
    return [Entry(row, ACTION_LABELS.get(row.action, row.action), TYPE_LABELS.get(row.object_type, row.object_type),
                  _changes(row.changes), link(row)) for row in rows]


def _linker(request: Request, present: set[int]) -> Callable[[AuditEntry], str | None]:
    """Links to an entry's object in the back office, where it has a page (and, for a
    product, still exists)."""
    def path(name: str, **params) -> str | None:
        try:
            return url_path(request, name, **params)
        except NoMatchFound:  # that area's page is not there
            return None

    def link(entry: AuditEntry) -> str | None:
        kind, key = entry.object_type, entry.object_id
        if kind == "product" and _is_id(key) and int(key) in present:
            return path("admin:product_edit", id=int(key))
        if kind == "import_job" and _is_id(key):
            return path("admin:import", id=int(key))
        if kind == "category":
            return path("admin:categories")
        if kind == "order" and entry.object_label:
            return path("admin:order", number=entry.object_label)
        return None

    return link


def _changes(changes: Any) -> list[Change]:
    if not isinstance(changes, dict):  # not as record() writes it: shown as it is
        return [Change("", "", Value("–"), _value(changes))]
    shown = []
    for key, pair in changes.items():
        before, after = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
        shown.append(Change(key, FIELD_LABELS.get(key, key), _value(before, key), _value(after, key)))
    return shown


def _value(value: Any, key: str = "") -> Value:
    text = _text(value, key)
    if len(text) <= SHORT:
        return Value(text)
    return Value(text[:SHORT - 1].rstrip() + "…", text)


def _text(value: Any, key: str = "") -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key.endswith("_cents") and isinstance(value, int):
        return format_money(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


async def audit_log(request: Request):
    params = _params(request.query_params)
    found = await run_db(log_page, params)
    reading, page = found["reading"], found["page"]
    export_query = {k: v for k, v in reading.state.query().items() if k not in ("page", "size", "sort")}
    return render(request, "admin/audit.html", {
        "table": reading.table, "state": reading.state, "headers": reading.table.headers(reading.state),
        "page": page, "entries": _entries(request, page.rows, found["present"]), "problems": reading.problems,
        "page_sizes": PAGE_SIZES, "export_query": export_query, "type_labels": TYPE_LABELS,
    }, fragment="fragments/admin/audit_table.html")


# -- export ------------------------------------------------------------------------------------

# A cell that a spreadsheet would take for a formula (OWASP, "CSV injection"), after any
# apostrophes: written after one more, as the catalogue's export does.
_FORMULA_START = re.compile(r"'*[=+\-@\t\r]")


def _csv(rows: list[list[str]], separator: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=separator, lineterminator="\r\n").writerows(
        ["'" + cell if _FORMULA_START.match(cell) else cell for cell in row] for row in rows)
    return buffer.getvalue()


def export_header() -> list[str]:
    return [_("No."), _("Time"), _("Who"), _("Address"), _("Action"), _("Object type"), _("Object number"),
            _("Object"), _("Changes"), _("Hash")]


def export_criteria(params: dict[str, str]) -> Criteria:
    return read(params, queries.seen(queries.top())).criteria


def export_batch(criteria: Criteria, after: tuple[dt.datetime, int] | None, separator: str
                 ) -> tuple[str, tuple[dt.datetime, int] | None]:
    """The next entries as CSV lines, and where to go on from (None at the end). Times in
    the shop's time zone, as a German spreadsheet reads them where `;` separates; the
    changes exactly as recorded, as JSON."""
    rows = queries.export_batch(criteria, after, EXPORT_ROWS)
    if not rows:
        return "", None
    time_format = "%d.%m.%Y %H:%M:%S" if separator == ";" else "%Y-%m-%d %H:%M:%S"
    lines = [[
        str(e.id), e.at.replace(tzinfo=dt.UTC).astimezone(SHOP_TIMEZONE).strftime(time_format), e.actor, e.address,
        e.action, e.object_type, e.object_id, e.object_label,
        json.dumps(e.changes, ensure_ascii=False, sort_keys=True), e.hash or "",
    ] for e in rows]
    last = rows[-1]
    return _csv(lines, separator), ((last.at, last.id) if len(rows) == EXPORT_ROWS else None)


async def audit_export(request: Request):
    """The filtered entries, newest first, a thousand at a time (each its own short
    database call), so that the whole trail streams in constant memory. Personal data:
    the admin confirms the password first."""
    if not reauth.confirmed_recently(request):
        return reauth.ask_password(request)
    params = _params(request.query_params)
    separator = SEPARATORS.get(params.get("sep", ""), ";")
    criteria = await run_db(export_criteria, params)
    header = "\ufeff" + _csv([export_header()], separator)  # the mark tells Excel it is UTF-8

    async def body():
        yield header
        after = None
        while True:
            text, after = await run_db(export_batch, criteria, after, separator)
            yield text
            if after is None:
                return

    today = dt.datetime.now(SHOP_TIMEZONE).date().isoformat()
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="audit-log-{today}.csv"'})


routes = [
    Route("/audit", audit_log, name="audit"),
    Route("/audit.csv", audit_export, name="audit_export"),
]
