"""EANs (GTIN-13 and GTIN-8): the check digit that the product form and the CSV import
verify."""
from __future__ import annotations


def gtin_check_digit(digits: str) -> int:
    """The check digit of a GTIN's other digits (weights 3, 1, 3, … from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def valid_gtin(code: str) -> bool:
    """8 or 13 digits (0-9 only) whose last is the check digit of the others."""
    return (code.isascii() and code.isdigit() and len(code) in (8, 13)
            and gtin_check_digit(code[:-1]) == int(code[-1]))
