"""The pages the law asks a shop to show, filled with the merchant's details.

Each text has a version; an order stores the versions the shopper agreed to.
Change the version whenever the wording of a text changes.
"""
from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from shop.catalog.queries import navigation
from shop.db import run_db
from shop.web import env, render

VERSIONS = {
    "terms": "2026-11-29",
    "withdrawal": "2026-11-29",
    "privacy": "2026-11-29",
}


def _page(template: str):
    async def page(request: Request):
        return render(request, template, {"nav_categories": await run_db(navigation),
                                          "versions": VERSIONS})
    return page


def attachments(settings) -> list[tuple[str, str]]:
    """The terms and the withdrawal notice with its model form, for the order mail."""
    return [
        (filename, env.get_template("mail/legal_attachment.html").render(
            settings=settings, text=f"fragments/legal/{name}.html", versions=VERSIONS))
        for filename, name in (("AGB.html", "terms"), ("Widerrufsbelehrung.html", "withdrawal"))
    ]


routes = [
    Route("/impressum", _page("legal/impressum.html"), name="legal:impressum"),
    Route("/terms", _page("legal/terms.html"), name="legal:terms"),
    Route("/withdrawal", _page("legal/withdrawal.html"), name="legal:withdrawal"),
    Route("/privacy", _page("legal/privacy.html"), name="legal:privacy"),
    Route("/shipping", _page("legal/shipping.html"), name="legal:shipping"),
]
