"""Mail that is never lost: composed into the outbox inside the transaction that
causes it, delivered by `shop worker` over SMTP with retries and backoff.

Without an SMTP host, mail is written as .eml files under `data/outbox/`.
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING

from shop.config import Mail
from shop.db import now, write

from .models import OutboxMessage

if TYPE_CHECKING:
    import jinja2

log = logging.getLogger("shop.mail")

MAX_BACKOFF = dt.timedelta(hours=1)
CLAIM_FOR = dt.timedelta(minutes=2)
_templates: jinja2.Environment | None = None


def use_templates(templates: jinja2.Environment) -> None:
    """Mail is rendered with the app's template environment, handed in by `create_app`."""
    global _templates
    _templates = templates


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
    attachments: list[tuple[str, str]] = (),
) -> EmailMessage:
    """A message with a plain-text and an HTML body from `mail/<template>.txt|.html`."""
    context = {"settings": settings, **context}
    message = EmailMessage()
    message["From"] = settings.mail.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.base_url.split("//")[-1].split(":")[0].split("/")[0])
    # Quoted-printable keeps every line short, as SMTP requires, whatever the text.
    message.set_content(render(f"mail/{template}.txt", context), cte="quoted-printable")
    message.add_alternative(render(f"mail/{template}.html", context), subtype="html",
                            cte="quoted-printable")
    for filename, html in attachments:
        message.add_attachment(html, subtype="html", filename=filename, cte="quoted-printable")
    return message


def enqueue(message: EmailMessage) -> OutboxMessage:
    """Store the message for delivery; call inside the transaction that caused it."""
    return OutboxMessage.create(
        recipient=message["To"], subject=message["Subject"],
        message=message.as_string(policy=policy.SMTP),  # CRLF line ends, as sent
    )


def deliver_due(config: Mail, limit: int = 100) -> tuple[int, int]:
    """Send what is due; returns (sent, failed). Failures are retried later, with backoff."""
    sent = failed = 0
    due = (
        OutboxMessage.select(OutboxMessage.id)
        .where(OutboxMessage.sent_at.is_null() & (OutboxMessage.next_attempt_at <= now()))
        .order_by(OutboxMessage.next_attempt_at)
        .limit(limit)
    )
    for (message_id,) in due.tuples():
        message = _claim(message_id)
        if message is None:
            continue  # another worker has it
        try:
            _send(config, message)
        except (OSError, smtplib.SMTPException) as error:
            failed += 1
            _retry_later(message, error)
        else:
            sent += 1
            with write():
                OutboxMessage.update(sent_at=now(), claimed_until=None, last_error="").where(
                    OutboxMessage.id == message.id
                ).execute()
    return sent, failed


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
    delay = min(dt.timedelta(seconds=30 * 2 ** (attempts - 1)), MAX_BACKOFF)
    log.warning("Mail %s to %s failed (attempt %d): %s", message.id, message.recipient, attempts, error)
    with write():
        OutboxMessage.update(
            attempts=attempts, next_attempt_at=now() + delay, claimed_until=None,
            last_error=str(error)[:500],
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
