"""Mail goes through the outbox; the worker delivers it to a real SMTP server and
keeps it through an outage."""
from __future__ import annotations

import datetime as dt
import email
import socket
from dataclasses import replace
from email import policy

import pytest
from aiosmtpd.controller import Controller

from shop import cli, worker
from shop.accounts.models import User
from shop.catalog.models import Product
from shop.db import db, now
from shop.mail import outbox
from shop.mail.models import OutboxMessage
from shop.mail.outbox import deliver_due
from shop.wishlist.models import WishlistItem
from shop.orders.models import Order
from shop.orders.service import transition


class Inbox:
    """Keeps what it receives; refuses recipients at `refused.example` for good (550)."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.example"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def mail_settings(settings, smtp):
    controller, _ = smtp
    return replace(settings.mail, host="127.0.0.1", port=controller.port, starttls=False)


@pytest.fixture
def order(shopper, make_product, database):
    shopper.buy(make_product("Kerze", price_cents=1290, vat_rate=19), quantity=2)
    return Order.get()


def test_the_worker_delivers_the_order_confirmation(order, smtp, mail_settings):
    _, inbox = smtp
    assert deliver_due(mail_settings) == (1, 0)
    [message] = inbox.messages
    assert message["To"] == "anna@example.org"
    assert message["Subject"] == f"Ihre Bestellung {order.number}"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert order.number in body and "IBAN" in body and "Zahlungspflichtig" not in body
        assert "/orders/" + order.number + "?token=" in body
    assert "2 × Kerze" in text and "25,80\xa0€" in text and "30,70\xa0€" in text
    attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert set(attachments) == {"AGB.html", "Widerrufsbelehrung.html"}
    assert "Muster-Widerrufsformular" in attachments["Widerrufsbelehrung.html"]
    assert "Zahlungspflichtig bestellen" in attachments["AGB.html"]
    assert OutboxMessage.get().sent_at is not None
    assert deliver_due(mail_settings) == (0, 0)  # sent once only


def test_an_smtp_outage_delays_mail_and_loses_none(order, smtp, mail_settings):
    _, inbox = smtp
    down = replace(mail_settings, port=free_port())  # nothing listens there
    assert deliver_due(down) == (0, 1)
    queued = OutboxMessage.get()
    assert queued.sent_at is None and queued.attempts == 1 and queued.last_error
    assert dt.timedelta(seconds=25) < queued.next_attempt_at - now() <= dt.timedelta(seconds=30)
    assert deliver_due(mail_settings) == (0, 0)  # not due yet: backoff
    OutboxMessage.update(next_attempt_at=now()).execute()
    assert deliver_due(down) == (0, 1)
    assert OutboxMessage.get().attempts == 2
    assert OutboxMessage.get().next_attempt_at - now() > dt.timedelta(seconds=55)
    OutboxMessage.update(next_attempt_at=now()).execute()
    assert deliver_due(mail_settings) == (1, 0)
    assert len(inbox.messages) == 1


def test_status_changes_send_their_mails(order, smtp, mail_settings, settings):
    _, inbox = smtp
    transition(settings, order, "paid", actor="admin")
    transition(settings, order, "shipped", actor="admin", carrier="DHL", tracking_number="JJD0001")
    deliver_due(mail_settings)
    subjects = [m["Subject"] for m in inbox.messages]
    assert subjects == [f"Ihre Bestellung {order.number}", f"Zahlung für Bestellung {order.number} eingegangen",
                        f"Bestellung {order.number} ist unterwegs"]
    assert "JJD0001" in inbox.messages[-1].get_body(("plain",)).get_content()


def test_without_an_smtp_host_mail_becomes_eml_files(order, settings, tmp_path):
    local = replace(settings.mail, host="", outbox_dir=tmp_path / "outbox")
    assert deliver_due(local) == (1, 0)
    [file] = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(file.read_bytes(), policy=policy.default)
    assert order.number in message["Subject"]


def test_worker_and_order_commands(order, smtp, settings, monkeypatch, capsys):
    controller, inbox = smtp
    for name, value in {"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key,
                        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port),
                        "SMTP_STARTTLS": "0"}.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["worker", "--once"]) == 0
    assert len(inbox.messages) == 1
    assert cli.main(["order", order.number, "shipped"]) == 1  # not paid yet
    assert "Refused" in capsys.readouterr().err
    assert cli.main(["order", order.number, "paid"]) == 0
    assert cli.main(["order", order.number, "shipped", "--carrier", "DHL", "--tracking", "123"]) == 0
    assert cli.main(["order", "2000-000000", "paid"]) == 2
    assert cli.main(["worker", "--once"]) == 0
    assert len(inbox.messages) == 3


def test_a_message_that_can_never_be_sent_is_marked_failed_and_the_next_goes(order, smtp, mail_settings, settings):
    _, inbox = smtp
    with db.atomic():
        outbox.enqueue(outbox.compose(settings, "niemand@refused.example", "Test", "account_exists",
                                      {"user": User(name="Niemand"), "link": "x"}))
        outbox.enqueue(outbox.compose(settings, "lea@example.org", "Danach", "account_exists",
                                      {"user": User(name="Lea"), "link": "x"}))
    assert deliver_due(mail_settings) == (2, 1)
    refused = OutboxMessage.get(OutboxMessage.recipient == "niemand@refused.example")
    assert refused.failed_at is not None and "550" in refused.last_error
    assert sorted(m["To"] for m in inbox.messages) == ["anna@example.org", "lea@example.org"]
    assert deliver_due(mail_settings) == (0, 0)  # not tried again


def test_a_product_name_with_a_line_break_cannot_break_the_mail(customer_with_wish, smtp, mail_settings, settings):
    """An imported name with a line break once stopped every mail: the subject stays one line."""
    _, inbox = smtp
    product = customer_with_wish
    Product.update(name="Tee\r\nBcc: alle@example.org", stock=5).where(Product.id == product.id).execute()
    results = worker.run_round(replace(settings, mail=mail_settings))
    assert results["back-in-stock mail"] == 1 and results["mail"] == (1, 0)
    [message] = inbox.messages
    assert message["Subject"] == "Tee Bcc: alle@example.org ist wieder erhältlich" and message["Bcc"] is None


def test_the_worker_outlives_a_failing_job(order, smtp, mail_settings, settings, monkeypatch, caplog):
    _, inbox = smtp

    def broken(settings):
        raise RuntimeError("database away")

    monkeypatch.setattr(worker, "notify_back_in_stock", broken)
    results = worker.run_round(replace(settings, mail=mail_settings))
    assert isinstance(results["back-in-stock mail"], RuntimeError)
    assert results["mail"] == (1, 0) and len(inbox.messages) == 1  # the other jobs ran
    assert "runs again next round" in caplog.text


def test_a_mail_that_cannot_be_composed_is_recorded_as_failed(customer_with_wish, settings, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("template broken")

    monkeypatch.setattr(outbox, "compose", broken)
    Product.update(stock=5).where(Product.id == customer_with_wish.id).execute()
    assert worker.run_round(settings)["back-in-stock mail"] == 1
    failed = OutboxMessage.get()
    assert failed.failed_at is not None and "template broken" in failed.last_error


@pytest.fixture
def customer_with_wish(make_product, database):
    """A customer waiting for a sold-out product."""
    user = User.create(email="lea@example.org", name="Lea", password_hash="x")
    product = make_product("Tee", stock=0)
    WishlistItem.create(user=user, product=product, waiting_for_stock=True)
    return product
