"""The worker: sends the mail outbox and runs the scheduled jobs, round after round.

Each job runs on its own: an error in one (database away, SMTP refusing, a broken
message) is logged, the other jobs still run, and the next round tries again.
`shop worker` runs it; `shop serve --demo` runs rounds in the web process.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from shop.accounts.service import remove_expired_sessions
from shop.cart.service import forget_old_form_keys
from shop.catalog.import_jobs import run_pending as run_imports
from shop.config import Settings
from shop.db import with_connection
from shop.mail.outbox import deliver_due
from shop.payments.registry import reconcile as reconcile_payments
from shop.wishlist.service import notify_back_in_stock

log = logging.getLogger("shop.worker")


def jobs(settings: Settings) -> list[tuple[str, Callable[[], object]]]:
    return [
        ("back-in-stock mail", lambda: notify_back_in_stock(settings)),
        ("expired sessions", remove_expired_sessions),
        ("old form keys", forget_old_form_keys),
        # Each provider's: Stripe's and PayPal's missed events, bank transfers' reminders.
        ("payment reconciliation", lambda: reconcile_payments(settings)),
        ("mail", lambda: deliver_due(settings.mail)),  # after the jobs that queue mail
        ("CSV imports", lambda: run_imports(settings)),  # after the mail: a large file takes a while
    ]


def run_round(settings: Settings) -> dict[str, object]:
    """One round of every job; returns each job's result, or the error it ended with."""
    results: dict[str, object] = {}
    for name, job in jobs(settings):
        try:
            results[name] = with_connection(job)
        except Exception as error:  # noqa: BLE001 - the worker outlives any one job
            log.exception("Worker job %r failed; it runs again next round", name)
            results[name] = error
    return results


def run(settings: Settings, interval: float = 5.0, once: bool = False,
        report: Callable[[dict], None] = lambda results: None) -> None:
    while True:
        report(run_round(settings))
        if once:
            return
        time.sleep(interval)
