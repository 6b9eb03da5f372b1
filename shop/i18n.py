"""Translations and locale-aware formatting (Babel).

Source strings are English; the catalogs live in `shop/locale/<lang>/LC_MESSAGES/
messages.po` and are compiled in memory at start-up, so there is no build step.
The locale of the current request is held in a context variable.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import io
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.dates import get_timezone
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import LazyProxy, NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = "de"
LOCALES = ("de", "en")
BABEL_LOCALES = {"de": "de_DE", "en": "en_GB"}

SHOP_TIMEZONE = get_timezone("Europe/Berlin")

_current = contextvars.ContextVar("locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> NullTranslations:
    po_file = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po_file.exists():
        return NullTranslations()
    with po_file.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def set_locale(locale: str) -> contextvars.Token:
    return _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


@contextlib.contextmanager
def in_language(locale: str):
    """Render something (a mail) in another language than the current request's."""
    token = set_locale(locale)
    try:
        yield
    finally:
        _current.reset(token)


def get_locale() -> str:
    return _current.get()


def gettext(message: str, **variables) -> str:
    text = translations(get_locale()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables) -> str:
    text = translations(get_locale()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


def lazy_gettext(message: str, **variables) -> LazyProxy:
    """For strings defined at import time (form labels), translated when shown."""
    return LazyProxy(gettext, message, enable_cache=False, **variables)


_ = gettext


def babel_locale() -> str:
    return BABEL_LOCALES[get_locale()]


def format_money(cents: int) -> str:
    """Integer cents as a price for the current locale: 1250 -> '12,50 €'."""
    return _money(cents, babel_locale())


@lru_cache(maxsize=50_000)
def _money(cents: int, locale: str) -> str:
    return format_currency(Decimal(cents) / 100, "EUR", locale=locale)


def format_number(value) -> str:
    if isinstance(value, int):
        return _whole_number(value, babel_locale())
    return format_decimal(value, locale=babel_locale())


@lru_cache(maxsize=10_000)
def _whole_number(value: int, locale: str) -> str:
    return format_decimal(value, locale=locale)


def format_date(value: dt.date | dt.datetime) -> str:
    return _format_date(value, format="medium", locale=babel_locale())


def format_datetime(value: dt.datetime) -> str:
    """A stored (UTC) time, shown in the shop's time zone."""
    return _format_datetime(value.replace(tzinfo=dt.UTC), format="medium",
                            tzinfo=SHOP_TIMEZONE, locale=babel_locale())


def format_datetime_short(value: dt.datetime) -> str:
    """A stored (UTC) time as a dense table shows it: the short date and hours:minutes,
    in the shop's time zone (the date's wording comes from Babel, once per day)."""
    local = value.replace(tzinfo=dt.UTC).astimezone(SHOP_TIMEZONE)
    return f"{_short_date(local.date(), babel_locale())}, {local:%H:%M}"


@lru_cache(maxsize=4096)
def _short_date(day: dt.date, locale: str) -> str:
    return _format_date(day, format="short", locale=locale)


@cache
def _wtforms_translations(locale: str):
    from wtforms.i18n import get_translations

    return get_translations([BABEL_LOCALES[locale], locale])


class FormMeta:
    """Mixed into a form's `Meta` so WTForms' own messages follow the request's locale."""

    def get_translations(self, form):
        return _wtforms_translations(get_locale())


def country_name(code: str) -> str:
    return Locale.parse(babel_locale()).territories.get(code, code)
