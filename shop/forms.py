"""Form pieces shared by every area: the base form, text fields, addresses, and the one
parser for whole numbers and euro amounts."""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from wtforms import DecimalField, Form, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, StopValidation, ValidationError

from shop.config import COUNTRIES
from shop.i18n import FormMeta, _, country_name
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

# What typed text must not contain: control characters (Unicode's Cc), invisible format
# characters (Cf: soft hyphen, zero-width space and joiners, bidi overrides, byte order
# mark, …) and line and paragraph separators (Zl, Zp). CONTROL is for one line;
# CONTROL_IN_TEXT lets line breaks and tabs through.
_INVISIBLE = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
CONTROL_IN_TEXT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_INVISIBLE}]")

# Digits 0-9 only: no signs, underscores, spaces or other scripts' digits ("١", "３"),
# which Python's int() and Decimal() would accept.
_WHOLE = re.compile(r"[0-9]{1,9}")
# Thousands grouped by a dot or a space (1.234 · 1 234,50), a comma or a dot before the cents.
_GROUPED = re.compile(r"[0-9]{1,3}([. ][0-9]{3})+(,[0-9]{1,2})?")
_GROUPED_WITH_CENTS = re.compile(r"[0-9]{1,3}([. ][0-9]{3})+,[0-9]{1,2}")
_COMMA_CENTS = re.compile(r"[0-9]{1,9}(,[0-9]{1,2})?")  # 12,50
_DOT_CENTS = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")  # 12.50
_DECIMAL = re.compile(r"[0-9]{1,9}([.,][0-9]{1,6})?")


def whole_number(text: str | None) -> int | None:
    """A whole number from 0 written with the digits 0-9 only, at most nine; else None."""
    return int(text) if isinstance(text, str) and _WHOLE.fullmatch(text) else None


def euro_cents(text: str | None, grouped_thousands: bool = True) -> int | None:
    """An amount in euros as Germans write it (12,50 · 1.000 · 1.234,50 €) or with a
    dot (12.50), in whole cents; None if it is not one. Without `grouped_thousands`
    (a file, where "12.999" is a typo, not twelve thousand) a group needs its cents:
    1.234,50 but not 1.234."""
    text = (text or "").replace("€", "").replace("\xa0", " ").strip()
    grouped = _GROUPED if grouped_thousands else _GROUPED_WITH_CENTS
    if grouped.fullmatch(text):
        text = text.replace(".", "").replace(" ", "").replace(",", ".")
    elif _COMMA_CENTS.fullmatch(text):
        text = text.replace(",", ".")
    elif not _DOT_CENTS.fullmatch(text):
        return None
    return int(Decimal(text) * 100)


def decimal_number(text: str | None) -> Decimal | None:
    """A decimal number like 0,5 or 1.25 (a content quantity), digits 0-9 only."""
    text = (text or "").strip()
    return Decimal(text.replace(",", ".")) if _DECIMAL.fullmatch(text) else None


class WholeNumberField(IntegerField):
    """An integer field that takes the digits 0-9 only (see `whole_number`)."""

    def __init__(self, label=None, validators=None, message=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        if not valuelist:
            return  # not sent: the default stands
        if valuelist[0] == "":
            self.data = None
            return
        self.data = whole_number(valuelist[0].strip())
        if self.data is None:
            raise ValueError(self.message or _l("Please enter a whole number."))

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()  # "not a number" says it all; skip the range check


class EuroField(DecimalField):
    """An amount in euros (see `euro_cents`); `cents` holds it in whole cents."""

    def process_formdata(self, valuelist):
        text = valuelist[0] if valuelist else ""
        if not text.strip():
            self.data = None
            return
        cents = euro_cents(text)
        if cents is None:
            self.data = None
            raise ValueError(_l("Please enter an amount in euros, e.g. 12,50."))
        self.data = Decimal(cents) / 100

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()

    def _value(self) -> str:
        """As Germans write it: 12,50."""
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else f"{self.data:.2f}".replace(".", ",")

    @property
    def cents(self) -> int | None:
        return None if self.data is None or self.errors else int(self.data * 100)


class ShopForm(Form):
    class Meta(FormMeta):
        pass


def _collation(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name.casefold()) if not unicodedata.combining(c))


def _refuse(found: re.Match | None) -> None:
    if found:
        code = "U+%04X" % ord(found.group())
        raise ValidationError(_(
            "Please use letters, digits and punctuation only: this contains the invisible character "
            "%(code)s (at position %(position)d), which often comes along with copied text.",
            code=code, position=found.start() + 1))


def printable(form, field):
    """One line of visible text (see CONTROL)."""
    if isinstance(field.data, str):
        _refuse(CONTROL.search(field.data))


def printable_text(form, field):
    """Visible text in lines (see CONTROL_IN_TEXT)."""
    if isinstance(field.data, str):
        _refuse(CONTROL_IN_TEXT.search(field.data))


def strip(value):
    return value.strip() if isinstance(value, str) else value


def text(label, max_length: int = 100, required: bool = True, message=None):
    """One line of text, stripped; `message` says what is missing when it is required."""
    # DataRequired looks at the stripped value: blanks alone are not a name.
    validators = [DataRequired(message) if required else Optional(), Length(max=max_length), printable]
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
        # Germany first (most orders go there), then by name as a dictionary sorts it
        # (Österreich between Niederlande and Polen).
        names = sorted(((country_name(c), c) for c in COUNTRIES), key=lambda n: (n[1] != "DE", _collation(n[0])))
        self.country.choices = [SelectChoice(code, name) for name, code in names]

    def validate_postcode(self, field):
        pattern = POSTCODES.get(self.country.data, r"[0-9]{5}")
        if field.data and not re.fullmatch(pattern, field.data):
            raise ValidationError(_l("This is not a valid postcode for the chosen country."))

    def validate_street(self, field):
        if field.data and not re.search(r"[0-9]", field.data):
            raise ValidationError(_l("Please add the house number."))
