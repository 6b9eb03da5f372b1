"""Recording writes. Call `record` inside the transaction that makes the change, so the
entry and the change are kept or lost together."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Mapping

from peewee import Field

from shop.db import db, now, write

from . import chain
from .models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who writes: a signed-in admin (id and email) from an address, or a command."""

    email: str
    user_id: int | None = None
    address: str = ""


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list]:
    """The fields whose value differs, as {field: [before, after]} (JSON-ready)."""
    return {
        key: [_plain(before.get(key)), _plain(value)]
        for key, value in after.items()
        if _plain(before.get(key)) != _plain(value)
    }


def record(actor: Actor, action: str, object_type: str, object_id: Any, label: str = "",
           changed: Mapping[str, list] | None = None) -> None:
    record_many(actor, action, object_type, [(object_id, label, changed or {})])


# The fields record_many fills, in the order of its statement's parameters (after the id,
# before the hash): the columns an entry's hash covers.
_MANY_FIELDS: tuple[Field, ...] = (
    AuditEntry.at, AuditEntry.actor_id, AuditEntry.actor, AuditEntry.address, AuditEntry.action,
    AuditEntry.object_type, AuditEntry.object_id, AuditEntry.object_label, AuditEntry.changes,
)
assert tuple(f.column_name for f in _MANY_FIELDS) == chain.HASHED


def record_many(actor: Actor, action: str, object_type: str,
                entries: Iterable[tuple[Any, str, Mapping[str, list]]]) -> int:
    """One entry per (id, label, changes), appended to the chain. A prepared statement run
    for each entry: building a statement with Peewee takes longer than running it, and
    building one of many rows took a good part of an import's time. Outside a transaction,
    the entries get one of their own (the chain's head must be read and moved at once)."""
    at = now()
    rows = [
        [field.db_value(value) for field, value in zip(_MANY_FIELDS, (
            at, actor.user_id, actor.email, actor.address, action, object_type, str(object_id), label[:255],
            dict(changed)))]
        for object_id, label, changed in entries
    ]
    if rows:
        if db.in_transaction():
            chain.append(rows, at.isoformat())
        else:
            with write():
                chain.append(rows, at.isoformat())
    return len(rows)


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral() else str(value)
    return value
