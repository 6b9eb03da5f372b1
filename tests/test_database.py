"""The SQLite settings that keep orders safe and writers from failing halfway.

These run on SQLite whatever DATABASE_URL says: they are about SQLite itself.
"""
from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from shop.catalog.models import Category
from shop.db import Prepared, db, is_sqlite
from tests.conftest import migrated_app


@pytest.fixture
def database(settings, tmp_path):
    migrated_app(replace(settings, database_url=f"sqlite:///{tmp_path / 'sqlite.db'}"))
    with db.connection_context():
        yield db
    db.close_all()


def pragma(name: str):
    return db.execute_sql(f"PRAGMA {name}").fetchone()[0]


def test_sqlite_runs_in_wal_mode_with_durable_commits(database):
    assert is_sqlite()
    assert pragma("journal_mode") == "wal"
    assert pragma("synchronous") == 2  # FULL: a committed transaction survives a power cut
    assert pragma("foreign_keys") == 1
    assert pragma("busy_timeout") >= 5000


def test_write_transactions_take_the_write_lock_up_front(database):
    """A second writer waits at BEGIN instead of failing after it has read."""
    order = []
    with db.atomic():
        Category.create(slug="a", name="A")
        started = threading.Event()

        def other_writer():
            with db.connection_context():
                started.set()
                with db.atomic():
                    order.append("other")
                    Category.create(slug="b", name="B")

        thread = threading.Thread(target=other_writer)
        thread.start()
        started.wait()
        thread.join(timeout=0.5)
        order.append("first")
    thread.join()
    assert order == ["first", "other"]
    assert Category.select().count() == 2


def test_a_prepared_statement_runs_on_the_database_it_is_given(settings, tmp_path):
    """Built once per database: after connecting elsewhere, it reads from there."""
    by_slug = Prepared(lambda slug: Category.select(Category.name, Category.active).where(Category.slug == slug))
    rename = Prepared(lambda name, slug: Category.update(name=name).where(Category.slug == slug))
    for n, name in enumerate(("Küche", "Garten")):
        migrated_app(replace(settings, database_url=f"sqlite:///{tmp_path / f'{n}.db'}"))
        with db.connection_context():
            Category.create(slug="k", name=name, active=False)
            found = by_slug.first("k")
            assert (found.name, found.active) == (name, False)  # a model, with Python values
            assert by_slug.first("none") is None
            assert rename.execute(f"{name} neu", "k").rowcount == 1
            assert [c.name for c in by_slug.rows("k")] == [f"{name} neu"]
        db.close_all()
