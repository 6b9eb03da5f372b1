"""One order in the back office: lines, totals with VAT per rate, addresses, payments and
refunds, the shipment, a timeline of its events and mails, internal notes; and the steps
its state allows, as forms that htmx swaps in place (without JavaScript: post, then back
to the page). A step the state does not allow, sent by hand, is refused (409) and changes
nothing. Every step is recorded in the audit trail with the change it makes."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from peewee import IntegrityError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route
from wtforms import BooleanField, FormField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from shop.accounts.models import User
from shop.admin.actor import actor
from shop.admin.orders import NUMBER, ticked_ids
from shop.audit.service import Actor, changes, record
from shop.db import run_db, write
from shop.forms import AddressFields, EuroField, ShopForm, printable_text, strip, text, whole_number
from shop.i18n import _
from shop.i18n import lazy_gettext as _l
from shop.mail.models import OutboxMessage
from shop.orders import refunds, service
from shop.payments.registry import available
from shop.payments.service import pay_back
from shop.pricing import payment_name
from shop.orders.carriers import CARRIERS, TRACKING_NUMBER, carrier_name, tracking_url
from shop.orders.models import (
    AWAITING_PAYMENT, CANCELLED, DELIVERED, PAID, SHIPPED, Order, OrderEvent, OrderLine, OrderNote, Payment, Refund,
)
from shop.web import flash, form_data, is_htmx, render, see_other, url_path

# -- forms --------------------------------------------------------------------------


class PaidForm(ShopForm):
    reference = text(_l("Reference of the transfer (optional)"), max_length=140, required=False)


class ShipForm(ShopForm):
    carrier = SelectField(_l("Parcel service"), choices=[SelectChoice(k, name) for k, (name, _url) in CARRIERS.items()])
    tracking_number = text(_l("Tracking number"), max_length=40)

    def validate_tracking_number(self, field):
        field.data = "".join((field.data or "").split())
        if field.data and not TRACKING_NUMBER.fullmatch(field.data):
            raise ValidationError(_("Letters and digits only, 6 to 40 of them."))


class CancelForm(ShopForm):
    reason = text(_l("Reason (optional, for the history)"), max_length=200, required=False)
    reference = text(_l("Reference of the transfer back"), max_length=140, required=False)


class RefundForm(ShopForm):
    """Money back, with the quantities of the lines it is for ("line-ID" fields, left
    empty for none), read into `lines`."""

    amount = EuroField(_l("Amount to pay back"), validators=[InputRequired(_l("Please enter the amount."))])
    reference = text(_l("Reference of the transfer back"), max_length=140, required=False)
    restock = BooleanField(_l("The goods came back: put them into stock"))
    note = text(_l("Note (optional)"), max_length=200, required=False)

    def __init__(self, formdata=None, **kwargs):
        super().__init__(formdata, **kwargs)
        self.lines: dict[int, int] = {}
        self.typed_lines: dict[str, str] = {}
        self.bad_line = False
        for key, value in (formdata.multi_items() if formdata is not None else ()):
            if not key.startswith("line-") or not str(value).strip():
                continue
            self.typed_lines[key] = str(value)[:10]
            line_id, quantity = whole_number(key[5:]), whole_number(str(value).strip())
            if line_id is None or quantity is None:
                self.bad_line = True
            elif quantity:
                self.lines[line_id] = quantity

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.bad_line:
            self.form_errors.append(_("Please enter whole numbers as quantities."))
            return False
        return valid


class ConfirmForm(ShopForm):
    """A step without fields (delivered)."""


class NoteForm(ShopForm):
    text = TextAreaField(_l("Internal note"), filters=[strip],
                         validators=[DataRequired(_l("Please write the note.")), Length(max=2000), printable_text])


class AddressForm(ShopForm):
    delivery = FormField(AddressFields)


# -- the page -------------------------------------------------------------------------


@dataclass
class OrderView:
    order: Order
    lines: list[OrderLine]
    payments: list[Payment]
    refunds: list[Refund]
    notes: list[OrderNote]
    timeline: list[tuple[dt.datetime, str, Any]]  # (when, "event" or "mail", the row)
    refunded_lines: dict[int, int]
    refundable_cents: int
    customer: User | None
    steps: set[str] = field(default_factory=set)


def order_view(number: str) -> OrderView | None:
    order = Order.get_or_none(Order.number == number)
    if order is None:
        return None
    events = list(OrderEvent.select().where(OrderEvent.order == order.id))
    mails = list(OutboxMessage.select(
        OutboxMessage.id, OutboxMessage.subject, OutboxMessage.kind, OutboxMessage.created_at, OutboxMessage.sent_at,
        OutboxMessage.failed_at, OutboxMessage.last_error, OutboxMessage.recipient,
    ).where(OutboxMessage.order_id == order.id))
    timeline = sorted([(e.created_at, "event", e) for e in events] + [(m.created_at, "mail", m) for m in mails],
                      key=lambda item: (item[0], item[1] == "mail"))
    view = OrderView(
        order=order,
        lines=list(order.lines.order_by(OrderLine.id)),
        payments=list(order.payments.order_by(Payment.created_at)),
        refunds=list(order.refunds.order_by(Refund.created_at)),
        notes=list(order.notes.order_by(OrderNote.created_at.desc())),
        timeline=timeline,
        refunded_lines=refunds.refunded_quantities(order.id),
        refundable_cents=refunds.refundable_cents(order),
        customer=User.get_or_none(User.id == order.user_id) if order.user_id else None,
    )
    view.steps = allowed_steps(view)
    return view


def allowed_steps(view: OrderView) -> set[str]:
    order, steps = view.order, {"note"}
    for step, status in (("paid", PAID), ("ship", SHIPPED), ("delivered", DELIVERED), ("cancel", CANCELLED)):
        if order.can_become(status):
            steps.add(step)
    if order.status in refunds.REFUNDABLE and view.refundable_cents > 0:
        steps.add("refund")
    if order.status in (AWAITING_PAYMENT, PAID):
        steps.add("address")
    return steps


async def _view_or_404(request: Request) -> OrderView:
    number = request.path_params["number"]
    view = await run_db(order_view, number) if NUMBER.fullmatch(number) else None
    if view is None:
        raise HTTPException(404)
    return view


def _forms(view: OrderView, **given) -> dict[str, ShopForm]:
    """Every step's form: the one just sent as it was filled in, the rest fresh."""
    order = view.order
    forms: dict[str, ShopForm] = {
        "paid": PaidForm(), "ship": ShipForm(), "cancel": CancelForm(), "note": NoteForm(),
        "refund": RefundForm(data={"amount": view.refundable_cents / 100}),
        "address": AddressForm(data={"delivery": order.delivery_address}),
    }
    forms.update(given)
    return forms


async def order_page(request: Request):
    view = await _view_or_404(request)
    return _render(request, view, _forms(view))


def _render(request: Request, view: OrderView, forms: dict, status_code: int = 200, message: str = ""):
    order = view.order
    return render(request, "admin/order.html", {
        "view": view, "o": order, "forms": forms, "message": message,
        "message_kind": "error" if status_code >= 400 else "success",
        "carrier": carrier_name(order.carrier), "follow_url": tracking_url(order.carrier, order.tracking_number),
    }, fragment="fragments/admin/order_detail.html", status_code=status_code)


# -- the steps ------------------------------------------------------------------------


async def _step(request: Request, form_class, apply, success: str):
    """Validate the step's form, apply it (in the database thread), answer: the order
    again with a message, or the form with its errors, or 409 for a step the order's
    state does not allow."""
    view = await _view_or_404(request)
    data = await form_data(request)
    form = form_class(data)
    step = STEP_OF_FORM[form_class]
    if step not in view.steps:
        return _refused(request, view)
    if form.validate():
        try:
            await run_db(apply, request.app.state.settings, view, form, actor(request))
        except service.IllegalTransition:
            return _refused(request, view)
        except (refunds.RefundProblem, service.OrderProblem) as problem:
            form.form_errors.append(str(problem))
        else:
            return await _done(request, success)
    fresh = await run_db(order_view, view.order.number) or view
    return _render(request, fresh, _forms(fresh, **{step: form}), status_code=422)


async def _done(request: Request, message: str):
    if not is_htmx(request):
        flash(request, message, "success")
        return see_other(url_path(request, "admin:order", number=request.path_params["number"]))
    view = await _view_or_404(request)
    return _render(request, view, _forms(view), message=message)


def _refused(request: Request, view: OrderView):
    message = _("This step is not possible for the order in its current state; nothing was changed.")
    if not is_htmx(request):
        flash(request, message, "error")
    return _render(request, view, _forms(view), status_code=409, message=message)


def _mark_paid(settings, view: OrderView, form: PaidForm, who: Actor) -> None:
    with write():
        service.transition(settings, view.order, PAID, who.email, note=form.reference.data or "",
                           payment_reference=form.reference.data or "")
        record(who, "paid", "order", view.order.id, view.order.number, {"status": [view.order.status, PAID]})


def _ship(settings, view: OrderView, form: ShipForm, who: Actor) -> None:
    with write():
        service.transition(settings, view.order, SHIPPED, who.email, carrier=form.carrier.data,
                           tracking_number=form.tracking_number.data)
        record(who, "ship", "order", view.order.id, view.order.number, {
            "status": [view.order.status, SHIPPED], "carrier": ["", form.carrier.data],
            "tracking_number": ["", form.tracking_number.data]})


def _delivered(settings, view: OrderView, form: ConfirmForm, who: Actor) -> None:
    with write():
        service.transition(settings, view.order, DELIVERED, who.email)
        record(who, "delivered", "order", view.order.id, view.order.number, {"status": [view.order.status, DELIVERED]})


def _cancel(settings, view: OrderView, form: CancelForm, who: Actor) -> None:
    order = view.order
    refund_id = None
    if order.payment_status != "unpaid" and order.payment_method == "prepayment" and not form.reference.data:
        raise refunds.RefundProblem(_("The order is paid: please enter the reference of the transfer back."))
    if order.payment_status != "unpaid" and order.payment_method != "prepayment":
        left = refunds.refundable_cents(order)
        refund_id = _paid_back(settings, order, refunds.RefundRequest(left, {})).provider_id if left > 0 else None
    with write():
        service.transition(settings, order, CANCELLED, who.email, note=form.reason.data or "",
                           payment_reference=form.reference.data or refund_id or "", provider_id=refund_id)
        record(who, "cancel", "order", order.id, order.number, {"status": [order.status, CANCELLED]})


def _refund(settings, view: OrderView, form: RefundForm, who: Actor) -> None:
    wanted = refunds.RefundRequest(
        amount_cents=form.amount.cents or 0, lines=form.lines, reference=form.reference.data or "",
        restock=form.restock.data, note=form.note.data or "")
    if view.order.payment_method != "prepayment":
        wanted = _paid_back(settings, view.order, wanted)
    try:
        with write():
            refund = refunds.refund(settings, view.order, wanted, who.email)
            record(who, "refund", "order", view.order.id, view.order.number, {
                "refund": [None, refund.amount_cents], "lines": [None, refund.lines],
                "reference": [None, refund.reference or refund.provider_id]})
    except IntegrityError:  # the provider's refund, recorded by the same request sent twice
        raise refunds.RefundProblem(_("This refund is recorded already.")) from None


def _paid_back(settings, order, wanted: refunds.RefundRequest) -> refunds.RefundRequest:
    """Money of an order paid through a provider goes back through that provider."""
    provider = available(settings.payments).get(order.payment_method)
    if provider is None:
        raise refunds.RefundProblem(_("%(provider)s is not set up in this shop: please pay back in its "
                                      "dashboard; its event records the refund here.",
                                      provider=payment_name(order.payment_method)))
    return pay_back(provider, order, wanted)


def _note(settings, view: OrderView, form: NoteForm, who: Actor) -> None:
    with write():
        note = service.add_note(view.order, who.email, form.text.data)
        record(who, "note", "order", view.order.id, view.order.number, {"note": [None, note.text]})


def _address(settings, view: OrderView, form: AddressForm, who: Actor) -> None:
    after = {k: v for k, v in form.delivery.data.items() if k != "csrf_token"}
    with write():
        before = service.correct_delivery_address(view.order, after, who.email)
        record(who, "update", "order", view.order.id, view.order.number,
               {f"delivery.{k}": v for k, v in changes(before, after).items()})


STEP_OF_FORM = {PaidForm: "paid", ShipForm: "ship", CancelForm: "cancel", RefundForm: "refund",
                NoteForm: "note", AddressForm: "address", ConfirmForm: "delivered"}


async def mark_paid(request: Request):
    return await _step(request, PaidForm, _mark_paid, _("The order is paid; the customer has been mailed."))


async def ship(request: Request):
    return await _step(request, ShipForm, _ship, _("The order is shipped; the customer has been mailed the tracking link."))


async def delivered(request: Request):
    return await _step(request, ConfirmForm, _delivered, _("The order is delivered."))


async def cancel(request: Request):
    return await _step(request, CancelForm, _cancel, _("The order is cancelled; its stock is back and the customer has been mailed."))


async def refund(request: Request):
    return await _step(request, RefundForm, _refund, _("The refund is recorded; the customer has been mailed."))


async def add_note(request: Request):
    return await _step(request, NoteForm, _note, _("The note is saved."))


async def correct_address(request: Request):
    return await _step(request, AddressForm, _address, _("The delivery address is corrected."))


async def send_mail_again(request: Request):
    view = await _view_or_404(request)
    message_id = whole_number(str((await form_data(request)).get("message", "")))

    def again(who: Actor):
        with write():
            sent = service.send_again(view.order, message_id or 0)
            if sent is not None:
                record(who, "mail_again", "order", view.order.id, view.order.number, {"mail": [None, sent.subject]})
            return sent

    if await run_db(again, actor(request)) is None:
        raise HTTPException(404)
    return await _done(request, _("The mail is on its way again."))


# -- packing slips ----------------------------------------------------------------------


def packing_orders(ids: list[int]) -> list[tuple[Order, list[OrderLine]]]:
    orders = list(Order.select().where(Order.id.in_(ids)).order_by(Order.placed_at, Order.id)) if ids else []
    lines: dict[int, list[OrderLine]] = {}
    for line in OrderLine.select().where(OrderLine.order.in_([o.id for o in orders])).order_by(OrderLine.id):
        lines.setdefault(line.order_id, []).append(line)
    return [(o, lines.get(o.id, [])) for o in orders]


async def packing_slip(request: Request):
    view = await _view_or_404(request)
    slips = await run_db(packing_orders, [view.order.id])
    return render(request, "admin/packing_slips.html", {"slips": slips})


async def packing_slips(request: Request):
    slips = await run_db(packing_orders, ticked_ids(request.query_params))
    if not slips:
        flash(request, _("Please tick the orders whose packing slips you want to print."), "error")
        return see_other(url_path(request, "admin:orders"))
    return render(request, "admin/packing_slips.html", {"slips": slips})


routes = [
    Route("/orders/packing-slips", packing_slips, name="packing_slips"),
    Route("/orders/{number}", order_page, name="order"),
    Route("/orders/{number}/paid", mark_paid, methods=["POST"], name="order_paid"),
    Route("/orders/{number}/ship", ship, methods=["POST"], name="order_ship"),
    Route("/orders/{number}/delivered", delivered, methods=["POST"], name="order_delivered"),
    Route("/orders/{number}/cancel", cancel, methods=["POST"], name="order_cancel"),
    Route("/orders/{number}/refund", refund, methods=["POST"], name="order_refund"),
    Route("/orders/{number}/notes", add_note, methods=["POST"], name="order_note"),
    Route("/orders/{number}/address", correct_address, methods=["POST"], name="order_address"),
    Route("/orders/{number}/mail-again", send_mail_again, methods=["POST"], name="order_mail_again"),
    Route("/orders/{number}/packing-slip", packing_slip, name="packing_slip"),
]
