"""Bank transfer in advance ("Vorkasse"): no page to send the shopper to and no events.
The order page and the confirmation mail give the bank details; the merchant matches the
transfers from the bank statement (shop.orders.bank_statements) or marks the order paid,
and pays back by transfer, recording its reference. Unpaid orders are reminded and, in
the end, cancelled (transfer_deadlines)."""
from __future__ import annotations

from typing import Mapping

from shop.orders.models import Order, Payment

from .models import PaymentAttempt
from .providers import BANK_TRANSFER, BadEvent, ProviderError, Started
from .transfer_deadlines import remind_and_cancel


class BankTransfer:
    name = BANK_TRANSFER
    page_origin = ""

    def start(self, order: Order, attempt: PaymentAttempt) -> Started:
        raise ProviderError("A bank transfer has no payment page.")

    def abandon(self, attempt: PaymentAttempt) -> None:
        pass

    def verify(self, body: bytes, headers: Mapping[str, str]) -> dict:
        raise BadEvent("A bank transfer sends no events.")

    def handle(self, settings, event: dict) -> bool:
        return False

    def refund(self, payment: Payment, amount_cents: int, key: str) -> str:
        raise ProviderError("The merchant pays a transfer back by transfer, with its reference.")

    def reconcile(self, settings) -> dict[str, int]:
        """Remind the unpaid and cancel the overdue."""
        return remind_and_cancel(settings)
