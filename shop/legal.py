"""The pages the law asks a shop to show, filled with the merchant's details.

Each text has a version; an order stores the versions the shopper agreed to.
Change the version whenever the wording of a text changes.
"""
from __future__ import annotations

import datetime as dt

from starlette.requests import Request
from starlette.routing import Route

from shop.catalog.queries import navigation
from shop.db import run_db
from shop.web import env, render

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


def _text_page(name: str):
    async def page(request: Request):
        return render(request, "legal/text.html", {
            "name": name, "title": TITLES[name], "versions": VERSIONS,
            "nav_categories": await run_db(navigation),
        })
    return page


async def shipping(request: Request):
    return render(request, "legal/shipping.html", {"nav_categories": await run_db(navigation)})


def versions() -> dict[str, str]:
    """The versions in force, as an order stores them."""
    return {name: day.isoformat() for name, day in VERSIONS.items()}


def attachments(settings) -> list[tuple[str, str]]:
    """The terms and the withdrawal notice with its model form, for the order mail."""
    return [
        (filename, env.get_template("mail/legal_attachment.html").render(
            settings=settings, name=name, title=TITLES[name], versions=VERSIONS))
        for filename, name in (("AGB.html", "terms"), ("Widerrufsbelehrung.html", "withdrawal"))
    ]


routes = [
    *(Route(f"/{name}", _text_page(name), name=f"legal:{name}") for name in TITLES),
    Route("/shipping", shipping, name="legal:shipping"),
]
