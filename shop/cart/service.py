"""Filling and reading carts. Prices and stock always come from the database."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from peewee import IntegrityError

from shop import pricing
from shop.catalog import availability
from shop.catalog.availability import MAX_QUANTITY
from shop.catalog.models import Product
from shop.config import Shipping
from shop.db import now, write
from shop.i18n import _

from .models import Cart, CartAdd, CartLine


class CartError(ValueError):
    """Something the shopper asked of the cart that cannot be done; the message says why."""


@dataclass
class CartItem:
    """A line of the cart with its product, its price (None once the product is off
    sale) and why it cannot be ordered as it stands, if it cannot."""

    line: CartLine
    product: Product
    priced: pricing.Line | None
    shortfall: str | None

    @property
    def quantity(self) -> int:
        return self.line.quantity


@dataclass
class CartView:
    """A cart as the shopper sees it: every line, and totals of what can be bought."""

    cart: Cart | None
    items: list[CartItem]
    totals: pricing.Totals
    country: str
    checkout: dict = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.items

    @property
    def unavailable(self) -> list[CartItem]:
        """Lines that cannot be ordered as they stand: gone, sold out, or too many."""
        return [item for item in self.items if item.shortfall]

    @property
    def fingerprint(self) -> str:
        """Changes when anything the review page shows changes (lines, prices, addresses,
        delivery, totals): detects a cart or checkout edited in another tab."""
        shown = {
            "lines": [(i.product.id, i.quantity, i.product.price_cents, i.product.vat_rate) for i in self.items],
            "checkout": {key: self.checkout.get(key) for key in CHECKOUT_KEYS},
            "totals": (self.totals.shipping_cents, self.totals.total_cents),
        }
        return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:32]


CHECKOUT_KEYS = ("email", "billing", "shipping", "delivery", "payment")


def owner_of(token: str) -> int | None:
    """The id of the account a cart belongs to; None for a guest cart."""
    return Cart.select(Cart.user).where(Cart.token == token).scalar()


def find_cart(token: str | None) -> Cart | None:
    return Cart.get_or_none(Cart.token == token) if token else None


def view(token: str | None, rules: Shipping) -> CartView:
    return view_of(find_cart(token), rules)


def view_of(cart: Cart | None, rules: Shipping) -> CartView:
    items = []
    if cart:
        query = CartLine.select(CartLine, Product).join(Product).where(CartLine.cart == cart)
        for line in query.order_by(CartLine.id):
            product = line.product
            priced = line_of(product, line.quantity) if product.active else None
            items.append(CartItem(line, product, priced, availability.shortfall(product, line.quantity)))
    checkout = dict(cart.checkout) if cart else {}
    country = pricing.destination(checkout)
    lines = [item.priced for item in items if item.priced]
    subtotal = sum(line.total_cents for line in lines)
    options = pricing.delivery_options(rules, country, subtotal) or pricing.delivery_options(rules, "DE", subtotal)
    shipping = options.get(checkout.get("delivery", "standard"), options["standard"])
    return CartView(cart, items, pricing.totals(lines, shipping if lines else 0), country, checkout)


def line_of(product: Product, quantity: int) -> pricing.Line:
    return pricing.Line(product.id, product.sku, product.name, product.price_cents,
                        product.vat_rate, quantity)


def add(token: str | None, product_id: int, quantity: int, user_id: int | None = None,
        form_key: str | None = None) -> Cart:
    """Put `quantity` more of a product into the cart (made if needed); returns the cart.
    A form sent again with the same `form_key` (a double click, a resent form, requests
    racing on a slow network) adds nothing more."""
    key = f"{form_key}:{product_id}" if form_key else None
    try:
        with write():
            if key and (done := CartAdd.get_or_none(CartAdd.key == key)):
                return done.cart
            product = _product(product_id)
            cart = find_cart(token) or Cart.create(user=user_id)
            line = CartLine.get_or_none((CartLine.cart == cart) & (CartLine.product == product))
            in_cart = line.quantity if line else 0
            wanted = quantity + in_cart
            if problem := availability.problem(product, wanted, in_cart):
                raise CartError(problem)
            if line:
                line.quantity = wanted
                line.save()
            else:
                CartLine.create(cart=cart, product=product, quantity=wanted)
            if key:
                CartAdd.create(key=key, cart=cart)
            _touch(cart)
        return cart
    except IntegrityError:
        # The same form, sent twice at once: the other request has added it.
        done = CartAdd.get_or_none(CartAdd.key == key) if key else None
        if done is None:
            raise
        return done.cart


def set_quantity(token: str | None, product_id: int, quantity: int) -> None:
    """Change a line's quantity; 0 removes it."""
    cart = find_cart(token)
    if cart is None:
        raise CartError(_("Your cart is empty."))
    with write():
        line = CartLine.get_or_none((CartLine.cart == cart) & (CartLine.product == product_id))
        if line is None:
            raise CartError(_("This product is not in your cart."))
        if quantity == 0:
            line.delete_instance()
        else:
            if problem := availability.problem(_product(product_id), quantity):
                raise CartError(problem)
            line.quantity = quantity
            line.save()
        _touch(cart)


def item_count(token: str | None) -> int:
    cart = find_cart(token)
    if cart is None:
        return 0
    lines = (CartLine.select(CartLine.quantity).join(Product)
             .where((CartLine.cart == cart) & (Product.active == True)))  # noqa: E712
    return sum(line.quantity for line in lines)


def _product(product_id: int) -> Product:
    product = Product.get_or_none(Product.id == product_id)
    if product is None:
        raise CartError(_("This product is not available."))
    return product


def forget_old_form_keys(older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Run by the worker: form keys only need to outlive a page's visit."""
    with write():
        return CartAdd.delete().where(CartAdd.created_at < now() - older_than).execute()


def _touch(cart: Cart) -> None:
    Cart.update(updated_at=now()).where(Cart.id == cart.id).execute()


def merge_into_account(guest_token: str | None, user) -> tuple[str | None, list[str]]:
    """At sign-in: the guest cart joins the account's cart, within stock. Returns the
    cart token to keep and what changed, for the shopper to read."""
    notes: list[str] = []
    with write():
        guest = find_cart(guest_token)
        own = Cart.select().where(Cart.user == user).order_by(Cart.updated_at.desc()).first()
        if guest is None or (own and guest.id == own.id):
            return (own.token if own else None), notes
        if own is None:
            Cart.update(user=user).where(Cart.id == guest.id).execute()
            return guest.token, notes
        for line in CartLine.select(CartLine, Product).join(Product).where(CartLine.cart == guest):
            product = line.product
            existing = CartLine.get_or_none((CartLine.cart == own) & (CartLine.product == product))
            wanted = line.quantity + (existing.quantity if existing else 0)
            allowed = min(wanted, product.stock if product.active else 0, MAX_QUANTITY)
            if allowed < wanted:
                notes.append(_("%(name)s: %(count)d in your cart now, as many as we have.",
                               name=product.name, count=allowed))
            if allowed <= 0:
                continue
            if existing:
                CartLine.update(quantity=allowed).where(CartLine.id == existing.id).execute()
            else:
                CartLine.create(cart=own, product=product, quantity=allowed)
        guest.delete_instance(recursive=True)
        _touch(own)
        if not notes:
            notes.append(_("We have added the products from before to the cart of your account."))
        return own.token, notes


def add_lines(token: str | None, user_id: int | None, lines: list[tuple[int, int]]) -> tuple[Cart, list[str]]:
    """Add several products at once (order again), as many as are in stock."""
    notes = []
    cart = None
    for product_id, quantity in lines:
        try:
            cart = add(cart.token if cart else token, product_id, quantity, user_id)
        except CartError as problem:
            notes.append(str(problem))
    return cart or find_cart(token), notes
