"""The one parser for whole numbers, euros and decimals that every form and the import share."""
from __future__ import annotations

from decimal import Decimal

import pytest

from shop.forms import decimal_number, euro_cents, whole_number

# Digits Python's int() and Decimal() take, which the shop does not: Arabic-Indic,
# full-width, Devanagari, mathematical bold.
OTHER_SCRIPTS_DIGITS = ["٣", "３", "١٢", "१२", "𝟏𝟐"]


# -- the shared number parsers (forms and importer) ------------------------------------

@pytest.mark.parametrize("text,number", [("0", 0), ("7", 7), ("007", 7), ("42", 42), ("999999999", 999_999_999)])
def test_whole_numbers_take_the_digits_0_to_9(text, number):
    assert whole_number(text) == number


@pytest.mark.parametrize("text", [None, "", " ", " 5", "5 ", "+1", "-1", "1_0", "1.0", "1,0", "1e3", "0x10",
                                  "1000000000", "9" * 100, "zehn", *OTHER_SCRIPTS_DIGITS])
def test_whole_numbers_refuse_signs_separators_other_scripts_and_huge_numbers(text):
    assert whole_number(text) is None


@pytest.mark.parametrize("text,cents", [
    ("12,50", 1250), ("12.50", 1250), ("12,5", 1250), ("12", 1200), ("0", 0), ("0,01", 1),
    ("1.000", 100_000), ("1.234,50", 123_450), ("1.234.567,89", 123_456_789),
    ("12,50 €", 1250), ("12,50\xa0€", 1250), (" 12,50 ", 1250), ("999999999", 99_999_999_900),
])
def test_euro_amounts_as_germans_write_them_or_with_a_point(text, cents):
    assert euro_cents(text) == cents


@pytest.mark.parametrize("text", [None, "", " ", "€", "-1", "+1", "1_0", "1e3", "12,999", "12,", ",5", ".5",
                                  "12.9.9", "1,234.50", "12,50,1", "NaN", "inf", "Infinity", "1000000000",
                                  "9" * 40, "zwölf", *OTHER_SCRIPTS_DIGITS])
def test_other_euro_amounts_are_refused(text):
    assert euro_cents(text) is None


@pytest.mark.parametrize("text,number", [("0,5", Decimal("0.5")), ("1.25", Decimal("1.25")), ("500", Decimal(500)),
                                         (" 0,5 ", Decimal("0.5")), ("1,123456", Decimal("1.123456")),
                                         ("999999999", Decimal(999_999_999))])
def test_decimals_take_a_comma_or_a_point(text, number):
    assert decimal_number(text) == number


@pytest.mark.parametrize("text", [None, "", " ", "-1", "+1", "1_0", "1e3", ".5", "1.", "1,1234567", "1.000,5",
                                  "1,2,3", "NaN", "Infinity", "1000000000", "9" * 40, *OTHER_SCRIPTS_DIGITS])
def test_other_decimals_are_refused(text):
    assert decimal_number(text) is None
