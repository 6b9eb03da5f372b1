"""Each test gets a fresh, migrated database: a new SQLite file, or a clean
PostgreSQL schema when DATABASE_URL points at PostgreSQL."""
from __future__ import annotations

import itertools
import re
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
    return Settings(database_url=url, secret_key="test-secret-key", media_dir=tmp_path / "media",
                    import_dir=tmp_path / "imports")


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
    with db.obj.connection_context():  # the object: a command run in the test may reconnect `db`
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


ADDRESS = {
    "email": "anna@example.org", "billing-name": "Anna Beispiel", "billing-street": "Lindenweg 4",
    "billing-postcode": "10115", "billing-city": "Berlin", "billing-country": "DE",
}


class Shopper:
    """A visitor going through the shop over HTTP, the way a browser would."""

    def __init__(self, client):
        self.client = client

    def csrf(self, url: str = "/cart") -> str:
        html = self.client.get(url).text
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    def post(self, url: str, data: dict | None = None, **kwargs):
        return self.client.post(url, data={"csrf_token": self.csrf(), **(data or {})}, **kwargs)

    def add(self, product, quantity=1, **kwargs):
        return self.post("/cart/items", {"product_id": product.id, "quantity": quantity}, **kwargs)

    def address(self, headers=None, **changes):
        return self.post("/checkout/address", {**ADDRESS, **changes}, headers=headers)

    def delivery(self, delivery="standard", payment="prepayment"):
        return self.post("/checkout/delivery", {"delivery": delivery, "payment": payment})

    def review(self) -> dict:
        html = self.client.get("/checkout/review").text
        return {name: re.search(rf'name="{name}" value="([^"]+)"', html).group(1)
                for name in ("token", "fingerprint")}

    def place(self, review: dict | None = None, accept_terms=True, **kwargs):
        data = dict(review or self.review())
        if accept_terms:
            data["accept_terms"] = "y"
        return self.post("/checkout/place-order", data, **kwargs)

    def buy(self, *products, quantity=1):
        for product in products:
            assert self.add(product, quantity).status_code == 303
        assert self.address().status_code == 303
        assert self.delivery().status_code == 303
        return self.place()


@pytest.fixture
def shopper(client):
    return Shopper(client)


ADMIN_EMAIL = "chefin@example.org"
ADMIN_PASSWORD = "ein sehr sicheres passwort"


def sign_in_admin(app, email: str = ADMIN_EMAIL) -> Shopper:
    """A second browser, signed in as a (new) admin."""
    from shop.accounts.models import ADMIN, User
    from shop.accounts.passwords import hash_password
    from shop.db import now, with_connection

    with_connection(lambda: User.get_or_create(email=email, defaults=dict(
        name="Chefin", role=ADMIN, password_hash=hash_password(ADMIN_PASSWORD), email_verified_at=now())))
    admin = Shopper(TestClient(app, follow_redirects=False))
    response = admin.post("/account/login", {"email": email, "password": ADMIN_PASSWORD})
    assert response.status_code == 303, response.text
    return admin


@pytest.fixture
def admin(app, database) -> Shopper:
    """A browser signed in as an admin."""
    return sign_in_admin(app)
