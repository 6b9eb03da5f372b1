"""Payment issues: what a provider has otherwise than the shop (another amount, money for
an order already paid or cancelled, a chargeback, a refund that failed, a payment the
provider does not have), for the merchant to settle at the provider and then mark settled."""
from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from shop.audit.service import record
from shop.db import now, run_db, write
from shop.i18n import _
from shop.i18n import lazy_gettext as _l
from shop.orders.models import Order
from shop.payments.models import ISSUE_LABELS, PaymentIssue
from shop.web import flash, is_htmx, render, see_other, url_path

from .actor import actor
from .table import Column, Filter, Page, State, Table

STATES = (("open", _l("To settle")), ("settled", _l("Settled")), ("", _l("All")))


def issue_table() -> Table:
    return Table(
        [
            Column("created", _l("Reported"), PaymentIssue.created_at, numeric=True),
            Column("order", _l("Order")),
            Column("kind", _l("Issue")),
            Column("amount", _l("Amount"), PaymentIssue.amount_cents, numeric=True),
            Column("reference", _l("At the provider")),
            Column("state", _l("State")),
        ],
        [Filter("state", _l("State"), STATES), Filter("kind", _l("Issue"), (("", _l("Every issue")),
                                                                            *ISSUE_LABELS.items()))],
        default_sort="created", default_descending=True, tiebreak=PaymentIssue.id,
    )


def issue_page(table: Table, state: State) -> Page:
    query = PaymentIssue.select()
    if state.filters.get("state") == "open":
        query = query.where(PaymentIssue.resolved_at.is_null())
    elif state.filters.get("state") == "settled":
        query = query.where(PaymentIssue.resolved_at.is_null(False))
    if state.filters.get("kind"):
        query = query.where(PaymentIssue.kind == state.filters["kind"])
    if state.q:
        numbered = Order.select(Order.id).where(Order.number.contains(state.q))
        query = query.where(PaymentIssue.order.in_(numbered) | (PaymentIssue.reference == state.q))
    return table.page(query, state, load=_with_order_numbers)


def _with_order_numbers(query) -> list[PaymentIssue]:
    """The page's issues, each with `order_number`: one query for the whole page."""
    issues = list(query)
    ids = {issue.order_id for issue in issues if issue.order_id}
    rows: list[Any] = list(Order.select(Order.id, Order.number).where(Order.id.in_(ids)).tuples()) if ids else []
    numbers = dict(rows)
    for issue in issues:
        issue.order_number = numbers.get(issue.order_id, "")
    return issues


async def issues(request: Request):
    table = issue_table()
    params = dict(request.query_params)
    params.setdefault("state", "open")
    state = table.read(params)
    page = await run_db(issue_page, table, state)
    return render(request, "admin/payment_issues.html", {
        "table": table, "state": state, "page": page, "headers": table.headers(state),
    }, fragment="fragments/admin/payment_issues_table.html")


def settle(issue_id: int, who) -> PaymentIssue | None:
    with write():
        issue = PaymentIssue.get_or_none(PaymentIssue.id == issue_id)
        if issue is None or issue.resolved_at is not None:
            return issue
        PaymentIssue.update(resolved_at=now(), resolved_by=who.email).where(PaymentIssue.id == issue_id).execute()
        record(who, "settle", "payment_issue", issue.id, issue.reference, {"resolved_by": ["", who.email]})
        return issue


async def settle_issue(request: Request):
    issue = await run_db(settle, request.path_params["id"], actor(request))
    if issue is None:
        raise HTTPException(404, "No such payment issue.")
    target = url_path(request, "admin:payment_issues")
    if not is_htmx(request):
        flash(request, _("The issue is marked settled."), "success")
    return see_other(target)


routes = [
    Route("/payments", issues, name="payment_issues"),
    Route("/payments/{id:id}/settle", settle_issue, methods=["POST"], name="payment_issue_settle"),
]
