"""Totals, VAT and shipping (`shop.pricing`): gross cents, VAT derived per line and
rounded half up, shipping VAT split by the goods' value per rate. No database needed."""
from __future__ import annotations

import random
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest

from shop.catalog.models import Product
from shop.config import EU_COUNTRIES, Shipping
from shop.pricing import (
    Line,
    NoDelivery,
    _split,
    delivery_options,
    destination,
    round_cents,
    shipping_cost,
    totals,
    vat_in,
)

RULES = Shipping()  # 4,90 € in Germany, free from 50 €, express 9,90 € more, 12,90 € to the EU


def line(price: int, rate: int = 19, quantity: int = 1, n: int = 1) -> Line:
    return Line(product_id=n, sku=f"SKU-{n}", name=f"Produkt {n}", unit_price_cents=price,
                vat_rate=rate, quantity=quantity)


def half_up(value: Fraction) -> int:
    """The exact amount rounded to whole cents, halves up (for amounts from 0)."""
    return int(value + Fraction(1, 2))  # int() truncates, which for values >= 0 is floor


def shipping_vat(result, lines) -> dict[int, int]:
    """The VAT the shipping adds per rate: the totals' VAT less the goods' own."""
    goods: dict[int, int] = {}
    for item in lines:
        goods[item.vat_rate] = goods.get(item.vat_rate, 0) + item.vat_cents
    return {rate: cents - goods.get(rate, 0) for rate, cents in result.vat_by_rate.items()}


# -- rounding -------------------------------------------------------------------

def test_half_a_cent_is_rounded_up():
    assert round_cents(Decimal("0.5")) == 1
    assert round_cents(Decimal("2.5")) == 3       # half-even would give 2
    assert round_cents(Decimal("3.5")) == 4
    assert round_cents(Decimal("2.4999")) == 2
    assert round_cents(Decimal("2.5001")) == 3
    assert round_cents(Decimal("7")) == 7


def test_vat_contained_in_a_gross_price():
    assert vat_in(1190, 19) == 190
    assert vat_in(107, 7) == 7
    assert vat_in(1000, 19) == 160   # 159,66 ct
    assert vat_in(999, 7) == 65      # 65,35 ct
    assert vat_in(0, 19) == 0


def test_vat_is_the_exact_share_rounded_half_up_for_every_amount():
    for rate in (19, 7):
        for gross in range(0, 20_000):
            assert vat_in(gross, rate) == half_up(Fraction(gross * rate, 100 + rate)), (gross, rate)


def test_vat_is_derived_from_the_line_total_not_from_the_unit_price():
    # 10 × 0,10 €: 1,60 € VAT on the line, not 10 × 0,02 € from each rounded unit.
    assert line(10, 19, quantity=10).vat_cents == 16
    assert totals([line(10, 19, quantity=10)]).vat_cents == 16


def test_vat_per_rate_sums_the_vat_of_its_lines():
    # Two lines of 0,10 € each carry 0,02 € VAT each; the invoice shows 0,04 €.
    lines = [line(10, 19, n=1), line(10, 19, n=2)]
    assert [item.vat_cents for item in lines] == [2, 2]
    assert totals(lines).vat_by_rate == {19: 4}


# -- totals ---------------------------------------------------------------------

def test_a_mixed_cart_shows_vat_per_rate_with_shipping_split_by_value():
    lines = [line(1190, 19, quantity=2, n=1), line(1070, 7, n=2)]  # 23,80 € and 10,70 €
    result = totals(lines, shipping_cents=490)
    assert result.subtotal_cents == 3450
    assert result.shipping_cents == 490
    assert result.total_cents == 3940
    assert result.item_count == 3
    # Goods: 3,80 € at 19 %, 0,70 € at 7 %. Shipping: 23,80/34,50 of 4,90 € (3,38 €) at 19 %,
    # 10,70/34,50 (1,52 €) at 7 %: 0,54 € and 0,10 € more.
    assert result.vat_by_rate == {19: 380 + 54, 7: 70 + 10}
    assert result.vat_cents == 514
    assert result.net_cents == 3940 - 514


def test_vat_per_rate_adds_up_to_the_total_vat():
    lines = [line(499, 7, quantity=3, n=1), line(2990, 19, n=2), line(149, 7, quantity=5, n=3)]
    result = totals(lines, shipping_cents=1290)
    assert set(result.vat_by_rate) == {19, 7}
    assert sum(result.vat_by_rate.values()) == result.vat_cents
    assert result.net_cents + result.vat_cents == result.total_cents == result.subtotal_cents + 1290


def test_free_shipping_adds_no_vat_and_a_single_rate_cart_shows_only_its_rate():
    books = [line(1800, 7, n=1), line(990, 7, n=2)]
    result = totals(books, shipping_cents=0)
    assert result.vat_by_rate == {7: vat_in(1800, 7) + vat_in(990, 7)}
    assert result.total_cents == 2790


def test_shipping_for_goods_at_7_percent_only_carries_7_percent():
    result = totals([line(2000, 7)], shipping_cents=490)
    assert result.vat_by_rate == {7: vat_in(2000, 7) + vat_in(490, 7)}


def test_shipping_without_goods_carries_the_standard_rate():
    assert totals([], shipping_cents=490).vat_by_rate == {19: vat_in(490, 19)}
    assert totals([]).vat_by_rate == {}
    assert totals([]).total_cents == 0


def test_shipping_is_split_in_proportion_to_the_goods_and_the_parts_add_up():
    rng = random.Random(20240519)
    for _ in range(5_000):
        amount = rng.choice([1, 2, 3, 99, 490, 990, 1290, 1480, rng.randint(1, 100_000)])
        weights = {19: rng.randint(1, 500_000), 7: rng.randint(1, 500_000)}
        if rng.random() < 0.2:
            weights[rng.choice((19, 7))] = rng.randint(1, 3)  # one rate barely present
        parts = _split(amount, weights)
        assert set(parts) == set(weights)
        assert sum(parts.values()) == amount, (amount, weights, parts)
        total = sum(weights.values())
        for rate, part in parts.items():
            assert part >= 0
            assert abs(part - Fraction(amount * weights[rate], total)) < 1, (amount, weights, parts)


def test_shipping_vat_matches_the_shipping_share_per_rate_in_any_cart():
    rng = random.Random(7)
    for _ in range(2_000):
        lines = [line(rng.randint(1, 20_000), rng.choice((19, 7)), rng.randint(1, 5), n=n)
                 for n in range(rng.randint(1, 6))]
        shipping = rng.choice([0, 490, 990, 1290, 1480, rng.randint(1, 5_000)])
        result = totals(lines, shipping_cents=shipping)
        assert result.total_cents == result.subtotal_cents + shipping
        assert sum(result.vat_by_rate.values()) == result.vat_cents
        goods = {rate: sum(i.total_cents for i in lines if i.vat_rate == rate) for rate in (19, 7)}
        exact = sum(Fraction(shipping * value, result.subtotal_cents) * Fraction(rate, 100 + rate)
                    for rate, value in goods.items() if value)
        added = sum(shipping_vat(result, lines).values())
        # Each rate's part is within a cent of its share, and each VAT is rounded once.
        assert abs(added - exact) <= Fraction(3, 2), (lines, shipping, result.vat_by_rate)


# -- delivery -------------------------------------------------------------------

def test_germany_below_the_threshold_pays_standard_or_express():
    assert delivery_options(RULES, "DE", 4999) == {"standard": 490, "express": 490 + 990}
    assert delivery_options(RULES, "DE", 0) == {"standard": 490, "express": 1480}


def test_germany_from_the_threshold_ships_free_and_express_costs_only_its_surcharge():
    assert delivery_options(RULES, "DE", 5000) == {"standard": 0, "express": 990}
    assert delivery_options(RULES, "DE", 120_000) == {"standard": 0, "express": 990}


def test_delivery_follows_the_configured_rates():
    rules = Shipping(germany_cents=390, eu_cents=1500, free_from_cents=3000, express_cents=500)
    assert delivery_options(rules, "DE", 2999) == {"standard": 390, "express": 890}
    assert delivery_options(rules, "DE", 3000) == {"standard": 0, "express": 500}
    assert delivery_options(rules, "FR", 3000) == {"standard": 1500}


@pytest.mark.parametrize("country", EU_COUNTRIES)
def test_other_eu_countries_get_standard_shipping_only_and_never_free(country):
    assert delivery_options(RULES, country, 1000) == {"standard": 1290}
    assert delivery_options(RULES, country, 100_000) == {"standard": 1290}


@pytest.mark.parametrize("country", ["CH", "GB", "NO", "US", "", "de"])
def test_countries_outside_the_eu_get_no_delivery(country):
    assert delivery_options(RULES, country, 10_000) == {}
    with pytest.raises(NoDelivery):
        shipping_cost(RULES, country, 10_000)


def test_shipping_cost_of_an_offered_option():
    assert shipping_cost(RULES, "DE", 1000) == 490
    assert shipping_cost(RULES, "DE", 1000, "express") == 1480
    assert shipping_cost(RULES, "DE", 6000, "express") == 990
    assert shipping_cost(RULES, "AT", 1000, "standard") == 1290


@pytest.mark.parametrize("country,option", [("AT", "express"), ("IT", "express"), ("DE", "pigeon"),
                                            ("DE", ""), ("CH", "standard")])
def test_an_option_not_offered_there_is_refused(country, option):
    with pytest.raises(NoDelivery):
        shipping_cost(RULES, country, 1000, option)


def test_the_goods_go_to_the_delivery_address_else_the_billing_address_else_germany():
    assert destination({}) == "DE"
    assert destination({"billing": {"country": "AT"}}) == "AT"
    assert destination({"billing": {"country": "AT"}, "shipping": {"country": "FR"}}) == "FR"
    assert destination({"billing": {"country": "AT"}, "shipping": None}) == "AT"
    assert destination({"billing": {"country": "AT"}, "shipping": {}}) == "AT"


# -- unit prices (PAngV) --------------------------------------------------------

def product(price_cents: int, quantity: str | None, unit: str | None) -> Product:
    return Product(name="Probe", price_cents=price_cents,
                   content_quantity=Decimal(quantity) if quantity is not None else None,
                   content_unit=unit)


def test_unit_price_per_kilogram_litre_or_metre():
    assert product(899, "500", "g").unit_price == (1798, "kg")
    assert product(1999, "2.5", "kg").unit_price == (800, "kg")     # 7,996 €
    assert product(199, "750", "ml").unit_price == (265, "l")       # 2,6533 €
    assert product(299, "1.5", "l").unit_price == (199, "l")        # 1,9933 €
    assert product(1299, "50", "m").unit_price == (26, "m")         # 0,2598 €


def test_unit_price_rounds_half_up_like_the_totals():
    # 2,49 € for 400 g is 6,225 € per kg: 6,23 € (half-even would say 6,22 €).
    exact = Decimal(249) * 1000 / Decimal(400)
    assert exact == Decimal("622.5")
    assert int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)) == 622
    assert product(249, "400", "g").unit_price == (623, "kg") == (round_cents(exact), "kg")
    assert product(1, "400", "g").unit_price == (3, "kg")           # 2,5 ct per kg


def test_no_unit_price_without_a_content():
    assert product(899, None, None).unit_price is None
    assert product(899, "0", "g").unit_price is None
    assert product(899, "500", None).unit_price is None
    assert product(899, "6", "Stück").unit_price is None
