"""The outbox: every mail is stored before it is sent, so none is lost."""
from __future__ import annotations

from peewee import CharField, DateTimeField, IntegerField, TextField

from shop.db import BaseModel, now


class OutboxMessage(BaseModel):
    recipient = CharField()
    subject = CharField()
    message = TextField()  # the whole MIME message, as sent
    created_at = DateTimeField(default=now)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=now, index=True)
    claimed_until = DateTimeField(null=True)
    sent_at = DateTimeField(null=True, index=True)
    failed_at = DateTimeField(null=True)  # given up: it can never be sent (see last_error)
    last_error = TextField(default="")
    # The order a mail is about, and which of its mails it is ("order_shipped", …): the
    # order's timeline lists them and can send one again.
    order_id = IntegerField(null=True, index=True)
    kind = CharField(default="")
