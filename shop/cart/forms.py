"""What the cart accepts: a product id and a quantity, nothing else from the client."""
from __future__ import annotations

from wtforms import Form, IntegerField
from wtforms.validators import InputRequired, NumberRange

from shop.i18n import FormMeta
from shop.i18n import lazy_gettext as _l

from .models import MAX_QUANTITY

QUANTITY_MESSAGE = _l("Please choose a quantity from 1 to %(max)d.", max=MAX_QUANTITY)
NOT_AVAILABLE = _l("This product is not available.")


class AddToCartForm(Form):
    class Meta(FormMeta):
        pass

    product_id = IntegerField(validators=[
        InputRequired(message=NOT_AVAILABLE),
        NumberRange(min=1, max=2**31 - 1, message=NOT_AVAILABLE),
    ])
    quantity = IntegerField(
        _l("Quantity"), default=1,
        validators=[NumberRange(min=1, max=MAX_QUANTITY, message=QUANTITY_MESSAGE)],
    )


class QuantityForm(Form):
    class Meta(FormMeta):
        pass

    quantity = IntegerField(
        _l("Quantity"),
        validators=[InputRequired(message=QUANTITY_MESSAGE),
                    NumberRange(min=0, max=MAX_QUANTITY, message=QUANTITY_MESSAGE)],
    )
