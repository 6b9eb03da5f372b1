"""The seam every way of paying plugs into.

A provider opens a payment for an order (for Stripe and PayPal: a page of theirs the
shopper is sent to), turns the provider's webhook requests into verified events and
applies them, pays money back, and compares its records with the shop's. Bank transfer
is a provider without a page: the shopper transfers, the merchant matches the statement.

`registry.available()` holds the configured providers only: one without keys is absent
from the checkout, its webhook answers 404.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Protocol
from urllib.parse import urlsplit


if TYPE_CHECKING:
    from shop.orders.models import Order, Payment

    from .models import PaymentAttempt

BANK_TRANSFER = "prepayment"  # Order.payment_method of a bank transfer in advance
STRIPE = "stripe"
PAYPAL = "paypal"


class ProviderError(Exception):
    """The provider could not be reached or refused; the message says so in the shop's words."""


class BadEvent(Exception):
    """A webhook request that is not a genuine event of the provider."""


@dataclass(frozen=True)
class Started:
    """An opened payment: the provider's id for it and the page to send the shopper to."""

    provider_id: str
    url: str


@dataclass(frozen=True)
class Received:
    """Money the provider confirms for an order."""

    provider_id: str  # Stripe's PaymentIntent, PayPal's capture
    amount_cents: int
    currency: str  # upper case, "EUR"
    method: str = ""
    card_brand: str = ""
    card_last4: str = ""


class Provider(Protocol):
    name: str
    page_origin: str  # where its payment page is ("" for none): the checkout's form-action allows it

    def start(self, order: Order, attempt: PaymentAttempt) -> Started:
        """Open the payment at the provider (idempotent by `attempt.key`); raises ProviderError."""

    def abandon(self, attempt: PaymentAttempt) -> None:
        """Close an attempt's page at the provider, as far as it can be."""

    def verify(self, body: bytes, headers: Mapping[str, str]) -> dict:
        """The event a webhook request carries, if the provider sent it; else BadEvent."""

    def handle(self, settings, event: dict) -> bool:
        """Apply a verified event once (False: applied before); raises to be sent again."""

    def refund(self, payment: Payment, amount_cents: int, key: str) -> str:
        """Pay back (idempotent by `key`); the provider's refund id, or ProviderError."""

    def reconcile(self, settings) -> dict[str, int]:
        """Settle what no event settled; report differences as PaymentIssues."""


def origin(url: str) -> str:
    """`https://host:port` of an address: where a provider's payment page is."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
