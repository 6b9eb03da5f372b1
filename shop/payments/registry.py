"""Which providers this shop offers: those whose keys are set, bank transfer always."""
from __future__ import annotations

import functools

from shop.config import Payments

from .bank_transfer import BankTransfer
from .paypal import PayPal
from .providers import BANK_TRANSFER, PAYPAL, STRIPE, Provider
from .stripe_checkout import StripeCheckout


@functools.cache
def available(payments: Payments) -> dict[str, Provider]:
    """The configured providers by name (Order.payment_method), bank transfer first."""
    found: dict[str, Provider] = {BANK_TRANSFER: BankTransfer()}
    if payments.stripe:
        found[STRIPE] = StripeCheckout(payments)
    if payments.paypal:
        found[PAYPAL] = PayPal(payments)
    return found


def hosted_origins(payments: Payments) -> tuple[str, ...]:
    """Where the checkout's order button may lead: the providers' payment pages."""
    return tuple(origin for provider in available(payments).values() if (origin := provider.page_origin))


def reconcile(settings) -> dict[str, object]:
    """Each provider's reconciliation (the worker runs it every round)."""
    return {name: provider.reconcile(settings) for name, provider in available(settings.payments).items()}
