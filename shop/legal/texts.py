"""The legal texts, filled with the merchant's details.

Each text has a version; an order stores the versions the shopper agreed to.
Change the version whenever the wording of a text changes.
"""
from __future__ import annotations

import datetime as dt

from shop.mail import outbox

VERSIONS = {
    "terms": dt.date(2026, 11, 29),
    "withdrawal": dt.date(2026, 11, 29),
    "privacy": dt.date(2026, 11, 29),
}
TITLES = {
    "impressum": "Impressum",
    "terms": "Allgemeine Geschäftsbedingungen",
    "withdrawal": "Widerrufsbelehrung",
    "privacy": "Datenschutzerklärung",
}


def versions() -> dict[str, str]:
    """The versions in force, as an order stores them."""
    return {name: day.isoformat() for name, day in VERSIONS.items()}


def attachments(settings) -> list[tuple[str, str]]:
    """The terms and the withdrawal notice with its model form, for the order mail."""
    return [
        (filename, outbox.render("mail/legal_attachment.html", {
            "settings": settings, "name": name, "title": TITLES[name], "versions": VERSIONS}))
        for filename, name in (("AGB.html", "terms"), ("Widerrufsbelehrung.html", "withdrawal"))
    ]
