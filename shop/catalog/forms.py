"""The catalogue's filter form: validates every query parameter of `/products`."""
from __future__ import annotations

from wtforms import BooleanField, Form, SelectChoice, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from shop.forms import EuroField, WholeNumberField
from shop.i18n import FormMeta
from shop.i18n import lazy_gettext as _l

MAX_PRICE_EUROS = 1_000_000
MAX_PAGE = 10_000

SORTS = {
    "relevance": _l("Recommended"),
    "price_asc": _l("Price: low to high"),
    "price_desc": _l("Price: high to low"),
    "newest": _l("Newest"),
    "name": _l("Name"),
}


class FilterForm(Form):
    class Meta(FormMeta):
        pass

    q = StringField(_l("Search"), validators=[Optional(), Length(max=200)])
    category = StringField(_l("Category"), validators=[Optional(), Length(max=200)])
    min_price = EuroField(
        _l("Price from (€)"),
        validators=[Optional(), NumberRange(min=0, max=MAX_PRICE_EUROS,
                                            message=_l("Please enter an amount from 0 to 1,000,000 €."))],
    )
    max_price = EuroField(
        _l("Price to (€)"),
        validators=[Optional(), NumberRange(min=0, max=MAX_PRICE_EUROS,
                                            message=_l("Please enter an amount from 0 to 1,000,000 €."))],
    )
    in_stock = BooleanField(_l("In stock only"), false_values=("", "0", "false", "off"))
    sort = SelectField(
        _l("Sort by"), choices=[SelectChoice(v, label) for v, label in SORTS.items()], default="relevance"
    )
    page = WholeNumberField(
        _l("Page"), message=_l("There is no such page."),
        validators=[Optional(), NumberRange(min=1, max=MAX_PAGE, message=_l("There is no such page."))],
    )

    def validate_max_price(self, field):
        low, high = self.min_price.data, field.data
        if low is not None and high is not None and not self.min_price.errors and high < low:
            raise ValidationError(_l("The upper price must not be below the lower one."))

    def cleaned(self) -> dict:
        """The valid filters; an invalid value counts as not given."""
        def value(field, default=None):
            return default if field.errors or field.data in (None, "") else field.data

        return {
            "q": (value(self.q, "") or "").strip(),
            "category": value(self.category, ""),
            "min_price": self.min_price.cents,
            "max_price": self.max_price.cents,
            "in_stock": bool(value(self.in_stock, False)),
            "sort": value(self.sort, "relevance"),
            "page": value(self.page, 1),
        }
