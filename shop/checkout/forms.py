"""The checkout's forms: addresses, delivery and payment, and the final confirmation."""
from __future__ import annotations

from typing import Iterable

from wtforms import BooleanField, FormField, HiddenField, RadioField, SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from shop.forms import EMAIL, AddressFields, ShopForm, text
from shop.pricing import PAYMENT_NAMES
from shop.i18n import lazy_gettext as _l

class AddressForm(ShopForm):
    email = text(_l("Email address"), max_length=254)
    billing = FormField(AddressFields)
    separate_delivery = BooleanField(_l("Deliver to a different address"))
    delivery = FormField(AddressFields)
    save_addresses = BooleanField(_l("Save the addresses in my account"))  # offered when signed in

    def validate_email(self, field):
        if field.data and not EMAIL.fullmatch(field.data):
            raise ValidationError(_l("Please enter a valid email address."))

    def validate(self, extra_validators=None) -> bool:
        if self.separate_delivery.data:
            return super().validate(extra_validators)
        # The delivery fields are not in use: whatever they hold is not checked.
        delivery = self._fields.pop("delivery")
        try:
            return super().validate(extra_validators)
        finally:
            self._fields["delivery"] = delivery


DELIVERY_CHOICES = [
    SelectChoice("standard", _l("Standard shipping (DHL)")),
    SelectChoice("express", _l("Express shipping: delivered the working day after dispatch (Germany only)")),
]


class DeliveryForm(ShopForm):
    """Offers only the delivery options that apply to the destination; `costs` holds
    what each costs for this cart."""

    delivery = RadioField(_l("Delivery"), choices=DELIVERY_CHOICES, default="standard")
    payment = RadioField(_l("Payment"), default="prepayment")

    def __init__(self, formdata=None, *, costs: dict[str, int], payment_methods: Iterable[str], **kwargs):
        super().__init__(formdata, **kwargs)
        self.costs = costs
        self.delivery.choices = [choice for choice in DELIVERY_CHOICES if choice.value in costs]
        self.payment.choices = [SelectChoice(method, PAYMENT_NAMES[method]) for method in payment_methods]


class PlaceOrderForm(ShopForm):
    token = HiddenField(validators=[DataRequired(), Length(max=64)])
    fingerprint = HiddenField(validators=[DataRequired(), Length(max=64)])
    accept_terms = BooleanField(
        _l("I have read the terms and conditions and the cancellation policy."),
        validators=[InputRequired(message=_l("Please accept the terms and conditions to order."))],
    )
