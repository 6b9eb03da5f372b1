"""The database: built from `DATABASE_URL`, migrated by `playhouse.migrations`.

Models bind to the `db` proxy; `connect()` points it at SQLite or PostgreSQL.
Request handlers run their queries through `run_db`, which takes a pooled
connection in a worker thread for the duration of one call.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import functools
import json
import os
import threading
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, TypeVar
from urllib.parse import urlparse

import anyio
from peewee import Database, DatabaseProxy, Model, PostgresqlDatabase, SqliteDatabase, TextField
from playhouse.migrations import Runner
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

db = DatabaseProxy()

T = TypeVar("T")

# synchronous=FULL: in WAL mode, NORMAL may lose the last commits on a power cut,
# and a committed order must survive one.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    "cache_size": -32_000,
    "mmap_size": 1 << 30,
    "temp_store": "memory",
}
# Two cores: more threads than this only queue up behind the GIL and each other,
# and a few warm connections beat many cold ones.
DB_THREADS = 8


class JSONField(TextField):
    """JSON kept as text, the same on SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


def now() -> dt.datetime:
    """The current time in UTC, as the naive datetime every table stores."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def make_database(url: str) -> Database:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = url.removeprefix("sqlite:///")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # IMMEDIATE: a transaction that reads, then writes, holds the write lock
        # from its start, so it never fails halfway with "database is locked".
        return PooledSqliteDatabase(
            path,
            pragmas=SQLITE_PRAGMAS,
            lock_type="IMMEDIATE",
            timeout=10,
            max_connections=64,
            stale_timeout=600,
            autoconnect=False,
            check_same_thread=False,
        )
    if parsed.scheme in ("postgres", "postgresql"):
        return PooledPostgresqlDatabase(
            url, max_connections=32, stale_timeout=600, autoconnect=False
        )
    raise ValueError(f"Unsupported DATABASE_URL scheme: {parsed.scheme!r}")


def connect(url: str) -> Database:
    database = make_database(url)
    db.initialize(database)
    return database


def is_postgres() -> bool:
    return isinstance(db.obj, PostgresqlDatabase)


def is_sqlite() -> bool:
    return isinstance(db.obj, SqliteDatabase)


class _WriteQueue:
    """Write transactions on SQLite take turns on a file lock shared by all processes.

    SQLite allows one writer at a time; a writer that finds it busy polls, sleeping
    in steps of up to 100 ms, which puts long stalls into a busy shop. A blocking
    flock() wakes the next writer as soon as the current one commits.
    """

    def __init__(self):
        self._local = threading.local()  # how deep this thread is in write transactions
        self._files: dict[str, int] = {}
        self._files_guard = threading.Lock()
        # flock() is held per process: the threads of one process queue here first.
        self._thread_lock = threading.Lock()

    @contextmanager
    def turn(self, path: str):
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._thread_lock.acquire()
            fcntl.flock(self._file(path), fcntl.LOCK_EX)
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0:
                fcntl.flock(self._file(path), fcntl.LOCK_UN)
                self._thread_lock.release()

    def _file(self, path: str) -> int:
        with self._files_guard:
            if path not in self._files:
                self._files[path] = os.open(f"{path}.writelock", os.O_RDWR | os.O_CREAT, 0o600)
            return self._files[path]


_write_queue = _WriteQueue()


@contextmanager
def write():
    """A write transaction; on SQLite, writers wait their turn in a queue (see _WriteQueue)."""
    if is_sqlite() and db.obj.database != ":memory:":
        with _write_queue.turn(db.obj.database), db.atomic():
            yield
    else:
        with db.atomic():
            yield


def locked(query):
    """`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's write transactions lock the whole file."""
    return query.for_update() if is_postgres() else query


def migrate() -> list[str]:
    """Apply pending migrations; returns their names."""
    with db.connection_context():
        return Runner(db.obj, directory=str(MIGRATIONS_DIR)).up()


def reset_postgres_schema() -> None:
    """Drop everything in PostgreSQL's public schema: a clean database for tests and demos."""
    with db.connection_context():
        db.execute_sql("DROP SCHEMA public CASCADE")
        db.execute_sql("CREATE SCHEMA public")


def with_connection(fn: Callable[..., T], *args, **kwargs) -> T:
    with db.connection_context():
        return fn(*args, **kwargs)


_limiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def run_db(fn: Callable[..., T], *args, **kwargs) -> T:
    """Run `fn` in a worker thread with a database connection held for the call."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop) or _limiters.setdefault(loop, anyio.CapacityLimiter(DB_THREADS))
    return await anyio.to_thread.run_sync(
        functools.partial(with_connection, fn, *args, **kwargs), limiter=limiter
    )


def ping() -> bool:
    try:
        with db.connection_context():
            db.execute_sql("SELECT 1")
        return True
    except Exception:
        return False
