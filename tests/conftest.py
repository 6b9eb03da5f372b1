"""Each test gets a fresh, migrated database: a new SQLite file, or a clean
PostgreSQL schema when DATABASE_URL points at PostgreSQL."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from shop.app import create_app
from shop.catalog.models import Category, Product
from shop.catalog.search import index_products
from shop.config import Settings
from shop.db import db, migrate, reset_postgres_schema

POSTGRES_URL = os.environ.get("DATABASE_URL", "")
DEMO_CSV = Path(__file__).resolve().parent.parent / "data" / "csv"


@pytest.fixture
def settings(tmp_path) -> Settings:
    url = POSTGRES_URL if POSTGRES_URL.startswith("postgres") else f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    return Settings(database_url=url, secret_key="test-secret-key", media_dir=tmp_path / "media")


def migrated_app(settings: Settings):
    app = create_app(settings)
    if settings.database_url.startswith("postgres"):
        reset_postgres_schema()
    migrate()
    return app


@pytest.fixture
def app(settings):
    yield migrated_app(settings)
    db.close_all()


@pytest.fixture
def client(app):
    with TestClient(app, follow_redirects=False) as client:
        yield client


@pytest.fixture
def database(app):
    """A connection for the test's own queries and setup."""
    with db.connection_context():
        yield db


_numbers = itertools.count(1)


@pytest.fixture
def make_category(database):
    def make(name: str = "Küche", parent: Category | None = None, **values) -> Category:
        n = next(_numbers)
        values.setdefault("slug", f"kategorie-{n}")
        return Category.create(name=name, parent=parent, position=n, **values)

    return make


@pytest.fixture
def make_product(database, make_category):
    default_category = []

    def make(name: str = "Produkt", **values) -> Product:
        if "category" not in values:
            if not default_category:
                default_category.append(make_category("Allerlei"))
            values["category"] = default_category[0]
        n = next(_numbers)
        values.setdefault("sku", f"SKU-{n}")
        values.setdefault("slug", f"produkt-{n}")
        values.setdefault("price_cents", 1000)
        values.setdefault("stock", 10)
        product = Product.create(name=name, **values)
        index_products([product])
        return product

    return make


@pytest.fixture
def demo(database, settings):
    from shop.catalog.importer import import_csv

    for name in ("categories.csv", "products.csv"):
        import_csv(DEMO_CSV / name, settings.media_dir)
