"""Totals, VAT and shipping: the one calculator for cart, checkout, order and invoice.

Prices are gross integer cents. The VAT in a gross amount is derived per line
and rounded half up; shipping, an ancillary service, carries the VAT of the goods
it ships, split by their value per rate.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from shop.config import EU_COUNTRIES, Shipping
from shop.i18n import lazy_gettext as _l

DELIVERY_NAMES = {"standard": _l("Standard shipping"), "express": _l("Express shipping")}
PAYMENT_NAMES = {
    "prepayment": _l("Prepayment by bank transfer"),
    "stripe": _l("Card, Apple Pay, Google Pay, Klarna or direct debit"),
    "paypal": _l("PayPal"),
}


def delivery_name(option: str) -> str:
    return str(DELIVERY_NAMES.get(option, option))


def payment_name(method: str) -> str:
    return str(PAYMENT_NAMES.get(method, method))


def round_cents(value: Decimal) -> int:
    """Whole cents, half up (2.5 ct -> 3 ct): the one rounding of every amount."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def vat_in(gross_cents: int, rate: int) -> int:
    """The VAT contained in a gross amount: 1190 at 19 % -> 190."""
    return round_cents(Decimal(gross_cents) * rate / (100 + rate))


@dataclass(frozen=True)
class Line:
    product_id: int
    sku: str
    name: str
    unit_price_cents: int
    vat_rate: int
    quantity: int

    @property
    def total_cents(self) -> int:
        return self.unit_price_cents * self.quantity

    @property
    def vat_cents(self) -> int:
        return vat_in(self.total_cents, self.vat_rate)


@dataclass(frozen=True)
class Totals:
    lines: tuple[Line, ...]
    subtotal_cents: int
    shipping_cents: int
    total_cents: int
    vat_by_rate: dict[int, int] = field(default_factory=dict)

    @property
    def vat_cents(self) -> int:
        return sum(self.vat_by_rate.values())

    @property
    def net_cents(self) -> int:
        return self.total_cents - self.vat_cents

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


class NoDelivery(ValueError):
    """The shop does not deliver to that country."""


def destination(checkout: dict) -> str:
    """Where the goods go: the delivery address's country, else the billing address's;
    Germany until an address is given."""
    address = checkout.get("shipping") or checkout.get("billing") or {}
    return address.get("country") or "DE"


def delivery_options(rules: Shipping, country: str, subtotal_cents: int) -> dict[str, int]:
    """The delivery options for this destination, each with its cost for this cart.
    An option that does not apply (express abroad) is not offered; a country the shop
    does not deliver to has none."""
    if country == "DE":
        standard = 0 if subtotal_cents >= rules.free_from_cents else rules.germany_cents
        return {"standard": standard, "express": standard + rules.express_cents}
    if country in EU_COUNTRIES:
        return {"standard": rules.eu_cents}
    return {}


def shipping_cost(rules: Shipping, country: str, subtotal_cents: int, option: str = "standard") -> int:
    """What `option` costs for this cart and country; NoDelivery if it is not offered there."""
    options = delivery_options(rules, country, subtotal_cents)
    if option not in options:
        raise NoDelivery(country)
    return options[option]


def totals(lines: list[Line], shipping_cents: int = 0) -> Totals:
    subtotal = sum(line.total_cents for line in lines)
    goods_by_rate: dict[int, int] = {}
    vat_by_rate: dict[int, int] = {}
    for line in lines:
        goods_by_rate[line.vat_rate] = goods_by_rate.get(line.vat_rate, 0) + line.total_cents
        vat_by_rate[line.vat_rate] = vat_by_rate.get(line.vat_rate, 0) + line.vat_cents
    for rate, shipping_part in _split(shipping_cents, goods_by_rate).items():
        vat_by_rate[rate] = vat_by_rate.get(rate, 0) + vat_in(shipping_part, rate)
    return Totals(
        lines=tuple(lines),
        subtotal_cents=subtotal,
        shipping_cents=shipping_cents,
        total_cents=subtotal + shipping_cents,
        vat_by_rate=dict(sorted(vat_by_rate.items(), reverse=True)),
    )


def _split(amount: int, weights: dict[int, int]) -> dict[int, int]:
    """Split `amount` in proportion to `weights`; the parts add up to it exactly."""
    if not amount or not weights:
        return {19: amount} if amount else {}
    total = sum(weights.values())
    rates = sorted(weights, reverse=True)
    parts = {rate: amount * weights[rate] // total for rate in rates[1:]}
    parts[rates[0]] = amount - sum(parts.values())
    return parts
