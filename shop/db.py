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
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar
from urllib.parse import urlparse

import anyio
from peewee import (
    Database, DatabaseProxy, Model, Node, OperationalError, PostgresqlDatabase, SqliteDatabase, TextField,
)
from playhouse.migrations import Runner
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from shop.config import ConfigError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

db = DatabaseProxy()

T = TypeVar("T")

# synchronous=FULL: in WAL mode, NORMAL may lose the last commits on a power cut,
# and a committed order must survive one.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",
    "foreign_keys": 1,
    "cache_size": -32_000,
    "mmap_size": 1 << 30,
    "temp_store": "memory",
}
# Two cores: more threads than this only queue up behind the GIL and each other,
# and a few warm connections beat many cold ones.
DB_THREADS = 8
DEFAULT_WAIT_SECONDS = 5.0


class DatabaseBusy(Exception):
    """A write could not get the database within the wait limit (another program holds
    it, or the shop is overloaded); nothing was written. The shop answers 503."""


class JSONField(TextField):
    """JSON kept as text, the same on SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    if TYPE_CHECKING:
        id: Any  # Peewee's implicit primary key, for the type checker

    class Meta:
        database = db
        legacy_table_names = False


def now() -> dt.datetime:
    """The current time in UTC, as the naive datetime every table stores."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def make_database(url: str, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> Database:
    """The database for a URL; a write waits at most `wait_seconds` for a lock."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = url.removeprefix("sqlite:///")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # IMMEDIATE: a transaction that reads, then writes, holds the write lock
        # from its start, so it never fails halfway with "database is locked".
        database = PooledSqliteDatabase(
            path,
            pragmas={**SQLITE_PRAGMAS, "busy_timeout": int(wait_seconds * 1000)},
            lock_type="IMMEDIATE",
            timeout=wait_seconds,
            max_connections=64,
            stale_timeout=600,
            autoconnect=False,
            check_same_thread=False,
        )
    elif parsed.scheme in ("postgres", "postgresql"):
        database = PooledPostgresqlDatabase(
            url, max_connections=32, stale_timeout=600, autoconnect=False,
            options=f"-c lock_timeout={int(wait_seconds * 1000)}",
        )
    else:
        raise ConfigError(f"DATABASE_URL: use sqlite:///PATH or postgresql://…, not {parsed.scheme or url!r}")
    database.wait_seconds = wait_seconds
    return database


def connect(url: str, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> Database:
    database = make_database(url, wait_seconds)
    db.initialize(database)
    return database


def is_busy(error: Exception) -> bool:
    """A lock that was not granted in time: SQLite's "database is locked", PostgreSQL's
    lock timeout."""
    if isinstance(error, DatabaseBusy):
        return True
    text = str(error).lower()
    return isinstance(error, OperationalError) and any(
        word in text for word in ("database is locked", "lock timeout", "database is busy"))


def is_postgres() -> bool:
    return isinstance(db.obj, PostgresqlDatabase)


def is_sqlite() -> bool:
    return isinstance(db.obj, SqliteDatabase)


class _WriteQueue:
    """Write transactions on SQLite take turns on a file lock shared by all processes.

    SQLite allows one writer at a time; a writer that finds it busy polls, sleeping
    in steps of up to 100 ms, which puts long stalls into a busy shop. The threads of
    one process queue on a lock that wakes the next at once; between processes the
    file lock is tried in steps of at most 10 ms. Nobody waits longer than the wait
    limit: then DatabaseBusy.
    """

    def __init__(self):
        self._local = threading.local()  # how deep this thread is in write transactions
        self._files: dict[str, int] = {}
        self._files_guard = threading.Lock()
        # flock() is held per process: the threads of one process queue here first.
        self._thread_lock = threading.Lock()

    @contextmanager
    def turn(self, path: str, wait_seconds: float):
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            deadline = time.monotonic() + wait_seconds
            if not self._thread_lock.acquire(timeout=wait_seconds):
                raise DatabaseBusy(f"no write turn within {wait_seconds} s")
            try:
                self._lock_file(path, deadline)
            except BaseException:
                self._thread_lock.release()
                raise
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0:
                fcntl.flock(self._file(path), fcntl.LOCK_UN)
                self._thread_lock.release()

    def _lock_file(self, path: str, deadline: float) -> None:
        pause = 0.001
        while True:
            try:
                fcntl.flock(self._file(path), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DatabaseBusy("another process holds the write lock") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.01)

    def _file(self, path: str) -> int:
        with self._files_guard:
            if path not in self._files:
                self._files[path] = os.open(f"{path}.writelock", os.O_RDWR | os.O_CREAT, 0o600)
            return self._files[path]


_write_queue = _WriteQueue()


@contextmanager
def write():
    """A write transaction; on SQLite, writers wait their turn in a queue (see _WriteQueue).
    Raises DatabaseBusy, having written nothing, when the database stays locked."""
    wait = getattr(db.obj, "wait_seconds", DEFAULT_WAIT_SECONDS)
    try:
        if is_sqlite() and db.obj.database != ":memory:":
            with _write_queue.turn(db.obj.database, wait), db.atomic():
                yield
        else:
            with db.atomic():
                yield
    except OperationalError as error:
        if is_busy(error):
            raise DatabaseBusy(str(error)) from error
        raise


def locked(query):
    """`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's write transactions lock the whole file."""
    return query.for_update() if is_postgres() else query


class Param(Node):
    """Where a value goes in a `Prepared` statement: the `index`-th value of each run."""

    def __init__(self, index: int):
        self.index = index
        self.converter: Callable[[Any], Any] | None = None

    def __sql__(self, ctx):
        # Compared with a column, the value is converted as Peewee would convert it.
        self.converter = ctx.state.converter
        ctx._values.append(self)
        return ctx.literal(ctx.state.param or "?")

    def take(self, values: tuple) -> Any:
        value = values[self.index]
        return self.converter(value) if self.converter and value is not None else value


class Prepared:
    """A statement whose SQL Peewee builds once (per database) and which then runs with
    new values: on the hot paths, building a query's SQL takes far longer than running
    it (a one-row select of 11 columns: ~0.12 ms to build, ~0.01 ms to run).

        by_id = Prepared(lambda id: Product.select(Product.name).where(Product.id == id))
        by_id.first(7)

    `build` gets one `Param` for each of its arguments and places them where values go;
    a value set by an update goes to the database as given."""

    def __init__(self, build: Callable[..., Any]):
        self._build = build
        self._built: tuple[Any, Any, str, list] | None = None  # database, query, SQL, parameters

    def _statement(self) -> tuple[Any, str, list]:
        built = self._built
        if built is None or built[0] is not db.obj:
            query = self._build(*(Param(i) for i in range(self._build.__code__.co_argcount)))
            built = self._built = (db.obj, query, *query.sql())
        return built[1:]

    def execute(self, *values):
        """Run the statement; returns the cursor."""
        _query, sql, params = self._statement()
        return db.execute_sql(sql, [p.take(values) if isinstance(p, Param) else p for p in params])

    def rows(self, *values) -> list:
        """The rows of a select, as its query returns them (models, tuples, ...)."""
        query, _sql, _params = self._statement()
        return list(query._get_cursor_wrapper(self.execute(*values)))

    def first(self, *values) -> Any:
        rows = self.rows(*values)
        return rows[0] if rows else None


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


def writable(wait_seconds: float = 1.0) -> bool:
    """Whether a write could start now: on SQLite, the write lock is free within
    `wait_seconds`; on PostgreSQL, the server is not read-only."""
    try:
        with db.connection_context():
            if is_postgres():
                return db.execute_sql("SHOW transaction_read_only").fetchone()[0] == "off"
            connection = db.connection()
            connection.execute(f"PRAGMA busy_timeout = {int(wait_seconds * 1000)}")
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("ROLLBACK")
            finally:
                connection.execute(f"PRAGMA busy_timeout = {int(db.obj.wait_seconds * 1000)}")
        return True
    except Exception:
        return False
