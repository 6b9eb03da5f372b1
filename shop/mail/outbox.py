"""Mail that is never lost: composed into the outbox inside the transaction that
causes it, delivered by `shop worker` over SMTP with retries and backoff.

Without an SMTP host, mail is written as .eml files under `data/outbox/`.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
import unicodedata
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from shop.config import Mail
from shop.db import now, write

from .models import OutboxMessage

if TYPE_CHECKING:
    from collections.abc import Sequence

    import jinja2

log = logging.getLogger("shop.mail")

MAX_BACKOFF = dt.timedelta(hours=1)
MAX_ATTEMPTS = 30  # about a day of retries, most of them an hour apart
CLAIM_FOR = dt.timedelta(minutes=2)
_templates: jinja2.Environment | None = None
# How a mail queued to be written later (`enqueue_later`) is written: its kind and order
# id to the message, handed in by `create_app`.
_composer: Callable[[str, int], EmailMessage] | None = None


def use_templates(templates: jinja2.Environment) -> None:
    """Mail is rendered with the app's template environment, handed in by `create_app`."""
    global _templates
    _templates = templates


def use_composer(composer: Callable[[str, int], EmailMessage]) -> None:
    global _composer
    _composer = composer


def _env() -> jinja2.Environment:
    if _templates is None:
        raise RuntimeError("mail templates are not set up: create the app first (shop.app.create_app)")
    return _templates


def render(template: str, context: dict) -> str:
    return _env().get_template(template).render(context)


def link(settings, name: str, query: dict | None = None, **path_params) -> str:
    """The absolute address of a named route, for a link in a mail (built from BASE_URL)."""
    return settings.base_url + _env().globals["url"](name, query=query, **path_params)


def compose(
    settings, to: str, subject: str, template: str, context: dict,
    attachments: Sequence[tuple[str, str]] = (),
) -> EmailMessage:
    """A message with a plain-text and an HTML body from `mail/<template>.txt|.html`."""
    context = {"settings": settings, **context}
    message = EmailMessage()
    message["From"] = header_value(settings.mail.sender)
    message["To"] = header_value(to)
    message["Subject"] = header_value(subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.base_url.split("//")[-1].split(":")[0].split("/")[0])
    # Quoted-printable keeps every line short, as SMTP requires, whatever the text.
    message.set_content(render(f"mail/{template}.txt", context), cte="quoted-printable")
    message.add_alternative(render(f"mail/{template}.html", context), subtype="html",
                            cte="quoted-printable")
    for filename, html in attachments:
        message.add_attachment(html, subtype="html", filename=filename, cte="quoted-printable")
    return message


def header_value(text: str) -> str:
    """One line for a mail header: line breaks and other control characters (from a
    product name, say) become spaces, so no one can add a header of their own."""
    return " ".join("".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
                            for c in str(text)).split())


@dataclass(frozen=True)
class Letter:
    """A composed message, flattened as it will be sent: made before a transaction, so that
    the transaction only stores it."""

    recipient: str
    subject: str
    text: str


def flatten(message: EmailMessage) -> Letter:
    return Letter(message["To"], message["Subject"], message.as_string(policy=policy.SMTP))  # CRLF, as sent


def enqueue(message: EmailMessage | Letter, order_id: int | None = None, kind: str = "") -> OutboxMessage:
    """Store the message for delivery; call inside the transaction that caused it.
    `order_id` and `kind` say which order's mail it is, and which of them."""
    letter = message if isinstance(message, Letter) else flatten(message)
    return OutboxMessage.create(recipient=letter.recipient, subject=letter.subject, message=letter.text,
                                order_id=order_id, kind=kind)


def enqueue_later(recipient: str, subject: str, order_id: int, kind: str) -> OutboxMessage:
    """Queue an order's mail to be written when it is sent: the transaction that causes it
    only stores a row (a provider's event is answered sooner); the worker writes it from
    the order as it then is."""
    return OutboxMessage.create(recipient=header_value(recipient), subject=header_value(subject), message="",
                                order_id=order_id, kind=kind)


def _write_now(message: OutboxMessage) -> OutboxMessage:
    """The message of a mail queued with `enqueue_later`, written and kept."""
    if _composer is None or message.order_id is None:
        raise RuntimeError("mail to be written later, but nothing set up to write it")
    letter = flatten(_composer(message.kind, message.order_id))
    with write():
        OutboxMessage.update(message=letter.text, subject=letter.subject).where(
            OutboxMessage.id == message.id).execute()
    message.message, message.subject = letter.text, letter.subject
    return message


def enqueue_failed(to: str, subject: str, error: Exception) -> OutboxMessage:
    """Record a mail that could not even be written, with why, where its sent siblings are."""
    log.error("Mail to %s could not be composed: %r", header_value(to), error)
    return OutboxMessage.create(recipient=header_value(to)[:254], subject=header_value(subject)[:254],
                                message="", failed_at=now(), last_error=repr(error)[:500])


def deliver_due(config: Mail, limit: int = 100) -> tuple[int, int]:
    """Send what is due; returns (sent, not sent). A message that fails for a passing
    reason (server away, 4xx) is retried with backoff; one that can never go (refused
    recipient, 5xx, broken message) or fails MAX_ATTEMPTS times is marked failed with its
    error. Either way the next message goes on."""
    sent = failed = 0
    due = (
        OutboxMessage.select(OutboxMessage.id)
        .where(OutboxMessage.sent_at.is_null() & OutboxMessage.failed_at.is_null()
               & (OutboxMessage.next_attempt_at <= now()))
        .order_by(OutboxMessage.next_attempt_at)
        .limit(limit)
    )
    for (message_id,) in due.tuples():
        message = _claim(message_id)
        if message is None:
            continue  # another worker has it
        try:
            if not message.message:
                message = _write_now(message)
            _send(config, message)
        except Exception as error:  # noqa: BLE001 - one message never stops the others
            failed += 1
            if _passing(error):
                _retry_later(message, error)
            else:
                _give_up(message, error)
        else:
            sent += 1
            with write():
                OutboxMessage.update(sent_at=now(), claimed_until=None, last_error="").where(
                    OutboxMessage.id == message.id
                ).execute()
    return sent, failed


def _passing(error: Exception) -> bool:
    """Worth another try later: the server is away or says "not now" (4xx)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    return isinstance(error, (OSError, smtplib.SMTPServerDisconnected))


def _claim(message_id: int) -> OutboxMessage | None:
    """Take a message for the next few minutes, so two workers never send it twice."""
    moment = now()
    with write():
        taken = (
            OutboxMessage.update(claimed_until=moment + CLAIM_FOR)
            .where(
                (OutboxMessage.id == message_id)
                & OutboxMessage.sent_at.is_null()
                & (OutboxMessage.claimed_until.is_null() | (OutboxMessage.claimed_until < moment))
            )
            .execute()
        )
    return OutboxMessage.get_by_id(message_id) if taken else None


def _retry_later(message: OutboxMessage, error: Exception) -> None:
    attempts = message.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        _give_up(message, error)
        return
    delay = min(dt.timedelta(seconds=30 * 2 ** (attempts - 1)), MAX_BACKOFF)
    log.warning("Mail %s to %s failed (attempt %d): %s", message.id, message.recipient, attempts, error)
    with write():
        OutboxMessage.update(
            attempts=attempts, next_attempt_at=now() + delay, claimed_until=None,
            last_error=str(error)[:500],
        ).where(OutboxMessage.id == message.id).execute()


def _give_up(message: OutboxMessage, error: Exception) -> None:
    log.error("Mail %s to %s failed for good: %r", message.id, message.recipient, error)
    with write():
        OutboxMessage.update(
            attempts=message.attempts + 1, failed_at=now(), claimed_until=None, last_error=repr(error)[:500],
        ).where(OutboxMessage.id == message.id).execute()


def _send(config: Mail, message: OutboxMessage) -> None:
    raw = message.message.encode()
    if not config.host:
        config.outbox_dir.mkdir(parents=True, exist_ok=True)
        path = Path(config.outbox_dir) / f"{message.created_at:%Y%m%d-%H%M%S}-{message.id}.eml"
        path.write_bytes(raw)
        return
    helo = _address(config.sender).split("@")[-1]  # not getfqdn(): no DNS lookup
    with smtplib.SMTP(config.host, config.port, timeout=20, local_hostname=helo) as smtp:
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())  # verifies the certificate
        if config.user:
            smtp.login(config.user, config.password)
        smtp.sendmail(_address(config.sender), [message.recipient], raw)


def _address(sender: str) -> str:
    return sender.rsplit("<", 1)[-1].rstrip(">").strip()
