"""When another program holds the database: a clear 503, nothing half-written, one log line."""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from shop.cart.models import CartLine
from tests.conftest import Shopper, migrated_app

HOLD_SQLITE = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""
HOLD_POSTGRES = """
import psycopg2, sys
connection = psycopg2.connect(sys.argv[1])
connection.cursor().execute("LOCK TABLE cart_line IN EXCLUSIVE MODE")
print("locked", flush=True)
sys.stdin.readline()
connection.rollback()
"""


@pytest.fixture
def app(settings):
    from shop.db import db

    yield migrated_app(replace(settings, database_wait_seconds=1.0))
    db.close_all()


class LockHolder:
    """Another process that holds the database's write lock until released."""

    def __init__(self, database_url: str):
        if database_url.startswith("postgres"):
            code, target = HOLD_POSTGRES, database_url
        else:
            code, target = HOLD_SQLITE, database_url.removeprefix("sqlite:///")
        self.process = subprocess.Popen([sys.executable, "-c", code, target], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "locked"

    def release(self):
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        self.process.wait(timeout=10)


def test_a_locked_database_gets_a_503_that_keeps_cart_and_form(app, settings, make_product, caplog):
    shopper = Shopper(TestClient(app, follow_redirects=False))
    tea, cup = make_product("Tee"), make_product("Tasse")
    shopper.add(tea)
    token = shopper.csrf()
    holder = LockHolder(settings.database_url)
    try:
        started = time.monotonic()
        caplog.clear()
        response = shopper.client.post("/cart/items", data={"csrf_token": token, "product_id": cup.id,
                                                            "quantity": "2", "next": "/products"})
        waited = time.monotonic() - started
    finally:
        holder.release()
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert waited < 4  # the wait limit, not the old ten seconds
    assert "Der Shop ist gerade sehr beschäftigt" in response.text and 'class="site-header"' in response.text
    # What was typed comes back, to send again with a fresh token.
    assert f'name="product_id" value="{cup.id}"' in response.text and 'name="quantity" value="2"' in response.text
    busy_lines = [r for r in caplog.records if "busy" in r.getMessage().lower()]
    assert len(busy_lines) == 1 and busy_lines[0].levelname == "WARNING" and not busy_lines[0].exc_info
    assert [(line.product_id, line.quantity) for line in CartLine.select()] == [(tea.id, 1)]
    # Sent again once the lock is gone, it goes through.
    again = shopper.client.post("/cart/items", data={
        "csrf_token": shopper.csrf(), "product_id": cup.id, "quantity": "2"})
    assert again.status_code == 303 and CartLine.select().count() == 2


def test_with_htmx_the_503_lands_in_the_page(app, settings, make_product):
    shopper = Shopper(TestClient(app, follow_redirects=False))
    cup = make_product("Tasse")
    token = shopper.csrf()
    holder = LockHolder(settings.database_url)
    try:
        response = shopper.client.post("/cart/items", data={"csrf_token": token, "product_id": cup.id},
                                       headers={"HX-Request": "true"})
    finally:
        holder.release()
    assert response.status_code == 503 and response.headers["hx-retarget"] == "#main"
    assert response.text.lstrip().startswith('<section id="errors-busy"')


def test_health_reports_a_sqlite_database_that_takes_no_writes(settings, tmp_path):
    """On SQLite whatever DATABASE_URL says: its write lock is the whole file (a PostgreSQL
    table lock leaves the server writable)."""
    from shop.db import db

    sqlite = replace(settings, database_url=f"sqlite:///{tmp_path / 'locked.db'}", database_wait_seconds=1.0)
    client = TestClient(migrated_app(sqlite))
    assert client.get("/healthz").json()["writable"] is True
    holder = LockHolder(sqlite.database_url)
    try:
        response = client.get("/healthz")
    finally:
        holder.release()
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "writable": False}
    assert client.get("/healthz").status_code == 200
    db.close_all()
