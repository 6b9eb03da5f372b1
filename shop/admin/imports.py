"""Import and export in the back office.

Upload a categories or products CSV file; see what it would change (the preview), or
every error with its line; apply it, once; follow a large file's progress while the
worker checks and imports it (htmx polls the job every second, a plain link refreshes
without JavaScript). Below, the recent imports. Both catalogues download as CSV in the
import format, streamed a thousand rows at a time, and import back unchanged.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from shop.admin.table import PAGE_SIZES, Column, Filter, Table
from shop.catalog import import_jobs
from shop.catalog.import_jobs import Abandoned, FileTooLarge
from shop.catalog.importer import (
    COLUMN_LABELS, CREATE, SAMPLE_ROWS, UNCHANGED, UPDATE, ImportFailed, export_categories, export_header,
    export_products,
)
from shop.catalog.models import ImportJob
from shop.db import run_db
from shop.forms import euro_cents
from shop.i18n import SHOP_TIMEZONE, _, format_money, format_number, get_locale
from shop.i18n import lazy_gettext as _l
from shop.security import BodyTooLarge
from shop.web import flash, is_htmx, render, see_other, url_path

from .actor import actor

# The upload route's path (for its own request body limit: IMPORT_MAX_BYTES and what a
# multipart form adds to the file, its boundaries, headers and the token).
UPLOAD_PATH = r"/admin/imports"
FORM_HEADROOM = 64 * 1024
EXPORT_ROWS = 1000
SEPARATORS = {";": ";", ",": ",", "semicolon": ";", "comma": ","}
PAGE = "admin/import.html"
JOB = "fragments/admin/import_job.html"

STATE_LABELS = {
    import_jobs.QUEUED: _l("Waiting to be checked"),
    import_jobs.CHECKING: _l("Being checked"),
    import_jobs.READY: _l("Ready to import"),
    import_jobs.FAILED: _l("Has errors"),
    import_jobs.IMPORT_QUEUED: _l("Waiting to be imported"),
    import_jobs.IMPORTING: _l("Being imported"),
    import_jobs.DONE: _l("Imported"),
}
KIND_LABELS = {"products": _l("Products"), "categories": _l("Categories")}

TABLE = Table([
    Column("created", _l("Uploaded"), ImportJob.created_at, numeric=True),
    Column("file", _l("File"), ImportJob.filename),
    Column("kind", _l("Content"), ImportJob.kind),
    Column("rows", _l("Rows"), ImportJob.total_rows, numeric=True),
    Column("state", _l("Status"), ImportJob.state),
    Column("by", _l("By"), ImportJob.created_by),
], [
    Filter("state", _l("Status"), (("", _l("Any status")), *STATE_LABELS.items())),
    Filter("kind", _l("Content"), (("", _l("Products and categories")), *KIND_LABELS.items())),
], default_sort="created", default_descending=True, tiebreak=ImportJob.id)


# -- the list and the upload ----------------------------------------------------------------

def _list(params) -> dict:
    state = TABLE.read(params)
    query = import_jobs.recent()
    for key, field in (("state", ImportJob.state), ("kind", ImportJob.kind)):
        if state.filters.get(key):
            query = query.where(field == state.filters[key])
    return {"table": TABLE, "state": state, "page": TABLE.page(query, state), "headers": TABLE.headers(state),
            "page_sizes": PAGE_SIZES}


async def index(request: Request, error: str = "", status_code: int = 200):
    context = await run_db(_list, request.query_params)
    return render(request, "admin/imports.html",
                  {**context, **_labels(), "error": error,
                   "max_mb": _megabytes(request.app.state.settings.import_max_bytes)},
                  fragment="fragments/admin/import_list.html", status_code=status_code)


async def upload(request: Request):
    settings = request.app.state.settings
    form = await request.form()  # read (the file spooled to disk) by the CSRF check
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:  # an empty file: receive says so
        return await index(request, _("Please choose a CSV file."), 422)
    if file.size > settings.import_max_bytes:
        return await index(request, FileTooLarge(settings.import_max_bytes).errors[0], 413)
    await run_in_threadpool(file.file.seek, 0)
    try:
        job = await run_db(import_jobs.receive, settings, file.file, file.filename, actor(request).email,
                           get_locale())
    except ImportFailed as refused:
        return await index(request, " ".join(refused.errors), 413 if isinstance(refused, FileTooLarge) else 422)
    return see_other(url_path(request, "admin:import", id=job.id))


async def upload_too_large(request: Request, exc: BodyTooLarge):
    """A file over the limit, stopped before it was read: the import page says so. None
    where this is no admin's upload (the caller answers as for any 413)."""
    user = getattr(request.state, "user", None)
    if request.url.path != UPLOAD_PATH or user is None or not user.is_admin:
        return None
    response = await index(request, FileTooLarge(request.app.state.settings.import_max_bytes).errors[0], 413)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- one import -------------------------------------------------------------------------------

async def show(request: Request, notice: str = ""):
    job = await run_db(import_jobs.job, request.path_params["id"])
    if job is None:
        raise HTTPException(404, "No such import.")
    return render(request, PAGE, {"job": job, "notice": notice, **_labels()}, fragment=JOB)


async def apply(request: Request):
    job_id = request.path_params["id"]
    settings = request.app.state.settings
    started = await run_db(import_jobs.request_apply, job_id, actor(request), settings)
    notice = ""
    if started is None:
        job = await run_db(import_jobs.job, job_id)
        if job is None:
            raise HTTPException(404, "No such import.")
        notice = (_("This file is imported once only, and that has begun already.")
                  if job.state in (import_jobs.IMPORT_QUEUED, import_jobs.IMPORTING, import_jobs.DONE)
                  else _("This file cannot be imported."))
    elif started[0] == import_jobs.IMPORTING:
        try:
            await run_db(import_jobs.run_apply, job_id, settings, started[1])
        except Abandoned:
            pass
        except BaseException:
            await run_db(import_jobs.give_back, job_id)  # importing it again goes on where it stopped
            raise
    if is_htmx(request):
        return await show(request, notice)
    if notice:
        flash(request, notice, "warning")
    return see_other(url_path(request, "admin:import", id=job_id))


def _labels() -> dict:
    return {"state_labels": STATE_LABELS, "kind_labels": KIND_LABELS, "running": import_jobs.RUNNING,
            "CREATE": CREATE, "UPDATE": UPDATE, "UNCHANGED": UNCHANGED, "sample_rows": SAMPLE_ROWS,
            "column_labels": COLUMN_LABELS, "shown": _shown}


def _shown(column: str, text: str | None) -> str:
    """A value of the preview (as the file has it, amounts with a point) as an admin reads
    it: amounts and numbers in the shop's language, yes or no, "–" for none."""
    if not text:
        return _("the shop’s default") if column == "low_stock_threshold" and text == "" else "–"
    try:
        if column == "price":
            cents = euro_cents(text, grouped_thousands=False)
            return format_money(cents) if cents is not None else text
        if column in ("stock", "position", "low_stock_threshold"):
            return format_number(int(text))
        if column == "content_quantity":
            return format_number(Decimal(text))
    except (ValueError, InvalidOperation):
        return text
    if column == "vat_rate":
        return f"{text} %"
    if column in ("active", "featured"):
        return _("yes") if text == "1" else _("no")
    return text


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.3g}".replace(".", ",")


# -- export -------------------------------------------------------------------------------------

def _download(kind: str, body) -> StreamingResponse:
    day = dt.datetime.now(SHOP_TIMEZONE).date().isoformat()
    return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{kind}-{day}.csv"'})


def _separator(request: Request) -> str:
    return SEPARATORS.get(request.query_params.get("sep", ""), ";")


async def products_export(request: Request):
    """Every product, a thousand at a time (each page its own short database call), so a
    large catalogue streams in constant memory."""
    separator = _separator(request)

    async def body():
        yield export_header("products", separator)
        after: int | None = 0
        while after is not None:
            text, after = await run_db(export_products, after, EXPORT_ROWS, separator)
            yield text

    return _download("products", body())


async def categories_export(request: Request):
    separator = _separator(request)

    async def body():
        yield export_header("categories", separator)
        yield await run_db(export_categories, separator)

    return _download("categories", body())


routes = [
    Route("/imports", index, name="imports"),
    Route("/imports", upload, methods=["POST"], name="import_upload"),
    Route("/imports/{id:id}", show, name="import"),
    Route("/imports/{id:id}/apply", apply, methods=["POST"], name="import_apply"),
    Route("/products/export", products_export, name="products_export"),
    Route("/categories/export", categories_export, name="categories_export"),
]
