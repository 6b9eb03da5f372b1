"""Whether a product can be bought in a quantity: the one rule for the cart, the
checkout and the order (which takes the stock with the same limit in SQL)."""
from __future__ import annotations

from shop.i18n import _, ngettext

MAX_QUANTITY = 99  # of one product in one order

GONE = "gone"            # taken off sale
SOLD_OUT = "sold_out"
TOO_FEW = "too_few"      # fewer in stock than wanted
TOO_MANY = "too_many"    # more than one order may hold


def shortfall(product, quantity: int) -> str | None:
    """Why `quantity` of this product cannot be bought (GONE, SOLD_OUT, TOO_FEW,
    TOO_MANY), or None when it can."""
    if not product.active:
        return GONE
    if product.stock <= 0:
        return SOLD_OUT
    if quantity > product.stock:
        return TOO_FEW
    if quantity > MAX_QUANTITY:
        return TOO_MANY
    return None


def can_buy(product, quantity: int) -> bool:
    return shortfall(product, quantity) is None


def problem(product, quantity: int, in_cart: int = 0) -> str | None:
    """What to tell the shopper who asks for `quantity` (with `in_cart` already in the
    cart), or None when it can be bought."""
    reason = shortfall(product, quantity)
    if reason == GONE:
        return _("This product is not available.")
    if reason == SOLD_OUT:
        return _("%(name)s is sold out.", name=product.name)
    if reason == TOO_FEW:
        message = ngettext("Only %(num)d of %(name)s is in stock.", "Only %(num)d of %(name)s are in stock.",
                           product.stock, name=product.name)
        if in_cart:
            message += " " + _("You already have %(count)d in your cart.", count=in_cart)
        return message
    if reason == TOO_MANY:
        return _("At most %(max)d of one product per order.", max=MAX_QUANTITY)
    return None
