"""CSV files uploaded in the back office, as import jobs: stored under a name of their
own, checked (the preview), applied once, with their progress. A small file is checked
and imported in the request; one of more than `import_background_rows` rows by the
worker, while the page shows its progress.

    queued ─▶ checking ─▶ ready ─▶ import_queued ─▶ importing ─▶ done
                   └─▶ failed (errors)     └────────────────▶┘   └─▶ failed

Whoever runs a step claims it by a conditional UPDATE of the job's state and time, and
renews that claim with each chunk; so two workers, two tabs or a replayed form run a
step once. A job silent for STALE_AFTER (its runner died) goes back to its queue; its
import goes on where it stopped, since each chunk is written together with the job's
progress.
"""
from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import logging
import secrets
import time
from pathlib import Path
from typing import Any, BinaryIO

from shop.audit.service import Actor, record
from shop.config import Settings
from shop.db import now, write
from shop.i18n import DEFAULT_LOCALE, _, in_language

from .importer import CsvFile, Images, ImportFailed, ImportResult, apply, check, not_utf8, open_csv
from .models import ImportJob

log = logging.getLogger("shop.imports")

QUEUED, CHECKING, READY, FAILED = "queued", "checking", "ready", "failed"
IMPORT_QUEUED, IMPORTING, DONE = "import_queued", "importing", "done"
RUNNING = (QUEUED, CHECKING, IMPORT_QUEUED, IMPORTING)
STATES = (QUEUED, CHECKING, READY, FAILED, IMPORT_QUEUED, IMPORTING, DONE)
STALE_AFTER = dt.timedelta(minutes=5)
HEARTBEAT_SECONDS = 0.5  # the check notes its progress at most this often
COPY_BYTES = 1024 * 1024


class FileTooLarge(ImportFailed):
    def __init__(self, limit: int):
        megabytes = format(limit / (1024 * 1024), ".3g").replace(".", ",")
        super().__init__([_("This file is too large: at most %(size)s MB, please.", size=megabytes)])


class Abandoned(Exception):
    """Someone else runs this step now (our claim went stale); stop without writing."""


# -- upload -----------------------------------------------------------------------------

def receive(settings: Settings, source: BinaryIO, filename: str, created_by: str,
            locale: str = DEFAULT_LOCALE) -> ImportJob:
    """Keep an uploaded file and make it a job; a small file is checked at once. Raises
    ImportFailed (keeping nothing) for a file too large, not UTF-8 text or no catalogue."""
    settings.import_dir.mkdir(parents=True, exist_ok=True)
    path = settings.import_dir / f"{secrets.token_hex(16)}.csv"
    try:
        _copy_text(source, path, settings.import_max_bytes)
        file = open_csv(path)
        total = file.count()
        if not total:
            raise ImportFailed([_("The file has only its first line, the column names: there is no row "
                                  "below it to import.")])
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    background = total > settings.import_background_rows
    at = now()
    with write():
        job = ImportJob.create(
            kind=file.kind, filename=_display_name(filename), path=str(path),
            state=QUEUED if background else CHECKING, total_rows=total,
            preview={"locale": locale, "delimiter": file.delimiter},
            created_by=created_by, created_at=at, updated_at=at)
    if not background:
        run_check(job.id, settings, claimed_at=at)
    return job


def _copy_text(source: BinaryIO, path: Path, max_bytes: int) -> None:
    """Copy, refusing more than `max_bytes` and anything that is not UTF-8 text."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = 0
    with path.open("wb") as target:
        while chunk := source.read(COPY_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise FileTooLarge(max_bytes)
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                raise ImportFailed([not_utf8()]) from None
            if b"\x00" in chunk:
                raise ImportFailed([not_utf8()])
            target.write(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ImportFailed([not_utf8()]) from None


def _display_name(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name
    return "".join(c for c in name if c.isprintable())[:200] or "upload.csv"


# -- the steps ----------------------------------------------------------------------------

def run_check(job_id: int, settings: Settings, claimed_at: dt.datetime) -> None:
    """Check a job claimed at `claimed_at` (state checking): ready, with its preview, or failed."""
    job = ImportJob.get_by_id(job_id)
    claim = _Claim(job_id, CHECKING, claimed_at)
    last_beat = time.monotonic()

    def heartbeat(stage: str, done: int, total: int) -> None:
        nonlocal last_beat
        if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
            with write():
                claim.renew(done_rows=done)
            last_beat = time.monotonic()

    preview: dict[str, Any] = dict(job.preview or {})
    with in_language(preview.get("locale", DEFAULT_LOCALE)):
        try:
            result = check(_file(job), Images.in_media_folder(settings.media_dir), heartbeat,
                           total=job.total_rows)
            errors = result.error_texts()
            preview.update(result.as_json())
        except ImportFailed as failure:
            errors = failure.errors
    with write():
        claim.renew(state=FAILED if errors else READY, preview=preview, errors=errors or None, done_rows=0)
    if errors:
        _forget_file(job)


def request_apply(job_id: int, actor: Actor, settings: Settings) -> tuple[str, dt.datetime] | None:
    """Start importing a checked job, once: returns the state it went to (importing: the
    caller runs it now; import_queued: the worker will) and when, or None when it was
    not ready (applied already, by a second click, another tab or a replayed form)."""
    job = ImportJob.get_or_none(ImportJob.id == job_id)
    if job is None or job.state != READY:
        return None
    state = IMPORT_QUEUED if job.total_rows > settings.import_background_rows else IMPORTING
    result = {**(job.result or {}), "actor": dataclasses.asdict(actor)}
    at = now()
    with write():
        won = ImportJob.update(state=state, result=result, updated_at=at).where(
            (ImportJob.id == job_id) & (ImportJob.state == READY)).execute()
    return (state, at) if won else None


def run_apply(job_id: int, settings: Settings, claimed_at: dt.datetime) -> None:
    """Import a job claimed at `claimed_at` (state importing), going on after the rows a
    stopped run imported already."""
    job = ImportJob.get_by_id(job_id)
    claim = _Claim(job_id, IMPORTING, claimed_at)
    actor = Actor(**job.result["actor"])
    counts = job.result.get("counts") or {}
    result = ImportResult(job.kind, created=counts.get("create", 0), updated=counts.get("update", 0),
                          unchanged=counts.get("unchanged", 0))

    def progress(done: int, result: ImportResult) -> None:  # inside each chunk's transaction
        claim.renew(done_rows=done, result={"actor": job.result["actor"], "counts": result.counts()})

    with in_language((job.preview or {}).get("locale", DEFAULT_LOCALE)):
        try:
            apply(_file(job), Images.in_media_folder(settings.media_dir), actor=actor,
                  stock_actor=actor.email, filename=job.filename, total=job.total_rows, skip=job.done_rows, result=result,
                  after_chunk=progress)
            errors: list[str] = []
        except ImportFailed as failure:  # the catalogue changed since the check
            errors = failure.errors
    summary = {"actor": job.result["actor"], "counts": result.counts()}
    with write():
        claim.renew(state=FAILED if errors else DONE, result=summary, errors=errors or None)
        if not errors or any(result.counts().values()):
            record(actor, "import", "import_job", job_id, job.filename,
                   {"kind": [None, job.kind], "rows": [None, job.total_rows],
                    **{key: [None, n] for key, n in result.counts().items()}})
    _forget_file(job)


def run_pending(settings: Settings) -> int:
    """The worker's part: check and import the queued jobs, one after the other, and
    put back those whose runner went silent. Returns how many steps ran."""
    _requeue_stale()
    ran = 0
    while True:
        job = (ImportJob.select(ImportJob.id, ImportJob.state)
               .where(ImportJob.state.in_([QUEUED, IMPORT_QUEUED])).order_by(ImportJob.id).first())
        if job is None:
            return ran
        running = CHECKING if job.state == QUEUED else IMPORTING
        at = now()
        with write():
            claimed = ImportJob.update(state=running, updated_at=at).where(
                (ImportJob.id == job.id) & (ImportJob.state == job.state)).execute()
        if not claimed:
            continue  # another worker took it
        try:
            if running == CHECKING:
                run_check(job.id, settings, claimed_at=at)
            else:
                run_apply(job.id, settings, claimed_at=at)
        except Abandoned:
            log.warning("Import job %s was taken over by another runner", job.id)
        except Exception:
            # Back into its queue at once (a busy database, a full disk): the next round
            # goes on where it stopped.
            with write():
                ImportJob.update(state=job.state, updated_at=now()).where(
                    (ImportJob.id == job.id) & (ImportJob.state == running)).execute()
            raise
        ran += 1


def give_back(job_id: int) -> None:
    """An import run in a request that broke off (the database busy): ready again, so
    applying it once more goes on where it stopped."""
    with write():
        ImportJob.update(state=READY, updated_at=now()).where(
            (ImportJob.id == job_id) & (ImportJob.state == IMPORTING)).execute()


def _requeue_stale() -> None:
    before = now() - STALE_AFTER
    stale = (ImportJob.state.in_([CHECKING, IMPORTING])) & (ImportJob.updated_at < before)
    if not ImportJob.select().where(stale).exists():
        return
    with write():
        for running, queue in ((CHECKING, QUEUED), (IMPORTING, IMPORT_QUEUED)):
            ImportJob.update(state=queue, updated_at=now()).where(
                (ImportJob.state == running) & (ImportJob.updated_at < before)).execute()


class _Claim:
    """A runner's hold on a job's step: the state and the time it last wrote. Each
    renewal is a conditional UPDATE; if someone else changed the job meanwhile, the
    runner has lost it (Abandoned), and a chunk's transaction rolls back."""

    def __init__(self, job_id: int, state: str, at: dt.datetime):
        self.job_id, self.state, self.at = job_id, state, at

    def renew(self, **changes: Any) -> None:
        at = max(now(), self.at + dt.timedelta(microseconds=1))
        renewed = ImportJob.update(updated_at=at, **changes).where(
            (ImportJob.id == self.job_id) & (ImportJob.state == self.state)
            & (ImportJob.updated_at == self.at)).execute()
        if not renewed:
            raise Abandoned(self.job_id)
        self.at = at


def _file(job: ImportJob) -> CsvFile:
    try:
        return open_csv(Path(job.path))
    except FileNotFoundError:
        raise ImportFailed([_("The uploaded file is gone. Please upload it again.")]) from None


def _forget_file(job: ImportJob) -> None:
    """A job that is done or failed keeps its preview and result, not its file."""
    Path(job.path).unlink(missing_ok=True)


# -- reading --------------------------------------------------------------------------------

def job(job_id: int) -> ImportJob | None:
    return ImportJob.get_or_none(ImportJob.id == job_id)


def recent():
    """Every job, for the back office's table (which orders and pages it)."""
    return ImportJob.select(ImportJob.id, ImportJob.kind, ImportJob.filename, ImportJob.state,
                            ImportJob.total_rows, ImportJob.done_rows, ImportJob.result,
                            ImportJob.created_by, ImportJob.created_at, ImportJob.updated_at)
