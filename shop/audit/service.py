"""Recording writes. Call `record` inside the transaction that makes the change, so the
entry and the change are kept or lost together."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Mapping

from peewee import Field

from shop.db import db, now

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


# The fields record_many fills, in the order of its statement's parameters.
_MANY_FIELDS: tuple[Field, ...] = (
    AuditEntry.at, AuditEntry.actor_id, AuditEntry.actor, AuditEntry.address, AuditEntry.action,
    AuditEntry.object_type, AuditEntry.object_id, AuditEntry.object_label, AuditEntry.changes,
)


def record_many(actor: Actor, action: str, object_type: str,
                entries: Iterable[tuple[Any, str, Mapping[str, list]]]) -> int:
    """One entry per (id, label, changes). A prepared statement run for each entry:
    building a statement with Peewee takes longer than running it, and building one of
    many rows took a good part of an import's time."""
    at = now()
    rows = [
        [field.db_value(value) for field, value in zip(_MANY_FIELDS, (
            at, actor.user_id, actor.email, actor.address, action, object_type, str(object_id), label[:255],
            dict(changed)))]
        for object_id, label, changed in entries
    ]
    if rows:
        columns = ", ".join(f'"{field.column_name}"' for field in _MANY_FIELDS)
        placeholders = ", ".join(db.param for _field in _MANY_FIELDS)
        db.cursor().executemany(
            f'INSERT INTO "{AuditEntry._meta.table_name}" ({columns}) VALUES ({placeholders})', rows)
    return len(rows)


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral() else str(value)
    return value
