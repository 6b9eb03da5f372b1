"""What the shopper has entered so far, kept with the cart, and which step comes next."""
from __future__ import annotations

import secrets
from typing import Any, Collection

from shop import pricing
from shop.accounts.models import Address, User
from shop.cart import service as cart_service
from shop.cart.models import Cart
from shop.config import Shipping
from shop.db import now, write
from shop.orders.models import Order

STEPS = ("address", "delivery", "review")


def state(token: str | None, rules: Shipping) -> tuple[cart_service.CartView, dict]:
    view = cart_service.view(token, rules)
    return view, dict(view.cart.checkout) if view.cart else {}


def missing_step(view: cart_service.CartView, checkout: dict, rules: Shipping,
                 payment_methods: Collection[str]) -> str | None:
    """The first step still to be done ("cart" when there is nothing to buy), or None.
    `payment_methods`: those the shop offers now (a provider may have been switched off)."""
    if view.empty:
        return "cart"
    if not checkout.get("billing"):
        return "address"
    if checkout.get("delivery") not in delivery_costs(view, rules) or checkout.get("payment") not in payment_methods:
        return "delivery"
    return None


def delivery_costs(view: cart_service.CartView, rules: Shipping) -> dict[str, int]:
    """The delivery options open to this cart and its destination, with their cost."""
    return pricing.delivery_options(rules, view.country, view.totals.subtotal_cents)


def save(token: str, **changes) -> dict:
    """Merge `changes` into the checkout kept with the cart; returns the new state."""
    with write():
        return _save(token, changes)


def _save(token: str, changes: dict) -> dict:
    cart = Cart.get(Cart.token == token)
    # A new address may rule out the chosen delivery (express abroad): `missing_step`
    # then sends the shopper back to choose again.
    checkout = {**cart.checkout, **changes}
    fields: dict[Any, Any] = {Cart.checkout: checkout}
    if not cart.checkout:  # the first step of a new checkout (the dashboard's funnel counts it)
        fields[Cart.checkout_started_at] = now()
    Cart.update(fields).where(Cart.id == cart.id).execute()
    return checkout


def order_token(token: str) -> str:
    """The one-time key of the order about to be placed; the same until it is placed."""
    cart = Cart.get(Cart.token == token)
    if not cart.checkout.get("order_token"):
        save(token, order_token=secrets.token_urlsafe(24))
        cart = Cart.get(Cart.token == token)
    return cart.checkout["order_token"]


def checkout_prefill(user: User) -> dict:
    """What the checkout's address step starts with for a signed-in shopper: the
    default addresses, else those of the last order."""
    billing = Address.get_or_none((Address.user == user) & Address.default_billing)
    shipping = Address.get_or_none((Address.user == user) & Address.default_shipping)
    prefill: dict = {"email": user.email}
    if billing:
        prefill["billing"] = billing.as_dict()
        if shipping and shipping.id != billing.id:
            prefill["shipping"] = shipping.as_dict()
        return prefill
    last = Order.select().where(Order.user == user).order_by(Order.placed_at.desc()).first()
    if last:
        prefill["billing"] = last.billing_address
        if last.shipping_address:
            prefill["shipping"] = last.shipping_address
    else:
        prefill["billing"] = {"name": user.name}
    return prefill
