"""Paying on the provider's page: by card through the demo's Stripe stand-in, back to a
paid order; and the way back from a cancelled payment. With and without JavaScript."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from e2e.conftest import fill_address, run_worker
from e2e.test_checkout_journeys import add_to_cart
from shop.payments import demo_providers

CARD = "Karte, Apple Pay, Google Pay, Klarna oder Lastschrift"


def order_paying_online(page, javascript: bool, email: str, method: str = CARD) -> str:
    """Through the checkout to the provider's page; returns the order number."""
    add_to_cart(page, javascript, "bio-muesli-beere", "Bio-Müsli Beere", 1)
    page.goto("/checkout/address")
    fill_address(page, email, "Karla Karte", "Kastanienallee 3", "10435", "Berlin")
    page.get_by_label(method).check()
    page.get_by_role("button", name="Weiter zur Übersicht").click()
    expect(page.get_by_text("Nach der Bestellung bezahlen Sie auf der Seite unseres Zahlungsanbieters")).to_be_visible()
    page.get_by_label(re.compile("Ich habe die Allgemeinen Geschäftsbedingungen")).check()
    page.get_by_role("button", name="Zahlungspflichtig bestellen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Bestellung \d{4}-\d{6}: 9,89 €"))
    return page.get_by_role("heading", level=1).inner_text().split()[1].rstrip(":")


def until_paid(page, javascript: bool) -> None:
    """The order page confirms the payment: by itself with JavaScript, by its link without."""
    if not javascript:
        for _ in range(20):
            if page.get_by_text("Status: Bezahlt").count():
                break
            page.wait_for_timeout(250)
            page.get_by_role("link", name="Seite aktualisieren").click()
    expect(page.get_by_text("Status: Bezahlt")).to_be_visible()


def test_a_card_purchase_ends_with_the_order_paid_and_mailed(page, javascript, shop_env, base_url, inbox):
    number = order_paying_online(page, javascript, "karla@example.org")
    page.get_by_role("button", name="9,89 € bezahlen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Bestellung {number}")
    until_paid(page, javascript)
    expect(page.get_by_text("9,89 € bezahlt mit Stripe")).to_be_visible()
    expect(page.get_by_role("heading", name="Zahlung wird bestätigt")).to_have_count(0)

    # The worker sends the mail and asks Stripe (the demo's stand-in) how it was paid.
    run_worker({**shop_env, **demo_providers.environment(base_url)}, inbox)
    page.reload()
    expect(page.get_by_text("9,89 € bezahlt mit Visa •••• 4242")).to_be_visible()
    subjects = [m["Subject"] for m in inbox.messages if number in m["Subject"]]
    assert len(subjects) == 2 and any("Zahlung" in subject for subject in subjects), subjects


def test_a_cancelled_payment_returns_to_a_payable_order(page, javascript):
    number = order_paying_online(page, javascript, "kurt@example.org")
    page.get_by_role("button", name="Abbrechen und zurück zum Shop").click()
    expect(page.get_by_role("heading", name="Die Zahlung wurde abgebrochen")).to_be_visible()
    expect(page.get_by_text("Status: Wartet auf Zahlung")).to_be_visible()

    page.get_by_role("button", name="Jetzt bezahlen: 9,89 €").click()
    page.get_by_label("Karte (Mastercard, Testkarte …4444)").check()
    page.get_by_role("button", name="9,89 € bezahlen").click()
    until_paid(page, javascript)
    expect(page.get_by_text("Status: Bezahlt")).to_be_visible()


def test_a_cancelled_payment_can_become_a_bank_transfer(page, javascript):
    order_paying_online(page, javascript, "uwe@example.org")
    page.get_by_role("button", name="Abbrechen und zurück zum Shop").click()
    page.get_by_role("button", name="Stattdessen per Überweisung bezahlen").click()
    expect(page.get_by_text("Bitte bezahlen Sie per Überweisung")).to_be_visible()
    expect(page.get_by_text("IBAN")).to_be_visible()
    expect(page.get_by_text("Vorkasse per Überweisung")).to_be_visible()


def test_a_paypal_purchase_ends_with_the_order_paid_and_mailed(page, javascript, shop_env, inbox):
    number = order_paying_online(page, javascript, "paula@example.org", method="PayPal")
    page.get_by_role("button", name="Jetzt zahlen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Bestellung {number}")
    until_paid(page, javascript)
    expect(page.get_by_text("9,89 € bezahlt mit PayPal")).to_be_visible()

    run_worker(shop_env, inbox)
    subjects = [m["Subject"] for m in inbox.messages if number in m["Subject"]]
    assert len(subjects) == 2 and any("Zahlung" in subject for subject in subjects), subjects
