"""Placing orders and moving them through their lifecycle.

`place_order` is the one place an order is made: in one transaction it re-reads
prices and stock, takes the stock with conditional updates that can never make
it negative, numbers the order gap-free per year, copies the lines, records the
legal texts agreed to, queues the confirmation mail and empties the cart.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from peewee import IntegrityError, fn

from shop.mail import outbox
from shop.mail.models import OutboxMessage
from shop.accounts import passwords
from shop.accounts.models import User
from shop.cart.models import Cart, CartLine
from shop.cart.service import CartItem, CartView, view_of
from shop.catalog import availability, stock
from shop.catalog.availability import MAX_QUANTITY
from shop.catalog.models import Product
from shop.db import db, locked, now, write
from shop.i18n import _, ngettext
from shop.i18n import SHOP_TIMEZONE
from shop.legal.texts import attachments as legal_attachments
from shop.legal.texts import versions as legal_versions

from .carriers import carrier_name, tracking_url
from .models import (
    AWAITING_PAYMENT,
    CANCELLED,
    PAID,
    REFUNDED,
    SHIPPED,
    SUCCEEDED,
    UNPAID,
    Order,
    OrderEvent,
    OrderLine,
    OrderNote,
    Payment,
    Refund,
)

# Stock goes back when an order ends before its goods left the warehouse.
RESTOCKING = {(AWAITING_PAYMENT, CANCELLED), (PAID, CANCELLED), (PAID, REFUNDED)}
MAILED = {PAID: "order_paid", SHIPPED: "order_shipped", CANCELLED: "order_cancelled",
          REFUNDED: "order_refunded"}


class OrderProblem(Exception):
    """The order cannot be placed as it stands; the message tells the shopper why."""


class OutOfStock(OrderProblem):
    pass


class CartChanged(OrderProblem):
    pass


class IllegalTransition(ValueError):
    pass


def place_order(settings, cart_token: str, token: str, fingerprint: str,
                on_placed: Callable[[Order], object] | None = None) -> Order:
    """Create the order as the review page showed it (`fingerprint`), or return the one
    this `token` already created (a double submit). `on_placed` runs in the order's
    transaction (the payment's first attempt is recorded with the order)."""
    try:
        with write():
            existing = Order.get_or_none(Order.idempotency_key == token)
            if existing:
                return existing
            cart = locked(Cart.select().where(Cart.token == cart_token)).get_or_none()
            view = view_of(cart, settings.shipping)
            if view.empty:
                raise OrderProblem(_("Your cart is empty."))
            if view.fingerprint != fingerprint:
                raise CartChanged(_("Your cart has changed. Please check your order again."))
            order = _create(view, token, cart.user_id)
            _take_stock(view.items, order.number)
            if on_placed:
                on_placed(order)
            CartLine.delete().where(CartLine.cart == cart).execute()
            Cart.update(checkout={}, updated_at=now()).where(Cart.id == cart.id).execute()
            outbox.enqueue(confirmation_mail(settings, order), order_id=order.id, kind="order_confirmation")
            return order
    except IntegrityError:
        # The same order button, pressed twice at once: the other request made it.
        order = Order.get_or_none(Order.idempotency_key == token)
        if order is None:
            raise
        return order


def _take_stock(items: list[CartItem], order_number: str) -> None:
    """Take each line's quantity from stock, under the same rule as `availability`,
    in one conditional update that can never make the stock negative."""
    for item in items:
        product, quantity = item.product, item.quantity
        if quantity > MAX_QUANTITY:
            raise OutOfStock(availability.problem(product, quantity))
        taken = stock.move(product.id, -quantity, stock.ORDER, "customer",
                           order_number=order_number, only_active=True)
        if not taken:
            left = (Product.select(Product.stock)
                    .where((Product.id == product.id) & (Product.active == True))  # noqa: E712
                    .scalar() or 0)
            if left:
                raise OutOfStock(ngettext(
                    "Only %(num)d of %(name)s is left. Please change the quantity.",
                    "Only %(num)d of %(name)s are left. Please change the quantity.",
                    left, name=product.name))
            raise OutOfStock(_("%(name)s has sold out in the meantime. Please remove it from your cart.",
                               name=product.name))


def _create(view: CartView, token: str, user_id: int | None) -> Order:
    checkout, totals = view.checkout, view.totals
    placed = now()
    order = Order.create(
        user=user_id,
        number=next_number(placed.replace(tzinfo=dt.UTC).astimezone(SHOP_TIMEZONE).year),
        email=checkout["email"],
        billing_address=checkout["billing"],
        shipping_address=checkout.get("shipping"),
        delivery_option=checkout["delivery"],
        payment_method=checkout["payment"],
        subtotal_cents=totals.subtotal_cents,
        shipping_cents=totals.shipping_cents,
        total_cents=totals.total_cents,
        vat_by_rate={str(rate): cents for rate, cents in totals.vat_by_rate.items()},
        vat_cents=sum(totals.vat_by_rate.values()),
        legal_versions=legal_versions(),
        idempotency_key=token,
        placed_at=placed,
        updated_at=placed,
        customer_name=checkout["billing"].get("name", "")[:255],
        country=(checkout.get("shipping") or checkout["billing"]).get("country", ""),
    )
    OrderLine.insert_many([
        dict(order=order, product=line.product_id, sku=line.sku, name=line.name,
             unit_price_cents=line.unit_price_cents, vat_rate=line.vat_rate, quantity=line.quantity,
             total_cents=line.total_cents, vat_cents=line.vat_cents)
        for line in totals.lines
    ]).execute()
    OrderEvent.create(order=order, status=AWAITING_PAYMENT, actor="customer", created_at=placed)
    return order


def next_number(year: int) -> str:
    """The next order number of the year, e.g. 2026-000042; gap-free because it is
    taken inside the order's own transaction (a rollback returns it)."""
    param = db.obj.param
    cursor = db.execute_sql(
        f"INSERT INTO order_sequence (year, last_number) VALUES ({param}, 1) "
        "ON CONFLICT (year) DO UPDATE SET last_number = order_sequence.last_number + 1 "
        "RETURNING last_number",
        [year],
    )
    return f"{year}-{cursor.fetchone()[0]:06d}"


def transition(settings, order: Order, status: str, actor: str, note: str = "",
               carrier: str = "", tracking_number: str = "", payment_reference: str = "",
               provider_id: str | None = None, payment: dict | None = None,
               mail_later: bool = False, mail_extra: dict | None = None) -> Order:
    """Move an order to `status`, if its current state allows it; records and mails the
    step. Paid: the money received is recorded as a payment (`payment_reference`, e.g. the
    transfer's reference; `provider_id`, what identifies it at its source, so that it is
    never recorded twice; `payment`, what a provider tells about it: amount, currency,
    method, card). Refunded, or cancelled after payment: what was not yet paid back is
    recorded as a refund (`payment_reference`: the transfer back; `provider_id`: the
    provider's refund). `mail_later`: the step's mail is written by the worker (a
    provider's event is answered sooner); `mail_extra`, what else it says (why an order
    was cancelled)."""
    with write():
        order = locked(Order.select().where(Order.id == order.id)).get()
        if not order.can_become(status):
            raise IllegalTransition(f"{order.number}: {order.status} → {status} is not allowed")
        if status == SHIPPED and not (carrier and tracking_number):
            raise IllegalTransition("A shipment needs a carrier and a tracking number.")
        if (order.status, status) in RESTOCKING:
            for line in order.lines.where(OrderLine.product.is_null(False)):
                stock.move(line.product_id, line.quantity, stock.CANCELLATION, actor,
                           order_number=order.number)
        changes = {"status": status, "updated_at": now()}
        if status == SHIPPED:
            changes.update(carrier=carrier, tracking_number=tracking_number)
        if status == PAID:
            method = order.payment_method
            if payment is None and method != "prepayment":
                # Marked paid by hand, not by the provider: the money came by transfer.
                method = changes["payment_method"] = "prepayment"
            Payment.create(**{"order": order.id, "provider": method, "provider_id": provider_id,
                              "amount_cents": order.total_cents, "state": SUCCEEDED,
                              "reference": payment_reference, "actor": actor, **(payment or {})})
            changes["payment_status"] = PAID
        elif status in (REFUNDED, CANCELLED) and order.payment_status != UNPAID:
            outstanding = order.total_cents - refunded_cents(order.id)
            if outstanding > 0:
                Refund.create(order=order.id, provider=order.payment_method, provider_id=provider_id,
                              amount_cents=outstanding, state=SUCCEEDED, reference=payment_reference, note=note,
                              actor=actor)
            changes["payment_status"] = REFUNDED
        Order.update(changes).where(Order.id == order.id).execute()
        OrderEvent.create(order=order, status=status, actor=actor, note=note)
        for name, value in changes.items():
            setattr(order, name, value)
        if status in MAILED and mail_later:
            outbox.enqueue_later(order.email, status_subject(order, MAILED[status]), order.id, MAILED[status])
        elif status in MAILED:
            outbox.enqueue(status_mail(settings, order, MAILED[status], mail_extra), order_id=order.id,
                           kind=MAILED[status])
        return order


def add_note(order: Order, author: str, text: str) -> OrderNote:
    with write():
        return OrderNote.create(order=order.id, author=author, text=text)


def correct_delivery_address(order: Order, address: dict, actor: str) -> dict:
    """Correct where the order goes, before it has left; returns the address as it was.
    The country stays: another one could change the shipping costs the customer agreed to."""
    with write():
        order = locked(Order.select().where(Order.id == order.id)).get()
        if order.status not in (AWAITING_PAYMENT, PAID):
            raise IllegalTransition(f"{order.number}: the address of a {order.status} order stays")
        before = order.delivery_address
        if address.get("country") != before.get("country"):
            raise OrderProblem(_("The country of delivery cannot change: it decides the shipping costs. "
                                 "Cancel the order instead, if need be."))
        Order.update(shipping_address=address, updated_at=now()).where(Order.id == order.id).execute()
        OrderEvent.create(order=order, status=order.status, actor=actor, note=_("Delivery address corrected"))
        return before


def send_again(order: Order, message_id: int) -> OutboxMessage | None:
    """The same mail once more, as it was sent; None if the order has no such mail."""
    with write():
        sent = OutboxMessage.get_or_none((OutboxMessage.id == message_id) & (OutboxMessage.order_id == order.id))
        if sent is None or not sent.message:
            return None
        return OutboxMessage.create(recipient=sent.recipient, subject=sent.subject, message=sent.message,
                                    order_id=order.id, kind=sent.kind)


def refunded_cents(order_id: int) -> int:
    return Refund.select(fn.COALESCE(fn.SUM(Refund.amount_cents), 0)).where(
        (Refund.order == order_id) & (Refund.state == SUCCEEDED)).scalar()


# -- the signed link in order mail ---------------------------------------------------

VALID, EXPIRED = "valid", "expired"


def _link_signer(settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="order-link")


def order_token(settings, number: str) -> str:
    return _link_signer(settings).dumps(number)


def order_for_link(settings, number: str, token: str | None) -> tuple[str | None, Order | None]:
    """(VALID, order) for a live link to this order, (EXPIRED, order) for one past
    ORDER_LINK_DAYS, (None, None) for anything else: a number alone shows nothing."""
    if not token:
        return None, None
    try:
        signed = _link_signer(settings).loads(token, max_age=settings.order_link_days * 24 * 3600)
        state = VALID
    except SignatureExpired:
        signed, state = _link_signer(settings).loads(token), EXPIRED
    except BadSignature:
        return None, None
    if signed != number:
        return None, None
    order = Order.get_or_none(Order.number == number)
    return (state, order) if order else (None, None)


def order_for_token(settings, number: str, token: str | None) -> Order | None:
    """The order, if `token` is a live link to it."""
    state, order = order_for_link(settings, number, token)
    return order if state == VALID else None


def order_url(settings, order: Order) -> str:
    return outbox.link(settings, "orders:show", number=order.number,
                       query={"token": order_token(settings, order.number)})


def mail_fresh_link(settings, order: Order) -> None:
    """A new link to the order, to the address it was placed with."""
    with write():
        outbox.enqueue(outbox.compose(settings, order.email, _("Your link to order %(number)s", number=order.number),
                                      "order_link", {"order": order, "link": order_url(settings, order)}),
                       order_id=order.id, kind="order_link")


def confirmation_mail(settings, order: Order):
    return outbox.compose(
        settings, order.email, _("Your order %(number)s", number=order.number),
        "order_confirmation", _mail_context(settings, order),
        attachments=legal_attachments(settings),
    )


def status_mail(settings, order: Order, template: str, extra: dict | None = None):
    return outbox.compose(settings, order.email, status_subject(order, template), template,
                          {**_mail_context(settings, order), **(extra or {})})


def status_mail_of(settings, kind: str, order_id: int):
    """An order's status mail of `kind`, written from the order as it is now (for mail
    queued with `transition(..., mail_later=True)`)."""
    return status_mail(settings, Order.get_by_id(order_id), kind)


def status_subject(order: Order, template: str) -> str:
    subjects = {
        "order_paid": _("Payment received for order %(number)s", number=order.number),
        "order_shipped": _("Order %(number)s is on its way", number=order.number),
        "order_cancelled": _("Order %(number)s has been cancelled", number=order.number),
        "order_refunded": _("Order %(number)s has been refunded", number=order.number),
        "order_refunded_partly": _("Money paid back for order %(number)s", number=order.number),
        "order_payment_failed": _("The payment for order %(number)s did not go through", number=order.number),
        "order_payment_reminder": _("Reminder: payment for order %(number)s", number=order.number),
    }
    return subjects[template]


def _mail_context(settings, order: Order) -> dict:
    return {"order": order, "lines": list(order.lines.order_by(OrderLine.id)),
            "link": order_url(settings, order), "carrier": carrier_name(order.carrier),
            "tracking_url": tracking_url(order.carrier, order.tracking_number)}


def order_by_key(key: str) -> Order | None:
    return Order.get_or_none(Order.idempotency_key == key) if key else None


def order_for_visitor(settings, number: str, token: str | None,
                      user_id: int | None = None) -> tuple[str | None, Order | None]:
    """As `order_for_link`, and (VALID, order) for its signed-in owner."""
    owned = Order.get_or_none((Order.number == number) & (Order.user == user_id)) if user_id else None
    return (VALID, owned) if owned else order_for_link(settings, number, token)


@dataclass
class OrderPage:
    order: Order
    lines: list[OrderLine]
    events: list[OrderEvent]
    payments: list[Payment]
    refunds: list[Refund]


def order_page(settings, number: str, token: str | None,
               user_id: int | None = None) -> tuple[str | None, OrderPage | None]:
    """(VALID, the page) for its owner or the holder of a live link; (EXPIRED, None) for
    the holder of an expired link; (None, None) for anyone else."""
    state, order = order_for_visitor(settings, number, token, user_id)
    if state != VALID or order is None:
        return state, None
    return VALID, OrderPage(order, list(order.lines.order_by(OrderLine.id)),
                            list(order.events.order_by(OrderEvent.created_at, OrderEvent.id)),
                            list(order.payments.where(Payment.state == SUCCEEDED).order_by(Payment.id)),
                            list(order.refunds.where(Refund.state == SUCCEEDED).order_by(Refund.id)))


def order_history(user_id: int) -> list[Order]:
    """The account's orders, each with how it was paid (`paid_with`, its payments) and
    what was paid back (`refunded_cents`): three queries for the whole list."""
    orders = list(Order.select().where(Order.user == user_id).order_by(Order.placed_at.desc(), Order.id.desc()))
    ids = [order.id for order in orders]
    payments: dict[int, list[Payment]] = {}
    refunded: dict[int, int] = {}
    if ids:
        paid = Payment.select().where(Payment.order.in_(ids) & (Payment.state == SUCCEEDED)).order_by(Payment.id)
        for payment in paid:
            payments.setdefault(payment.order_id, []).append(payment)
        rows: list[Any] = list(Refund.select(Refund.order, fn.SUM(Refund.amount_cents))
                               .where(Refund.order.in_(ids) & (Refund.state == SUCCEEDED))
                               .group_by(Refund.order).tuples())
        refunded = dict(rows)
    for order in orders:
        order.paid_with = payments.get(order.id, [])
        order.refunded_cents = refunded.get(order.id, 0)
    return orders


def lines_to_reorder(number: str, user_id: int) -> list[tuple[int, int]] | None:
    """(product id, quantity) of an own order's lines whose product still exists."""
    order = Order.get_or_none((Order.number == number) & (Order.user == user_id))
    if order is None:
        return None
    return [(line.product_id, line.quantity)
            for line in order.lines.where(OrderLine.product.is_null(False)).order_by(OrderLine.id)]


# -- an account from a guest order ---------------------------------------------------

ACCOUNT_LINK_MAX_AGE = 3 * 24 * 3600


def _account_signer(settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="order-account")


def mail_account_link(settings, order: Order) -> None:
    """Creating an account proves the address first, as registration does: a mailed
    link to the page where the password is chosen."""
    token = _account_signer(settings).dumps({"number": order.number, "email": order.email})
    with write():
        outbox.enqueue(outbox.compose(
            settings, order.email, _("Your customer account at %(shop)s", shop=settings.merchant.name),
            "order_account", {"order": order, "link": outbox.link(
                settings, "orders:confirm_account", number=order.number, query={"token": token})}),
            order_id=order.id, kind="order_account")


def order_for_account_link(settings, number: str, token: str) -> Order | None:
    """The guest order a mailed account link is for, while it still has no account."""
    try:
        data = _account_signer(settings).loads(token, max_age=ACCOUNT_LINK_MAX_AGE)
    except BadSignature:  # SignatureExpired included
        return None
    if not isinstance(data, dict) or data.get("number") != number:
        return None
    return Order.get_or_none((Order.number == number) & (Order.email == data.get("email"))
                             & Order.user.is_null())


def account_from_order(order: Order, password: str) -> User | None:
    """An account for a guest order's (proven) address, owning that address's guest
    orders; None if the address already has an account."""
    with write():
        if User.select().where(User.email == order.email).exists():
            return None
        user = User.create(email=order.email, name=order.billing_address.get("name", ""),
                           password_hash=passwords.hash_password(password), email_verified_at=now())
        Order.update(user=user).where((Order.email == order.email) & Order.user.is_null()).execute()
        return user
