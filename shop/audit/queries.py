"""Reading the audit trail: the entries a filter selects, how many there are, and which
actors, actions and kinds of object occur, for the audit log and its CSV export.

Counts and the values seen only grow as entries are appended, so each is kept with the
last entry it includes (its id and hash) and brought up to date with the entries
written since: a page of a trail of 100,000 entries counts only what is new."""
from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, TypeVar

from peewee import Tuple

from shop.db import db

from . import chain
from .models import AuditEntry

V = TypeVar("V")


@dataclass(frozen=True)
class Criteria:
    """What the audit log is filtered by; empty values filter nothing. Times in UTC
    (as stored): `start` inclusive, `end` exclusive."""

    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def empty(self) -> bool:
        return self == Criteria()


SHOWN = (AuditEntry.id, AuditEntry.at, AuditEntry.actor, AuditEntry.address, AuditEntry.action,
         AuditEntry.object_type, AuditEntry.object_id, AuditEntry.object_label, AuditEntry.changes)


def matching(criteria: Criteria, *columns):
    """The entries the criteria select (unordered), with the columns the log shows."""
    query = AuditEntry.select(*(columns or SHOWN))
    return query.where(*_conditions(criteria)) if not criteria.empty() else query


def _conditions(criteria: Criteria) -> list:
    conditions = []
    if criteria.actor:
        conditions.append(AuditEntry.actor == criteria.actor)
    if criteria.action:
        conditions.append(AuditEntry.action == criteria.action)
    if criteria.object_type:
        conditions.append(AuditEntry.object_type == criteria.object_type)
        if criteria.object_id:
            conditions.append(AuditEntry.object_id == criteria.object_id)
    if criteria.start is not None:
        conditions.append(AuditEntry.at >= criteria.start)
    if criteria.end is not None:
        conditions.append(AuditEntry.at < criteria.end)
    return conditions


class _Running:
    """Values over the trail that only grow as it does, each kept with the id and hash of
    the last entry it includes. A chain that is not the one they were counted on (another
    database, a restored backup, an entry removed) has them counted afresh."""

    @dataclass
    class State:
        last_id: int
        last_hash: str
        value: Any

    def __init__(self, size: int = 256):
        self.size = size
        self._items: OrderedDict[Hashable, _Running.State] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, top: chain.Head, compute: Callable[[int, int], V],
            add: Callable[[V, V], V]) -> V:
        """`compute(after, until)`: the value over the entries with ids in (after, until];
        `add` joins a value and the value of the entries since."""
        with self._lock:
            state = self._items.get(key)
            if state is not None:
                self._items.move_to_end(key)
        if state is not None and (state.last_id, state.last_hash) == (top.last_id, top.last_hash):
            return state.value
        if state is not None and state.last_id < top.last_id and _hash_of(state.last_id) == state.last_hash:
            value = add(state.value, compute(state.last_id, top.last_id))
        else:
            value = compute(0, top.last_id)
        with self._lock:
            self._items[key] = _Running.State(top.last_id, top.last_hash, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def _hash_of(entry_id: int) -> str | None:
    if entry_id == 0:
        return chain.GENESIS
    row = db.execute_sql(f'SELECT hash FROM "{chain.TABLE}" WHERE id = {db.param}', (entry_id,)).fetchone()
    return row[0] if row else None


_counts = _Running()
_seen = _Running(size=4)


def top() -> chain.Head | None:
    """The chain's head: the newest entry that counts and lists include."""
    return chain.head()


def count(criteria: Criteria, head: chain.Head | None) -> int:
    """How many entries the criteria select."""
    if head is None:
        return matching(criteria, AuditEntry.id).count()
    if criteria.empty():
        return head.entries

    def compute(after: int, until: int) -> int:
        return matching(criteria, AuditEntry.id).where(AuditEntry.id > after, AuditEntry.id <= until).count()

    return _counts.get(criteria, head, compute, lambda a, b: a + b)


@dataclass(frozen=True)
class Seen:
    """The actors, actions and kinds of object that occur in the trail."""

    actors: frozenset[str] = field(default_factory=frozenset)
    actions: frozenset[str] = field(default_factory=frozenset)
    object_types: frozenset[str] = field(default_factory=frozenset)

    def __or__(self, other: Seen) -> Seen:
        return Seen(self.actors | other.actors, self.actions | other.actions, self.object_types | other.object_types)


def seen(head: chain.Head | None) -> Seen:
    def compute(after: int, until: int | None) -> Seen:
        def distinct(column) -> frozenset[str]:
            query = AuditEntry.select(column).distinct()
            if after:
                query = query.where(AuditEntry.id > after)
            if until is not None:
                query = query.where(AuditEntry.id <= until)
            return frozenset(query.scalars())

        return Seen(distinct(AuditEntry.actor), distinct(AuditEntry.action), distinct(AuditEntry.object_type))

    if head is None:
        return compute(0, None)
    return _seen.get("seen", head, compute, lambda a, b: a | b)


def export_batch(criteria: Criteria, after: tuple[dt.datetime, int] | None, limit: int) -> list[AuditEntry]:
    """The next `limit` entries, newest first, after the entry at `after` (its time and
    id; None: from the newest), with their hash."""
    query = matching(criteria, *SHOWN, AuditEntry.hash)
    if after is not None:
        query = query.where(Tuple(AuditEntry.at, AuditEntry.id) < Tuple(*after))
    return list(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
