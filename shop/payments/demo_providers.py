"""The demo's payment providers: the stand-ins of Stripe's and PayPal's APIs, served by
the demo shop itself under /demo-providers/, so that a visitor can pay by card, direct
debit or PayPal on a test page (no money moves) and see the whole flow: the provider's
page, its signed event, the paid order, a refund from the back office."""
from __future__ import annotations

from urllib.parse import urlsplit

from starlette.routing import Mount

from shop.config import Settings

from .standin_paypal import PayPalStandIn
from .standin_stripe import StripeStandIn

PREFIX = "/demo-providers"
KEYS = {"STRIPE_SECRET_KEY": "sk_test_demo", "STRIPE_WEBHOOK_SECRET": "whsec_demo",
        "PAYPAL_CLIENT_ID": "demo-client", "PAYPAL_SECRET": "demo-secret", "PAYPAL_WEBHOOK_ID": "DEMO-WEBHOOK"}


def environment(base_url: str) -> dict[str, str]:
    """The settings that point the demo's providers at its own stand-ins."""
    return {"DEMO_PROVIDERS": "1", **KEYS, "STRIPE_API_BASE": f"{base_url}{PREFIX}/stripe",
            "PAYPAL_API_BASE": f"{base_url}{PREFIX}/paypal"}


def mounts(settings: Settings) -> list[Mount]:
    payments = settings.payments
    routes = []
    if payments.stripe and payments.stripe_api_base.startswith(settings.base_url + PREFIX):
        stripe = StripeStandIn(payments.stripe_secret_key, payments.stripe_webhook_secret,
                               webhook_url=f"{settings.base_url}/payments/stripe/webhook")
        stripe.base_url = payments.stripe_api_base
        routes.append(Mount(urlsplit(payments.stripe_api_base).path, app=stripe.app))
    if payments.paypal and payments.paypal_api_base.startswith(settings.base_url + PREFIX):
        paypal = PayPalStandIn(payments.paypal_client_id, payments.paypal_secret, payments.paypal_webhook_id,
                               webhook_url=f"{settings.base_url}/payments/paypal/webhook")
        paypal.base_url = payments.paypal_api_base
        routes.append(Mount(urlsplit(payments.paypal_api_base).path, app=paypal.app))
    return routes
