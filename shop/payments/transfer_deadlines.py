"""Deadlines for orders paid by bank transfer in advance: a reminder after
`transfer_reminder_days` without payment, cancellation (stock back, with its mail) once
the last day to pay, `transfer_cancel_days` after the order's day, has passed. 0 turns
either off.

The worker runs `remind_and_cancel` every round (it is bank transfer's reconciliation),
so a round with nothing due costs one indexed query per step. Each order is handled in
its own transaction, a bounded batch per round. Two workers at once never remind twice (the reminder is claimed with a conditional
update) nor cancel twice (the order's state is checked under its lock); an order paid
meanwhile is left alone.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from shop.db import locked, now, write
from shop.i18n import SHOP_TIMEZONE, _, format_date
from shop.mail import outbox
from shop.orders import service as orders
from shop.orders.models import AWAITING_PAYMENT, CANCELLED, Order, OrderEvent

from .providers import BANK_TRANSFER

if TYPE_CHECKING:
    from shop.config import Settings

BATCH = 100  # orders per step and round: a backlog is worked off over a few rounds
ACTOR = "system"
REMINDER = "order_payment_reminder"


def remind_and_cancel(settings: Settings) -> dict[str, int]:
    """Cancel the overdue transfers, then remind the late ones; how many of each."""
    payments = settings.payments
    cancelled = _cancel_overdue(settings) if payments.transfer_cancel_days else 0
    reminded = _remind_late(settings) if payments.transfer_reminder_days else 0
    return {"reminded": reminded, "cancelled": cancelled}


def pay_by(settings: Settings, order: Order) -> dt.date | None:
    """The last day (in the shop's time zone) on which the transfer may arrive; None when
    unpaid orders are never cancelled."""
    days = settings.payments.transfer_cancel_days
    return _last_day(order, days) if days else None


def _last_day(order: Order, days: int) -> dt.date:
    return _local_date(order.placed_at) + dt.timedelta(days=days)


def _unpaid_transfers():
    return (Order.select()
            .where((Order.payment_method == BANK_TRANSFER) & (Order.status == AWAITING_PAYMENT))
            .order_by(Order.placed_at, Order.id)
            .limit(BATCH))


def _cancel_overdue(settings: Settings) -> int:
    overdue = _unpaid_transfers().where(Order.placed_at < _cancel_cutoff(settings))
    return sum(_cancel(settings, order) for order in list(overdue))


def _remind_late(settings: Settings) -> int:
    late = _unpaid_transfers().where(
        Order.payment_reminded_at.is_null()
        & (Order.placed_at <= now() - dt.timedelta(days=settings.payments.transfer_reminder_days)))
    if settings.payments.transfer_cancel_days:
        late = late.where(Order.placed_at >= _cancel_cutoff(settings))  # not yet cancelled: a backlog
    return sum(_remind(settings, order) for order in list(late))


def _cancel_cutoff(settings: Settings) -> dt.datetime:
    """Orders placed before this moment (UTC) have their last day to pay behind them: the
    start of the day, in the shop's time zone, `transfer_cancel_days` before today."""
    today = _local_date(now())
    first_day_left = today - dt.timedelta(days=settings.payments.transfer_cancel_days)
    start = dt.datetime.combine(first_day_left, dt.time(), tzinfo=SHOP_TIMEZONE)
    return start.astimezone(dt.UTC).replace(tzinfo=None)


def _local_date(moment: dt.datetime) -> dt.date:
    return moment.replace(tzinfo=dt.UTC).astimezone(SHOP_TIMEZONE).date()


def _remind(settings: Settings, order: Order) -> bool:
    """Mail the reminder, unless another worker has, or the order was paid meanwhile."""
    letter = outbox.flatten(orders.status_mail(settings, order, REMINDER, {"pay_by": pay_by(settings, order)}))
    with write():
        claimed = (Order.update(payment_reminded_at=now())
                   .where((Order.id == order.id) & Order.payment_reminded_at.is_null()
                          & (Order.status == AWAITING_PAYMENT))
                   .execute())
        if claimed:
            OrderEvent.create(order=order.id, status=AWAITING_PAYMENT, actor=ACTOR, note=_("Payment reminder sent"))
            outbox.enqueue(letter, order_id=order.id, kind=REMINDER)
    return bool(claimed)


def _cancel(settings: Settings, order: Order) -> bool:
    """Cancel the order (its stock goes back) and say why, unless it was paid or
    cancelled meanwhile: checked under the order's lock, as `transition` alone would
    also cancel (and pay back) a paid order."""
    deadline = _last_day(order, settings.payments.transfer_cancel_days)
    with write():
        if locked(Order.select(Order.status).where(Order.id == order.id)).scalar() != AWAITING_PAYMENT:
            return False
        orders.transition(settings, order, CANCELLED, ACTOR, mail_extra={"unpaid_by": deadline},
                          note=_("No payment received by %(date)s", date=format_date(deadline)))
    return True
