"""Whether a product can be bought in a quantity, and what the shopper is told
(`shop.catalog.availability`). Products are built in memory; no database needed."""
from __future__ import annotations

import pytest

from shop.catalog.availability import (
    GONE,
    MAX_QUANTITY,
    SOLD_OUT,
    TOO_FEW,
    TOO_MANY,
    can_buy,
    problem,
    shortfall,
)
from shop.catalog.models import Product
from shop.i18n import in_language


def product(stock: int = 10, active: bool = True, name: str = "Teekanne") -> Product:
    return Product(name=name, price_cents=1990, stock=stock, active=active)


def test_a_product_in_stock_can_be_bought_up_to_its_stock():
    teapot = product(stock=10)
    for quantity in (1, 9, 10):
        assert shortfall(teapot, quantity) is None
        assert can_buy(teapot, quantity)
        assert problem(teapot, quantity) is None


def test_up_to_the_order_limit_can_be_bought_from_a_large_stock():
    assert MAX_QUANTITY == 99
    assert shortfall(product(stock=500), 99) is None
    assert problem(product(stock=500), 99, in_cart=40) is None


def test_a_product_taken_off_sale_cannot_be_bought_even_with_stock():
    assert shortfall(product(stock=10, active=False), 1) == GONE
    assert shortfall(product(stock=0, active=False), 1) == GONE
    assert not can_buy(product(active=False), 1)


def test_a_sold_out_product_cannot_be_bought():
    assert shortfall(product(stock=0), 1) == SOLD_OUT
    assert not can_buy(product(stock=0), 1)


def test_more_than_in_stock_cannot_be_bought():
    assert shortfall(product(stock=3), 4) == TOO_FEW
    assert shortfall(product(stock=3), 200) == TOO_FEW  # the stock is what the shopper can change
    assert not can_buy(product(stock=3), 4)


def test_more_than_the_order_limit_cannot_be_bought():
    assert shortfall(product(stock=500), 100) == TOO_MANY
    assert not can_buy(product(stock=500), 100)


# -- what the shopper reads (German, the shop's default language) -----------------

def test_a_product_taken_off_sale_is_called_not_available():
    assert problem(product(active=False), 1) == "Dieses Produkt ist nicht erhältlich."


def test_a_sold_out_product_is_named_as_sold_out():
    assert problem(product(stock=0, name="Teekanne Glas"), 1) == "Teekanne Glas ist ausverkauft."


def test_too_few_in_stock_says_how_many_are_left():
    assert problem(product(stock=1), 2) == "Von Teekanne ist nur noch 1 Stück auf Lager."
    assert problem(product(stock=3), 5) == "Von Teekanne sind nur noch 3 Stück auf Lager."


def test_too_few_in_stock_also_says_how_many_are_already_in_the_cart():
    assert problem(product(stock=3), 5, in_cart=2) == (
        "Von Teekanne sind nur noch 3 Stück auf Lager. Sie haben bereits 2 im Warenkorb.")
    assert problem(product(stock=3), 5, in_cart=0) == "Von Teekanne sind nur noch 3 Stück auf Lager."


def test_more_than_the_order_limit_names_the_limit():
    assert problem(product(stock=500), 100) == "Höchstens 99 Stück eines Produkts je Bestellung."


@pytest.mark.parametrize("stock,quantity,message", [
    (10, 1, None),
    (0, 1, "Stump is sold out."),
    (1, 2, "Only 1 of Stump is in stock. You already have 1 in your cart."),
    (4, 5, "Only 4 of Stump are in stock. You already have 1 in your cart."),
    (500, 100, "At most 99 of one product per order."),
])
def test_the_messages_in_english(stock, quantity, message):
    with in_language("en"):
        assert problem(product(stock=stock, name="Stump"), quantity, in_cart=1) == message
