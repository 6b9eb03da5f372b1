"""What providers report, applied to orders exactly once.

An event is applied in one transaction together with the record of its id, so the same
event again (a retry, three copies at once) finds the id and changes nothing; an error
rolls back both, and the provider sends it again. The effects are safe to repeat on their
own too, so the reconciliation can apply what it finds at the provider without an event:
a payment or refund is recorded once per provider id, and a paid order never falls back.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace
from typing import Callable

from peewee import IntegrityError

from shop.db import locked, now, write
from shop.i18n import _, format_money
from shop.mail import outbox
from shop.orders import refunds
from shop.orders import service as orders
from shop.orders.models import (
    AWAITING_PAYMENT, CANCELLED, PAID, SUCCEEDED, UNPAID, Order, OrderEvent, Payment, Refund, status_label,
)

from .models import (
    ABANDONED,
    AMOUNT_MISMATCH,
    DISPUTE,
    EXPIRED,
    FAILED,
    OPEN,
    PROCESSING,
    UNEXPECTED_PAYMENT,
    UNFINISHED,
    PaymentAttempt,
    PaymentIssue,
    ProviderEvent,
)
from .models import PAID as ATTEMPT_PAID
from .providers import BANK_TRANSFER, Provider, ProviderError, Received, Started

log = logging.getLogger("shop.payments")
SYSTEM = "payment provider"  # the actor of what a provider's event changes


class NotPayable(Exception):
    """The order cannot be paid (any more) this way: paid, cancelled, or not found."""


# -- events ---------------------------------------------------------------------------

def apply_event(provider: str, event_id: str, kind: str, order_id: int | None,
                effect: Callable[[], object] = lambda: None) -> bool:
    """Apply `effect` and record the event in one transaction; False (and nothing
    changed) when the event was applied before."""
    try:
        with write():
            ProviderEvent.create(provider=provider, event_id=event_id, kind=kind, order=order_id)
            effect()
        return True
    except IntegrityError:
        if ProviderEvent.select().where((ProviderEvent.provider == provider)
                                        & (ProviderEvent.event_id == event_id)).exists():
            return False
        raise


def find_attempt(provider: str, provider_id: str, order_number: str = "", key: str = "") -> PaymentAttempt | None:
    """The attempt a provider's object belongs to: by the provider's id, or, before the
    shop has learnt that id, by the attempt's key sent along with it (then the attempt
    carries the id, to be kept with its new state)."""
    found = list(PaymentAttempt.select(PaymentAttempt, Order).join(Order).where(
        (PaymentAttempt.provider == provider)
        & ((PaymentAttempt.provider_id == provider_id) | ((PaymentAttempt.key == key) & (Order.number == order_number)))
    ).limit(2))
    attempt = next((a for a in found if a.provider_id == provider_id), found[0] if found else None)
    if attempt is not None and not attempt.provider_id:
        attempt.provider_id = provider_id
    return attempt


# -- effects, each inside the caller's transaction ------------------------------------------

def paid(settings, attempt: PaymentAttempt, received: Received) -> None:
    """The provider has the money: the order becomes paid, once. Money that does not fit
    (another amount, an order paid already or cancelled) is kept as an issue to settle."""
    _set_attempt(attempt, ATTEMPT_PAID)
    if Payment.select().where((Payment.provider == attempt.provider)
                              & (Payment.provider_id == received.provider_id)).exists():
        return
    order = attempt.order  # its total never changes; its state is checked under lock by `transition`
    if (received.amount_cents, received.currency) != (order.total_cents, "EUR"):
        issue(attempt.provider, AMOUNT_MISMATCH, received.provider_id, order, received.amount_cents,
              received.currency, _("The order's total is %(total)s.", total=format_money(order.total_cents)))
        return
    try:
        orders.transition(settings, order, PAID, SYSTEM, provider_id=received.provider_id, mail_later=True, payment={
            "provider": attempt.provider, "amount_cents": received.amount_cents, "currency": received.currency,
            "method": received.method, "card_brand": received.card_brand, "card_last4": received.card_last4})
    except orders.IllegalTransition:
        status = Order.select(Order.status).where(Order.id == order.id).scalar()
        issue(attempt.provider, UNEXPECTED_PAYMENT, received.provider_id, order, received.amount_cents,
              received.currency, _("The order was %(status)s when the payment arrived.",
                                   status=status_label(status)))


def processing(attempt: PaymentAttempt) -> None:
    """Accepted, the money still on its way (SEPA direct debit takes days)."""
    order = _locked_order(attempt.order_id)
    if attempt.state == OPEN:
        _set_attempt(attempt, PROCESSING)
        OrderEvent.create(order=order, status=order.status, actor=SYSTEM,
                          note=_("Payment accepted by the provider; the money is on its way"))


def failed(settings, attempt: PaymentAttempt) -> None:
    """The payment did not go through (a direct debit returned): the order waits for
    payment again, and the customer is told how to pay."""
    order = _locked_order(attempt.order_id)
    if attempt.state not in UNFINISHED:
        return
    _set_attempt(attempt, FAILED)
    if order.status == AWAITING_PAYMENT:
        OrderEvent.create(order=order, status=order.status, actor=SYSTEM, note=_("Payment failed"))
        outbox.enqueue(orders.status_mail(settings, order, "order_payment_failed"), order_id=order.id,
                       kind="order_payment_failed")


def expired(settings, attempt: PaymentAttempt) -> None:
    """The provider's page closed unpaid. If it was the order's way of paying, the order
    is cancelled and its stock returns; a newer attempt or another method keeps it."""
    order = _locked_order(attempt.order_id)
    if attempt.state not in UNFINISHED:
        return
    _set_attempt(attempt, EXPIRED)
    latest = attempt.number == _last_attempt_number(order.id)
    if latest and order.status == AWAITING_PAYMENT and order.payment_method == attempt.provider:
        orders.transition(settings, order, CANCELLED, SYSTEM, note=_("Not paid in time"))


def refunded(settings, order_id: int, provider: str, refund_id: str, amount_cents: int, note: str = "") -> None:
    """Money paid back at the provider (through the back office or the provider's own
    dashboard): recorded once per refund id."""
    if Refund.select().where((Refund.provider == provider) & (Refund.provider_id == refund_id)).exists():
        return
    order = _locked_order(order_id)
    wanted = refunds.RefundRequest(amount_cents, {}, reference=refund_id, note=note, provider_id=refund_id)
    try:
        refunds.refund(settings, order, wanted, SYSTEM)
    except (refunds.RefundProblem, orders.IllegalTransition) as problem:
        issue(provider, "refund_unmatched", refund_id, order, amount_cents, "EUR", str(problem))


def disputed(provider: str, order_id: int, dispute_id: str, amount_cents: int, reason: str) -> None:
    order = _locked_order(order_id)
    issue(provider, DISPUTE, dispute_id, order, amount_cents, "EUR", reason)
    OrderEvent.create(order=order, status=order.status, actor=SYSTEM,
                      note=_("Payment disputed by the customer: %(amount)s", amount=format_money(amount_cents)))


def issue(provider: str, kind: str, reference: str, order: Order | None, amount_cents: int | None,
          currency: str = "EUR", detail: str = "") -> None:
    """Keep a difference for the merchant to settle, once per provider, kind and id."""
    inserted = (PaymentIssue.insert(provider=provider, kind=kind, reference=reference,
                                    order=order.id if order else None, amount_cents=amount_cents,
                                    currency=currency, detail=detail, created_at=now())
                .on_conflict_ignore().execute())
    if inserted:
        log.warning("Payment issue %s at %s for %s: %s", kind, provider, order.number if order else "-", reference)


def _locked_order(order_id: int) -> Order:
    return locked(Order.select().where(Order.id == order_id)).get()


def _set_attempt(attempt: PaymentAttempt, state: str) -> None:
    """The attempt's new state, with the provider's id for it (learnt from its event)."""
    changes = {"state": state, "updated_at": now()}
    if attempt.provider_id:
        changes["provider_id"] = attempt.provider_id
    PaymentAttempt.update(changes).where(PaymentAttempt.id == attempt.id).execute()
    attempt.state = state


def _last_attempt_number(order_id: int) -> int:
    return PaymentAttempt.select(PaymentAttempt.number).where(PaymentAttempt.order == order_id) \
        .order_by(PaymentAttempt.number.desc()).scalar() or 0


# -- opening a payment ----------------------------------------------------------------------

def first_attempt(settings, order: Order) -> None:
    """The first attempt at paying an order at its provider, recorded in the order's own
    transaction: its key is durable before the provider is asked."""
    if order.payment_method != BANK_TRANSFER:
        PaymentAttempt.create(order=order.id, number=1, key=f"{order.number}-1", provider=order.payment_method,
                              return_url=orders.order_url(settings, order))


def attempt_to_open(order_id: int, provider: str, return_url: str) -> tuple[PaymentAttempt, list[PaymentAttempt]]:
    """The attempt to send the shopper to: the latest one while it is open (asked again
    with its key, the provider answers with the same page), else a new one, committed
    before the provider is asked, with the earlier unfinished ones to close there."""
    latest = latest_attempt(order_id)
    if latest is not None and latest.state == OPEN and latest.provider == provider:
        order = Order.get_by_id(order_id)
        if order.status == AWAITING_PAYMENT and order.payment_status == UNPAID and order.payment_method == provider:
            return latest, []
    return open_attempt(order_id, provider, return_url)


def open_attempt(order_id: int, provider: str, return_url: str) -> tuple[PaymentAttempt, list[PaymentAttempt]]:
    """A new attempt at paying the order at `provider`, committed before the provider is
    asked; with it the earlier unfinished attempts, now abandoned, to close at the provider."""
    with write():
        order = _locked_order(order_id)
        if order.status != AWAITING_PAYMENT or order.payment_status != UNPAID or order.payment_method != provider:
            raise NotPayable(order.number)
        earlier = list(PaymentAttempt.select().where((PaymentAttempt.order == order.id)
                                                     & PaymentAttempt.state.in_(UNFINISHED)))
        PaymentAttempt.update(state=ABANDONED, updated_at=now()).where(
            PaymentAttempt.id.in_([attempt.id for attempt in earlier])).execute()
        number = _last_attempt_number(order.id) + 1
        attempt = PaymentAttempt.create(order=order.id, number=number, key=f"{order.number}-{number}",
                                        provider=provider, return_url=return_url)
        return attempt, earlier


def attempt_started(attempt: PaymentAttempt, started: Started) -> PaymentAttempt:
    """Keep the provider's id and page of an opened attempt."""
    with write():
        PaymentAttempt.update(provider_id=started.provider_id, url=started.url, updated_at=now()).where(
            (PaymentAttempt.id == attempt.id) & PaymentAttempt.provider_id.is_null()).execute()
    return PaymentAttempt.get_by_id(attempt.id)


def start(settings, provider: Provider, order_id: int, return_url: str) -> Started:
    """Open a payment at the provider's page: the attempt first, then the provider's
    session (its id is kept when its event comes, or by the reconciliation). Closes
    earlier attempts; raises ProviderError or NotPayable."""
    attempt, earlier = attempt_to_open(order_id, provider.name, return_url)
    for old in earlier:
        provider.abandon(old)
    return provider.start(Order.get_by_id(order_id), attempt)


def switch_to_transfer(order: Order) -> list[PaymentAttempt]:
    """Pay an unpaid order by bank transfer instead; returns the attempts to close at
    their provider."""
    with write():
        order = _locked_order(order.id)
        if order.status != AWAITING_PAYMENT or order.payment_status != UNPAID:
            raise NotPayable(order.number)
        if order.payment_method == BANK_TRANSFER:
            return []
        earlier = list(PaymentAttempt.select().where((PaymentAttempt.order == order.id)
                                                     & PaymentAttempt.state.in_(UNFINISHED)))
        PaymentAttempt.update(state=ABANDONED, updated_at=now()).where(
            PaymentAttempt.id.in_([attempt.id for attempt in earlier])).execute()
        Order.update(payment_method=BANK_TRANSFER, updated_at=now()).where(Order.id == order.id).execute()
        OrderEvent.create(order=order, status=order.status, actor="customer",
                          note=_("Payment method changed to bank transfer"))
        return earlier


def latest_attempt(order_id: int) -> PaymentAttempt | None:
    return PaymentAttempt.select().where(PaymentAttempt.order == order_id) \
        .order_by(PaymentAttempt.number.desc()).first()


# -- refunds from the back office -----------------------------------------------------------

def pay_back(provider: Provider, order: Order, wanted: refunds.RefundRequest) -> refunds.RefundRequest:
    """Pay back through the provider, if the refund is allowed; `wanted` with the
    provider's refund id, for the caller to record (refunds.refund). The idempotency key
    (order and refund number) makes a repeated request one refund at the provider, and
    its id then refused as recorded already. Raises RefundProblem, nothing paid back."""
    refunds.check(order, wanted)
    payment = (Payment.select().where((Payment.order == order.id) & (Payment.provider == provider.name)
                                      & (Payment.state == SUCCEEDED))
               .order_by(Payment.id.desc()).first())
    if payment is None:
        raise refunds.RefundProblem(_("This order has no payment to pay back at %(provider)s.",
                                      provider=provider.name))
    number = Refund.select().where(Refund.order == order.id).count() + 1
    try:
        refund_id = provider.refund(payment, wanted.amount_cents, f"{order.number}-refund-{number}")
    except ProviderError as problem:
        raise refunds.RefundProblem(str(problem)) from problem
    if Refund.select().where((Refund.provider == provider.name) & (Refund.provider_id == refund_id)).exists():
        raise refunds.RefundProblem(_("This refund is recorded already."))
    return replace(wanted, provider_id=refund_id)


# -- reconciliation -------------------------------------------------------------------------

CHECK_AFTER = dt.timedelta(seconds=60)  # give the provider's event time to arrive first
BATCH = 100


def attempts_to_check(provider: str) -> list[PaymentAttempt]:
    """Unfinished attempts that no event has settled a while after they were opened."""
    due = now() - CHECK_AFTER
    return list(PaymentAttempt.select().where(
        (PaymentAttempt.provider == provider) & PaymentAttempt.state.in_(UNFINISHED)
        & (PaymentAttempt.created_at <= due)
        & (PaymentAttempt.checked_at.is_null() | (PaymentAttempt.checked_at <= due))
    ).order_by(PaymentAttempt.id).limit(BATCH))


def payments_to_check(provider: str) -> list[Payment]:
    """Payments recorded here and not yet compared with the provider's record."""
    return list(Payment.select().where(
        (Payment.provider == provider) & Payment.checked_at.is_null() & Payment.provider_id.is_null(False)
        & (Payment.created_at <= now() - CHECK_AFTER)
    ).order_by(Payment.id).limit(BATCH))


def payments_to_describe(provider: str) -> list[Payment]:
    """Payments whose method (card brand and last digits) is still to be asked."""
    return list(Payment.select().where((Payment.provider == provider) & (Payment.method == "")
                                       & Payment.provider_id.is_null(False)).order_by(Payment.id).limit(BATCH))


def describe(payment: Payment, method: str, card_brand: str = "", card_last4: str = "") -> None:
    with write():
        Payment.update(method=method, card_brand=card_brand, card_last4=card_last4, updated_at=now()).where(
            Payment.id == payment.id).execute()


def checked(item: PaymentAttempt | Payment) -> None:
    with write():
        type(item).update(checked_at=now()).where(type(item).id == item.id).execute()


def in_transaction(effect: Callable[[], object]) -> None:
    with write():
        effect()
