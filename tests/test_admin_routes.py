"""Every route of the back office, taken from the route table so that a new one cannot be
forgotten: guests are sent to sign in, customers find nothing, admins get the page; every
write needs the form's token from the shop's own pages and leaves nothing behind without it."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from shop.audit.models import AuditEntry
from shop.catalog.models import Category, ImportJob, Product, ProductImage, StockMovement
from shop.orders.models import Order
from tests.conftest import Shopper
from tests.routing import FIRST_ORDER, requests_to

CSV = "slug,name\nneu-kategorie,Neue Kategorie\n"


def admin_requests(app) -> list[tuple[str, str]]:
    """Every route under /admin/ with each of its methods; ids in paths are 1."""
    return requests_to(app, {"GET", "POST"}, under="/admin/")


@pytest.fixture
def one_of_each(app, admin, make_category, make_product, database):
    """Id 1 of everything the back office's paths name: a category, a product with a
    picture and stock movements, an import, an order."""
    category = make_category("Küche")
    product = make_product("Tasse", category=category)
    ProductImage.create(product=product, filename="products/tasse.svg", alt="Tasse", position=0)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', admin.client.get("/admin/imports").text).group(1)
    uploaded = admin.client.post("/admin/imports", data={"csrf_token": csrf},
                                 files={"file": ("kategorien.csv", CSV.encode(), "text/csv")})
    assert uploaded.status_code == 303
    statement = admin.client.post("/admin/bank-statements", data={"csrf_token": csrf}, files={"file": (
        "auszug.csv", "Buchungstag;Betrag;Verwendungszweck\n02.01.2026;24,90;Nr 2026-000001\n".encode(), "text/csv")})
    assert statement.headers["location"] == "/admin/bank-statements/1"
    buyer = Shopper(TestClient(app, follow_redirects=False))
    buyer.buy(product)
    assert {Category.get_by_id(1).id, Product.get_by_id(1).id, ProductImage.get_by_id(1).id,
            ImportJob.get_by_id(1).id} == {1}
    assert Order.get_by_id(1).number == FIRST_ORDER
    return product


def test_guests_are_sent_to_sign_in_and_customers_find_nothing(app, client, shopper, one_of_each):
    requests = admin_requests(app)
    assert ("GET", "/admin/products") in requests and ("POST", "/admin/products/1/row") in requests
    for method, path in requests:
        response = client.request(method, path)
        assert response.status_code == 303, (method, path)
        assert response.headers["location"] == f"/account/login?next={quote(path, safe='')}"
    shopper.post("/account/register", {"name": "Lea", "email": "lea@example.org",
                                       "password": "ein sicheres passwort"})
    shopper.post("/account/login", {"email": "lea@example.org", "password": "ein sicheres passwort"})
    for method, path in requests:
        response = shopper.client.request(method, path, follow_redirects=True)
        assert response.status_code == 404, (method, path)
        assert "Verwaltung" not in response.text


def test_admins_get_every_page(app, admin, one_of_each):
    for method, path in admin_requests(app):
        if method != "GET":
            continue
        response = admin.client.get(path)
        if response.status_code == 303:  # a piece of a page, asked for without htmx: the page
            location = response.headers["location"]
            assert location.startswith("/admin/"), path
            response = admin.client.get(location)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "private, no-store", path


def test_every_write_needs_the_token_and_changes_nothing_without_it(app, admin, one_of_each):
    before = (Product.select().count(), Category.select().count(), ProductImage.select().count(),
              StockMovement.select().count(), ImportJob.select().count(), AuditEntry.select().count())
    product = Product.get_by_id(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', admin.client.get("/admin/products").text).group(1)
    writes = [path for method, path in admin_requests(app) if method == "POST"]
    assert len(writes) >= 15
    for path in writes:
        for data, headers in (({}, {}), ({"csrf_token": "forged"}, {}),
                              ({"csrf_token": token}, {"Origin": "https://evil.example"})):
            response = admin.client.post(path, data=data, headers=headers)
            assert response.status_code == 403, (path, data, headers)
    after = (Product.select().count(), Category.select().count(), ProductImage.select().count(),
             StockMovement.select().count(), ImportJob.select().count(), AuditEntry.select().count())
    assert after == before
    assert Product.get_by_id(1).version == product.version
