"""The audit trail as a hash chain: each entry carries the SHA-256 of the entry before it
and of its own fields (its id included), so that an entry changed or removed afterwards
breaks the chain where it was; `verify` walks it and names the first such entry.

A one-row table, the chain's head, holds the last entry's id and hash. Writers lock it
(SELECT … FOR UPDATE on PostgreSQL; SQLite's write transactions lock the whole file),
so entries join the chain one transaction after the other, each knowing the hash
before it without searching for it.

The hash shows changes made with the database's own tools; whoever can rewrite every
later hash (and the head) as well can hide a change. Against that, keep the head's hash
(`shop audit-verify` prints it) somewhere else now and then, and compare.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import weakref
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from peewee import DateTimeField

from shop.db import db, is_postgres

GENESIS = "0" * 64  # the "previous hash" of the first entry
HEAD_ID = 1
TABLE = "audit_entry"
HEAD_TABLE = "audit_chain"
# The columns an entry's hash covers, in this order (after its id).
HASHED = ("at", "actor_id", "actor", "address", "action", "object_type", "object_id", "object_label", "changes")
VERIFY_BATCH = 2000

_datetime = DateTimeField()


def canonical_time(value: Any) -> str:
    """A stored time as hashed: ISO 8601, whichever way the database hands it back."""
    if isinstance(value, str):
        value = _datetime.python_value(value)
    return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else str(value)


def entry_hash(previous: str, entry_id: int, at: str, values: Sequence[Any]) -> str:
    """SHA-256 over the previous hash and the entry: its id, its time (canonical_time)
    and the other HASHED columns as stored (the changes as their JSON text)."""
    fields = json.dumps([entry_id, at, *values], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{previous}\n{fields}".encode()).hexdigest()


# -- appending (inside the writing transaction) ---------------------------------------------

@dataclass(frozen=True)
class Head:
    last_id: int
    last_hash: str
    entries: int


@dataclass(frozen=True)
class _Statements:
    """The SQL of appending, built once per database (a row save appends one entry, and
    building these strings took longer than running them)."""

    read_head: str
    make_head: str
    new_ids: str
    insert: str
    move_head: str

    @classmethod
    def build(cls) -> _Statements:
        p, postgres = db.param, is_postgres()
        columns = ", ".join(f'"{name}"' for name in ("id", *HASHED, "hash"))
        return cls(
            read_head=(
                f'SELECT last_id, last_hash, entries FROM "{HEAD_TABLE}" WHERE id = {HEAD_ID} FOR UPDATE' if postgres
                # Ids go on after the highest one ever used: the head's, or an entry's written
                # past the chain (which the check then names).
                else f'SELECT MAX(c.last_id, COALESCE((SELECT MAX(id) FROM "{TABLE}"), 0)), c.last_hash, c.entries '
                     f'FROM "{HEAD_TABLE}" c WHERE c.id = {HEAD_ID}'),
            make_head=(f'INSERT INTO "{HEAD_TABLE}" (id, last_id, last_hash, entries) VALUES ({p}, {p}, {p}, {p}) '
                       "ON CONFLICT (id) DO NOTHING"),
            new_ids=f"SELECT nextval(pg_get_serial_sequence('{TABLE}', 'id')) FROM generate_series(1, {p})",
            insert=f'INSERT INTO "{TABLE}" ({columns}) VALUES ({", ".join([p] * (len(HASHED) + 2))})',
            move_head=(f'UPDATE "{HEAD_TABLE}" SET last_id = {p}, last_hash = {p}, entries = entries + {p} '
                       f"WHERE id = {HEAD_ID}"),
        )


_built: weakref.WeakKeyDictionary[Any, _Statements] = weakref.WeakKeyDictionary()


def _sql() -> _Statements:
    statements = _built.get(db.obj)
    if statements is None:
        statements = _built[db.obj] = _Statements.build()
    return statements


def append(rows: list[list], at: str) -> None:
    """Append entries, each given as the stored values of the HASHED columns (the time
    first; `at` is that time as canonical_time, the same for all): gives them ids and
    hashes and moves the head, which stays locked until the transaction ends."""
    sql = _sql()
    head = _lock_head(sql)
    if is_postgres():
        ids = sorted(row[0] for row in db.execute_sql(sql.new_ids, (len(rows),)).fetchall())
    else:
        ids = list(range(head.last_id + 1, head.last_id + len(rows) + 1))
    previous, values = head.last_hash, []
    for entry_id, row in zip(ids, rows):
        previous = entry_hash(previous, entry_id, at, row[1:])
        values.append((entry_id, *row, previous))
    db.cursor().executemany(sql.insert, values)
    db.execute_sql(sql.move_head, (ids[-1], previous, len(rows)))


def _lock_head(sql: _Statements) -> Head:
    """The chain's head, locked until the transaction ends (a lock not granted in time is
    Peewee's OperationalError: the shop answers busy). Made again from the last entry
    should its row be missing (then the check names what is wrong)."""
    row = db.execute_sql(sql.read_head).fetchone()
    if row is None:
        last = db.execute_sql(f'SELECT id, hash FROM "{TABLE}" ORDER BY id DESC LIMIT 1').fetchone()
        count = db.execute_sql(f'SELECT COUNT(*) FROM "{TABLE}"').fetchone()[0]
        db.execute_sql(sql.make_head, (HEAD_ID, last[0] if last else 0, (last[1] if last else None) or GENESIS, count))
        row = db.execute_sql(sql.read_head).fetchone()
    return Head(*row)


def head() -> Head | None:
    """The head as it is now (no lock): for counting and for the check."""
    row = db.execute_sql(f'SELECT last_id, last_hash, entries FROM "{HEAD_TABLE}" WHERE id = {HEAD_ID}').fetchone()
    return Head(*row) if row else None


# -- checking ------------------------------------------------------------------------------------

CHANGED, REMOVED, ADDED, UNCHAINED, NO_HEAD = "changed", "removed", "added", "unchained", "no_head"


@dataclass(frozen=True)
class Verdict:
    """What the check found: `problem` is None when the chain is whole; else what is wrong
    (CHANGED, REMOVED, ...) and at which entry (`entry_id`; for REMOVED, the first id of
    the missing ones up to `until`)."""

    checked: int
    last_id: int
    last_hash: str
    problem: str | None = None
    entry_id: int | None = None
    until: int | None = None
    # The entry found where the problem is, as (at, actor, action, object_type, object_id).
    found: tuple | None = None


def rows(after: int, limit: int) -> list[tuple]:
    """Entries after the id `after`, in id order, with their stored values (no conversion:
    the changes as the JSON text that was hashed)."""
    columns = ", ".join(f'"{c}"' for c in ("id", *HASHED, "hash"))
    p = db.param
    return db.execute_sql(
        f'SELECT {columns} FROM "{TABLE}" WHERE id > {p} ORDER BY id LIMIT {p}', (after, limit)).fetchall()


def walk(after: int = 0, batch: int = VERIFY_BATCH) -> Iterator[tuple]:
    """The entries after the id `after` in id order, a batch at a time (constant memory)."""
    while True:
        found = rows(after, batch)
        yield from found
        if len(found) < batch:
            return
        after = found[-1][0]


def verify(batch: int = VERIFY_BATCH) -> Verdict:
    """Walk the chain from its first entry; stop at the first that was changed or removed.

    An entry whose hash does not match is reported as changed. A gap in the ids is a
    removal, unless the entry after the gap was chained to the one before it (PostgreSQL
    skips the ids of transactions that were rolled back): then nothing was there."""
    previous, previous_id, checked = GENESIS, 0, 0

    def summary(row: tuple) -> tuple:
        return (row[1], row[3], row[5], row[6], row[7])

    while True:
        for row in walk(previous_id, batch):
            entry_id, stored = row[0], row[-1]
            if not stored:
                return Verdict(checked, previous_id, previous, UNCHAINED, entry_id, found=summary(row))
            if entry_hash(previous, entry_id, canonical_time(row[1]), row[2:-1]) != stored:
                if entry_id != previous_id + 1:
                    return Verdict(checked, previous_id, previous, REMOVED, previous_id + 1, entry_id - 1)
                return Verdict(checked, previous_id, previous, CHANGED, entry_id, found=summary(row))
            previous, previous_id, checked = stored, entry_id, checked + 1
        top = head()
        if top is None:
            return Verdict(checked, previous_id, previous, NO_HEAD)
        if top.last_id > previous_id and entries_after(previous_id):
            continue  # written while the check ran: those are checked too
        if top.last_id > previous_id:
            return Verdict(checked, previous_id, previous, REMOVED, previous_id + 1, top.last_id)
        if top.last_id < previous_id:
            return Verdict(checked, previous_id, previous, ADDED, top.last_id + 1, previous_id)
        if top.last_hash != previous:
            return Verdict(checked, previous_id, previous, CHANGED, previous_id)
        return Verdict(checked, previous_id, previous)


def entries_after(entry_id: int) -> bool:
    p = db.param
    return db.execute_sql(f'SELECT 1 FROM "{TABLE}" WHERE id > {p} LIMIT 1', (entry_id,)).fetchone() is not None
