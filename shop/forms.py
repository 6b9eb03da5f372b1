"""Form pieces shared by checkout and accounts: the base form, text fields, addresses."""
from __future__ import annotations

import re

from wtforms import Form, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from shop.config import COUNTRIES
from shop.i18n import FormMeta, country_name
from shop.i18n import lazy_gettext as _l

# Plain addresses only: what a mail header carries unchanged (no comments, lists or quotes).
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Postcode formats of the countries we deliver to; the rest use five digits.
POSTCODES = {
    **dict.fromkeys(["AT", "BE", "BG", "CY", "DK", "HU", "LU", "SI"], r"[0-9]{4}"),
    **dict.fromkeys(["CZ", "GR", "SE", "SK"], r"[0-9]{3} ?[0-9]{2}"),
    "NL": r"[0-9]{4} ?[A-Za-z]{2}", "PL": r"[0-9]{2}-[0-9]{3}", "PT": r"[0-9]{4}-[0-9]{3}",
    "RO": r"[0-9]{6}", "IE": r"[A-Za-z0-9]{3} ?[A-Za-z0-9]{4}", "MT": r"[A-Za-z]{3} ?[0-9]{4}",
    "LV": r"(LV-)?[0-9]{4}", "LT": r"(LT-)?[0-9]{5}",
}


class ShopForm(Form):
    class Meta(FormMeta):
        pass


def printable(form, field):
    if field.data and any(ord(c) < 32 or ord(c) == 127 for c in field.data):
        raise ValidationError(_l("Please use letters, digits and punctuation only."))


def strip(value):
    return value.strip() if isinstance(value, str) else value


def text(label, max_length: int = 100, required: bool = True):
    # DataRequired looks at the stripped value: blanks alone are not a name.
    validators = [DataRequired() if required else Optional(), Length(max=max_length), printable]
    return StringField(label, validators=validators, filters=[strip])


class AddressFields(ShopForm):
    name = text(_l("First and last name"))
    company = text(_l("Company (optional)"), required=False)
    street = text(_l("Street and house number"))
    postcode = text(_l("Postcode"), max_length=12)
    city = text(_l("City"), max_length=80)
    country = SelectField(_l("Country"), default="DE")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Germany first (most orders go there), then by name.
        names = sorted(((country_name(c), c) for c in COUNTRIES), key=lambda n: (n[1] != "DE", n[0]))
        self.country.choices = [SelectChoice(code, name) for name, code in names]

    def validate_postcode(self, field):
        pattern = POSTCODES.get(self.country.data, r"[0-9]{5}")
        if field.data and not re.fullmatch(pattern, field.data):
            raise ValidationError(_l("This is not a valid postcode for the chosen country."))

    def validate_street(self, field):
        if field.data and not re.search(r"[0-9]", field.data):
            raise ValidationError(_l("Please add the house number."))
