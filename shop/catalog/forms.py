"""The catalogue's filter form: validates every query parameter of `/products`."""
from __future__ import annotations

import re
from decimal import Decimal

from wtforms import (
    BooleanField,
    DecimalField,
    Form,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import Length, NumberRange, Optional, StopValidation, ValidationError

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


class EuroField(DecimalField):
    """An amount in euros as Germans write it (12,50 · 1.000 · 1.234,50 €) or with a dot (12.50)."""

    def process_formdata(self, valuelist):
        text = valuelist[0].replace("€", "").replace(" ", "").strip() if valuelist else ""
        if not text:
            self.data = None
            return
        if re.fullmatch(r"[0-9]{1,3}(\.[0-9]{3})+(,[0-9]{1,2})?", text):
            text = text.replace(".", "").replace(",", ".")
        elif re.fullmatch(r"[0-9]+(,[0-9]{1,2})?", text):
            text = text.replace(",", ".")
        elif not re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", text):
            self.data = None
            raise ValueError(_l("Please enter an amount in euros, e.g. 12,50."))
        self.data = Decimal(text)

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()  # "not an amount" says it all; skip the range check


class PageField(IntegerField):
    """A page number: digits only (no signs, underscores or other scripts' digits)."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0]:
            self.data = None
            return
        if not re.fullmatch(r"[0-9]{1,6}", valuelist[0]):
            self.data = None
            raise ValueError(_l("There is no such page."))
        self.data = int(valuelist[0])

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()


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
    page = PageField(
        _l("Page"),
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
            "min_price": _cents(value(self.min_price)),
            "max_price": _cents(value(self.max_price)),
            "in_stock": bool(value(self.in_stock, False)),
            "sort": value(self.sort, "relevance"),
            "page": value(self.page, 1),
        }


def _cents(euros: Decimal | None) -> int | None:
    return None if euros is None else int(euros * 100)
