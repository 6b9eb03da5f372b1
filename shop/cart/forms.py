"""What the cart accepts: a product id and a quantity, nothing else from the client."""
from __future__ import annotations

from wtforms import Form, StringField
from wtforms.validators import InputRequired, NumberRange, Optional, Regexp

from shop.catalog.availability import MAX_QUANTITY
from shop.forms import WholeNumberField
from shop.i18n import FormMeta
from shop.i18n import lazy_gettext as _l

QUANTITY_MESSAGE = _l("Please choose a quantity from 1 to %(max)d.", max=MAX_QUANTITY)
NOT_AVAILABLE = _l("This product is not available.")
FORM_KEY = r"^[A-Za-z0-9_-]{16,64}$"


class AddToCartForm(Form):
    class Meta(FormMeta):
        pass

    product_id = WholeNumberField(message=NOT_AVAILABLE, validators=[
        InputRequired(message=NOT_AVAILABLE),
        NumberRange(min=1, max=2**31 - 1, message=NOT_AVAILABLE),
    ])
    quantity = WholeNumberField(
        _l("Quantity"), default=1, message=QUANTITY_MESSAGE,
        validators=[NumberRange(min=1, max=MAX_QUANTITY, message=QUANTITY_MESSAGE)],
    )
    # The rendered form's one-time key: the same form sent twice adds once.
    form_key = StringField(validators=[Optional(), Regexp(FORM_KEY, message=NOT_AVAILABLE)])


class QuantityForm(Form):
    class Meta(FormMeta):
        pass

    quantity = WholeNumberField(
        _l("Quantity"), message=QUANTITY_MESSAGE,
        validators=[InputRequired(message=QUANTITY_MESSAGE),
                    NumberRange(min=0, max=MAX_QUANTITY, message=QUANTITY_MESSAGE)],
    )
