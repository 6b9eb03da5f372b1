"""Product cards, rendered once per catalogue version and then reused.

A listing shows dozens of cards; rendering each through Jinja is most of a
listing's cost. The card's markup depends only on the product (whose visible
fields bump the catalogue version), the language and whether it is on the
shopper's wishlist; the page's CSRF token and path are filled in per request.
"""
from __future__ import annotations

import jinja2
from markupsafe import Markup, escape

from shop import i18n

from .queries import VersionedCache

# Apart from the query cache, so that many different searches cycling through cards
# do not push out the counts and page ids of popular pages.
cards = VersionedCache(size=4096)

_TOKEN = "\x00token\x00"
_NEXT = "\x00next\x00"
_KEY = "\x00key\x00"
_PLACEHOLDERS = {"csrf": _TOKEN, "next": _NEXT, "key": _KEY}


@jinja2.pass_environment
def product_card(env: jinja2.Environment, p, page: dict, wished, version: tuple[str, int]) -> Markup:
    """`{{ product_card(p, cart_form, wished, version) }}` in a template."""
    on_list = p.id in wished
    key = ("card", i18n.get_locale(), p.id, on_list)
    html = cards.get(version, key, lambda: str(_macro(env)(p, _PLACEHOLDERS, {p.id} if on_list else ())))
    for placeholder, name in ((_TOKEN, "csrf"), (_NEXT, "next"), (_KEY, "key")):
        html = html.replace(placeholder, str(escape(page[name])))
    return Markup(html)


def _macro(env: jinja2.Environment):
    return env.get_template("fragments/catalog/product_card.html").module.product_card  # type: ignore[attr-defined]
