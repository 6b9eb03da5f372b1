"""Bank statements in the back office (/admin/bank-statements).

Upload a statement (CAMT.053 or CSV); its page shows the credits matched against the open
prepayment orders: sure matches, partial and excess payments, those for a person to check
and those imported already. Applying it pays the sure matches, once (the form's one-time
key), and shows what it did. Below the upload, the statements so far. In the demo, an
example statement paying the open orders can be downloaded, to try it with.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shop.admin.table import PAGE_SIZES, Column, Filter, Table
from shop.catalog.import_jobs import FileTooLarge, _display_name
from shop.db import run_db
from shop.i18n import SHOP_TIMEZONE, _, format_date, format_money
from shop.i18n import lazy_gettext as _l
from shop.orders import bank_statements as statements
from shop.orders.bank_statements import BankStatement, StatementRefused
from shop.orders.models import PAID
from shop.security import BodyTooLarge
from shop.web import flash, form_data, is_htmx, render, see_other, url_path

from .actor import actor

# The upload route's path and the largest statement taken (with what a multipart form
# adds around the file). The app's body limit must let it through (`larger` in app.py).
UPLOAD_PATH = r"/admin/bank-statements"
MAX_BYTES = 10 * 1024 * 1024
FORM_HEADROOM = 64 * 1024
PAGE = "admin/bank_statement.html"
PREVIEW = "fragments/admin/bank_statement_preview.html"
SHOWN_ROWS = 500  # of each group on a statement's page

TABLE = Table([
    Column("created", _l("Uploaded"), BankStatement.created_at, numeric=True),
    Column("file", _l("File"), BankStatement.filename),
    Column("credits", _l("Credits"), BankStatement.credit_count, numeric=True),
    Column("paid", _l("Orders paid"), BankStatement.paid_count, numeric=True),
    Column("state", _l("Status"), BankStatement.state),
    Column("by", _l("By"), BankStatement.created_by),
], [
    Filter("state", _l("Status"), (("", _l("Any status")), *statements.STATE_LABELS.items())),
], default_sort="created", default_descending=True, tiebreak=BankStatement.id)


# -- the list and the upload -----------------------------------------------------------------

def _list(params) -> dict:
    state = TABLE.read(params)
    query = statements.recent()
    if state.filters.get("state"):
        query = query.where(BankStatement.state == state.filters["state"])
    return {"table": TABLE, "state": state, "page": TABLE.page(query, state), "headers": TABLE.headers(state),
            "page_sizes": PAGE_SIZES}


async def index(request: Request, errors: list[str] | None = None, status_code: int = 200):
    context = await run_db(_list, request.query_params)
    return render(request, "admin/bank_statements.html",
                  {**context, **_labels(), "errors": errors or [], "max_mb": _megabytes(MAX_BYTES),
                   "demo": request.app.state.settings.debug},
                  fragment="fragments/admin/bank_statement_list.html", status_code=status_code)


async def upload(request: Request):
    form = await request.form()  # read (the file spooled to disk) by the CSRF check
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename or not file.size:
        return await index(request, [_("Please choose a bank statement file (CAMT.053 XML or CSV).")], 422)
    if file.size > MAX_BYTES:
        return await index(request, FileTooLarge(MAX_BYTES).errors, 413)
    await run_in_threadpool(file.file.seek, 0)
    data = await run_in_threadpool(file.file.read, MAX_BYTES + 1)
    try:
        kept = await run_db(statements.receive, data, _display_name(file.filename), actor(request))
    except StatementRefused as refused:
        return await index(request, refused.errors, 422)
    return see_other(url_path(request, "admin:bank_statement", id=kept.id))


async def upload_too_large(request: Request, exc: BodyTooLarge):
    """A file over the limit, stopped before it was read: the page says so. None where this
    is no admin's upload (the caller answers as for any 413)."""
    user = getattr(request.state, "user", None)
    if request.url.path != UPLOAD_PATH or user is None or not user.is_admin:
        return None
    response = await index(request, FileTooLarge(min(MAX_BYTES, exc.limit)).errors, 413)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- one statement ----------------------------------------------------------------------------

def _statement(statement_id: int) -> tuple[BankStatement, statements.Preview | None] | None:
    kept = statements.statement(statement_id)
    if kept is None:
        return None
    return kept, statements.preview(kept) if kept.state == statements.READY else None


@dataclass
class Section:
    """A group of credits as the page lists them: (credit, order number, note) rows."""

    key: str
    title: str
    count: int
    rows: list[tuple[dict, str, str]]


def _preview_sections(preview: statements.Preview) -> list[Section]:
    sections = []
    for group in statements.GROUPS:
        matches = preview.groups[group]
        rows = []
        for match in matches[:SHOWN_ROWS]:
            order = match.order
            if group == statements.ALREADY and match.earlier is not None:
                note = f"{statements.REASONS['imported']}: {_outcome(match.earlier.outcome)}"
            elif group in (statements.PARTIAL, statements.EXCESS) and order is not None:
                note = _("order total %(total)s, difference %(difference)s", total=format_money(order.total_cents),
                         difference=format_money(match.difference))
            elif group == statements.SURE and order is not None:
                note = _("order of %(name)s", name=order.customer_name) if order.customer_name else ""
            else:
                note = str(statements.REASONS.get(match.reason, match.reason))
            rows.append((match.credit, order.number if order is not None else "", note))
        if matches:
            sections.append(Section(group, str(statements.GROUP_LABELS[group]), len(matches), rows))
    return sections


def _result_sections(kept: BankStatement) -> list[Section]:
    """An applied statement's credits with what became of them, by outcome."""
    by_id = {c["id"]: c for c in kept.credits}
    grouped: dict[str, list] = {}
    for taken in kept.result or []:
        credit = by_id.get(taken["id"])
        if credit is not None:
            reason = str(statements.REASONS.get(taken["reason"], taken["reason"])) if taken["reason"] else ""
            grouped.setdefault(taken["outcome"], []).append((credit, taken["order"], reason))
    titles = {PAID: _("Orders paid"), **{g: str(label) for g, label in statements.GROUP_LABELS.items()}}
    return [Section(outcome, titles[outcome], len(grouped[outcome]), grouped[outcome][:SHOWN_ROWS])
            for outcome in (PAID, *statements.GROUPS) if grouped.get(outcome)]


def _outcome(outcome: str) -> str:
    return str(statements.OUTCOME_LABELS.get(outcome, outcome))


async def show(request: Request, notice: str = "", status_code: int = 200):
    found = await run_db(_statement, request.path_params["id"])
    if found is None:
        raise HTTPException(404, "No such statement.")
    kept, preview = found
    context = {"kept": kept, "preview": preview, "notice": notice, "shown_rows": SHOWN_ROWS,
               "sections": _preview_sections(preview) if preview is not None else _result_sections(kept)}
    return render(request, PAGE, {**context, **_labels()}, fragment=PREVIEW, status_code=status_code)


async def apply(request: Request):
    statement_id = request.path_params["id"]
    data = await form_data(request)
    applied = await run_db(statements.apply, request.app.state.settings, statement_id, data.get("key", ""),
                           data.get("fingerprint", ""), actor(request))
    if applied is None:
        raise HTTPException(404, "No such statement.")
    if applied.changed:
        notice = _("Something changed since this preview was shown (an order was paid, or another statement "
                   "was applied). Nothing was paid: please check the new preview and confirm again.")
    elif not applied.done:
        notice = (_("This statement was applied already; nothing was paid twice.")
                  if applied.statement.state == statements.APPLIED else
                  _("This form has expired. Please confirm again."))
    else:
        paid = applied.statement.paid_count
        notice = ""
        message = (_("%(count)s orders marked as paid; their customers have been mailed.", count=paid)
                   if paid != 1 else _("1 order marked as paid; its customer has been mailed."))
        if not is_htmx(request):
            flash(request, message if paid else _("The statement is applied; no order was paid."), "success")
            return see_other(url_path(request, "admin:bank_statement", id=statement_id))
        return await show(request, message if paid else _("The statement is applied; no order was paid."))
    if is_htmx(request):
        return await show(request, notice, 409)
    flash(request, notice, "warning")
    return see_other(url_path(request, "admin:bank_statement", id=statement_id))


# -- the demo's example statement --------------------------------------------------------------

def _example(settings, kind: str) -> str:
    credits = statements.example_credits(dt.datetime.now(SHOP_TIMEZONE).date())
    if kind == "csv":
        return statements.example_csv(credits)
    return statements.example_camt(credits, settings.merchant.iban, settings.merchant.name)


async def _download_example(request: Request, kind: str):
    settings = request.app.state.settings
    if not settings.debug:
        # A made-up statement that pays open orders has no place in a real shop.
        flash(request, _("The example statement exists in the demo shop only."), "warning")
        return see_other(url_path(request, "admin:bank_statements"))
    body = await run_db(_example, settings, kind)
    day = dt.datetime.now(SHOP_TIMEZONE).date().isoformat()
    media = "text/csv; charset=utf-8" if kind == "csv" else "application/xml; charset=utf-8"
    suffix = "csv" if kind == "csv" else "xml"
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="beispiel-kontoauszug-{day}.{suffix}"'})


async def example_csv(request: Request):
    return await _download_example(request, "csv")


async def example_camt(request: Request):
    return await _download_example(request, "camt")


def _labels() -> dict:
    return {"state_labels": statements.STATE_LABELS, "group_labels": statements.GROUP_LABELS,
            "reasons": statements.REASONS, "outcome_labels": statements.OUTCOME_LABELS,
            "format_labels": statements.FORMAT_LABELS, "groups": statements.GROUPS,
            "accepted_columns": statements.CSV_COLUMNS, "day": _day}


def _day(iso: str) -> str:
    return format_date(dt.date.fromisoformat(iso)) if iso else "–"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.3g}".replace(".", ",")


routes = [
    Route("/bank-statements", index, name="bank_statements"),
    Route("/bank-statements", upload, methods=["POST"], name="bank_statement_upload"),
    Route("/bank-statements/beispiel.csv", example_csv, name="bank_statement_example_csv"),
    Route("/bank-statements/beispiel.xml", example_camt, name="bank_statement_example_camt"),
    Route("/bank-statements/{id:id}", show, name="bank_statement"),
    Route("/bank-statements/{id:id}/apply", apply, methods=["POST"], name="bank_statement_apply"),
]
