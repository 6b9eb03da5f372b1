"""Money back: for a whole order or some of its lines, recorded as a refund of its own.
For a bank transfer the merchant pays back by transfer and records its reference here;
returned goods go back into stock through the ledger. When everything is paid back, the
order is refunded and its customer mailed."""
from __future__ import annotations

from dataclasses import dataclass

from shop.catalog import stock
from shop.db import locked, now, write
from shop.i18n import _, format_money
from shop.mail import outbox

from .models import (
    DELIVERED, PAID, PARTLY_REFUNDED, REFUNDED, SHIPPED, SUCCEEDED, Order, OrderEvent, OrderLine, Refund,
)
from .service import IllegalTransition, refunded_cents, status_mail

REFUNDABLE = {PAID, SHIPPED, DELIVERED}


class RefundProblem(ValueError):
    """Why a refund is refused; nothing was changed."""


@dataclass(frozen=True)
class RefundRequest:
    amount_cents: int
    lines: dict[int, int]  # order line id: quantity paid back
    reference: str = ""
    restock: bool = False  # the lines' goods came back and go into stock
    note: str = ""
    provider_id: str | None = None  # the provider's id of the refund (Stripe, PayPal)


def refundable_cents(order: Order) -> int:
    return order.total_cents - refunded_cents(order.id)


def refunded_quantities(order_id: int) -> dict[int, int]:
    """How much of each line has been paid back so far."""
    done: dict[int, int] = {}
    for refund in Refund.select(Refund.lines).where((Refund.order == order_id) & (Refund.state == SUCCEEDED)):
        for line_id, quantity in refund.lines.items():
            done[int(line_id)] = done.get(int(line_id), 0) + quantity
    return done


def check(order: Order, wanted: RefundRequest) -> list[OrderLine]:
    """The lines paid back, if the order's state and what is left to pay back allow the
    refund; else raises RefundProblem (or IllegalTransition)."""
    if order.status not in REFUNDABLE:
        raise IllegalTransition(f"{order.number}: {order.status} cannot be refunded")
    if not 0 < wanted.amount_cents <= refundable_cents(order):
        raise RefundProblem(_("The amount must be more than 0 € and at most what is left to pay back."))
    if order.payment_method == "prepayment" and not wanted.reference:
        raise RefundProblem(_("Please enter the reference of the transfer back to the customer."))
    return _check_lines(order, wanted.lines)


def refund(settings, order: Order, wanted: RefundRequest, actor: str) -> Refund:
    """Record the refund, if `check` allows it; raises as it does, having changed nothing."""
    with write():
        order = locked(Order.select().where(Order.id == order.id)).get()
        lines = check(order, wanted)
        left = refundable_cents(order)
        record = Refund.create(
            order=order.id, provider=order.payment_method, provider_id=wanted.provider_id,
            amount_cents=wanted.amount_cents, state=SUCCEEDED, reference=wanted.reference,
            lines={str(k): v for k, v in wanted.lines.items()}, note=wanted.note, actor=actor)
        if wanted.restock:
            for line in lines:
                if line.product_id:
                    stock.move(line.product_id, wanted.lines[line.id], stock.RETURN, actor, order_number=order.number)
        everything = wanted.amount_cents == left
        changes = {"payment_status": REFUNDED if everything else PARTLY_REFUNDED, "updated_at": now()}
        if everything:
            changes["status"] = REFUNDED
        Order.update(changes).where(Order.id == order.id).execute()
        OrderEvent.create(order=order, status=REFUNDED if everything else order.status, actor=actor,
                          note=_("%(amount)s paid back", amount=format_money(wanted.amount_cents))
                          + (f": {wanted.note}" if wanted.note else ""))
        order = Order.get_by_id(order.id)
        template = "order_refunded" if everything else "order_refunded_partly"
        outbox.enqueue(status_mail(settings, order, template, {"refund": record}), order_id=order.id, kind=template)
        return record


def _check_lines(order: Order, wanted: dict[int, int]) -> list[OrderLine]:
    lines = {line.id: line for line in order.lines}
    done = refunded_quantities(order.id)
    for line_id, quantity in wanted.items():
        line = lines.get(line_id)
        if line is None:
            raise RefundProblem(_("This order has no such line."))
        if not 0 < quantity <= line.quantity - done.get(line_id, 0):
            raise RefundProblem(_("At most %(num)d of “%(name)s” can still be paid back.",
                                  num=line.quantity - done.get(line_id, 0), name=line.name))
    return [lines[i] for i in wanted]
