"""The back office under load, with the shop's listing as the yardstick in the same run
(absolute figures differ between machines; ratios measured in one run do not).

    python bench/admin.py                    # 100,000 products
    python bench/admin.py --products 10000 --rounds 3

Uses the catalogue of bench/run.py (data/bench-N.sqlite3, built if missing), adds an
admin and 100,000 orders (bench/orders.py), starts `shop serve --workers 2` and runs wrk
at 4 connections (4 admins at work) against the products table (first page, a category,
stock filters, searches, sorts, a deep page), the orders table (first page, filters,
searches, a deep page) and the dashboard. Each runs in short slices, each right after a
slice of the shop's listing, so that a machine whose speed drifts (shared hosts do, by a
factor of 3 within a minute) slows both alike; the share of the listing is the median
over the rounds. Then one admin saves rows in place while one shopper adds to the cart,
each request timed. Needs wrk (apt-get install wrk).
"""
from __future__ import annotations

import argparse
import html
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from orders import add_orders  # noqa: E402
from run import ROOT, SEARCH_WORDS, Buyer, build_catalogue, free_port, serve, wrk  # noqa: E402

from shop.accounts.models import ADMIN, User  # noqa: E402
from shop.accounts.passwords import hash_password  # noqa: E402
from shop.catalog.models import Category, Product  # noqa: E402
from shop.db import connect, db, migrate, now  # noqa: E402
from shop.orders.models import Order  # noqa: E402

ADMIN_EMAIL, ADMIN_PASSWORD = "bench-admin@example.org", "bench admin password 1"
HTMX = {"HX-Request": "true"}


def prepare(path: Path, orders: int) -> dict:
    """Migrate, add the admin and the orders, and pick the pages' sample paths."""
    connect(f"sqlite:///{path}")
    migrate()
    with db.connection_context():
        if not User.select().where(User.email == ADMIN_EMAIL).exists():
            User.create(email=ADMIN_EMAIL, name="Bench", role=ADMIN, email_verified_at=now(),
                        password_hash=hash_password(ADMIN_PASSWORD))
        missing = orders - Order.select().count()
    db.close_all()
    if missing > 0:
        print(f"Adding {missing:,} orders …", file=sys.stderr)
        add_orders(path, missing, quiet=True)
        connect(f"sqlite:///{path}")
    with db.connection_context():
        categories = [c.id for c in Category.select(Category.id)]
        total = Product.select().count()
        ids = [p.id for p in Product.select(Product.id).order_by(Product.id).limit(500)]
        numbers = [o.number for o in Order.select(Order.number).order_by(Order.id.desc()).limit(3)]
        order_count = Order.select().count()
    db.close_all()
    deep = max(1, total // 25 // 2)
    return {
        "products table": ["/admin/products"],
        "filter: category": [f"/admin/products?category={c}" for c in categories],
        "filter: sold out, low": ["/admin/products?stock=out", "/admin/products?stock=low&active=yes"],
        "search": [f"/admin/products?q={w}" for w in SEARCH_WORDS if w.isascii()]
                  + ["/admin/products?q=B-00012", "/admin/products?q=B-0009"],
        "sort: price, name, stock": ["/admin/products?sort=price", "/admin/products?sort=-name",
                                     "/admin/products?sort=stock&size=100"],
        f"page {deep}": [f"/admin/products?page={deep}", f"/admin/products?sort=sku&page={deep}"],
        "orders table": ["/admin/orders"],
        "orders: filters": ["/admin/orders?status=awaiting_payment", "/admin/orders?payment=partly_refunded",
                            "/admin/orders?status=shipped&sort=-total", "/admin/orders?from=2026-06-01&to=2026-06-30"],
        "orders: search": [f"/admin/orders?q={n}" for n in numbers] + ["/admin/orders?q=Schr%C3%B6der"],
        f"orders: page {max(1, order_count // 25 // 2)}": [f"/admin/orders?page={max(1, order_count // 25 // 2)}"],
        "dashboard": ["/admin/"],
        "_ids": ids,
    }


class Admin(Buyer):
    """An admin's browser: signs in, then saves rows of the table in place."""

    def sign_in(self) -> None:
        _, page, _ = self.request("GET", "/account/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        status, _, _ = self.request("POST", "/account/login",
                                    {"csrf_token": csrf, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert status == 303, "the bench admin could not sign in"

    def save_row(self, product_id: int, timings: list) -> None:
        """Open the row for editing, change its price by a cent and save it (timed)."""
        _, row, _ = self.request("GET", f"/admin/products/{product_id}/row/edit", headers=HTMX)
        fields = dict(re.findall(r'name="(csrf_token|version|original|back)" value="([^"]*)"', row))
        fields["original"] = html.unescape(fields.get("original", ""))
        value = {name: html.unescape(v) for name, v in re.findall(
            r'name="(name|price|stock)" form="[^"]+" type="text" value="([^"]*)"', row)}
        category = re.search(r'<option value="(\d+)" selected>', row).group(1)
        cents = int(value["price"].replace(",", "")) + random.choice((-1, 1))
        form = {**fields, **value, "category": category, "active": "y",
                "price": f"{cents // 100},{cents % 100:02d}"}
        status, _, took = self.request("POST", f"/admin/products/{product_id}/row", form, headers=HTMX)
        timings.append((took, status))


def per_request(samples: list) -> str:
    times = sorted(t for t, status in samples if status < 400)
    if not times:
        return "no successful requests"
    return (f"{len(times)} requests, p50 {1000 * times[len(times) // 2]:.1f} ms, "
            f"p99 {1000 * times[min(len(times) - 1, int(len(times) * .99))]:.1f} ms")


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=3, help="seconds per slice")
    parser.add_argument("--rounds", type=int, default=5, help="slices per page")
    parser.add_argument("--orders", type=int, default=100_000, help="orders in the database (added if fewer)")
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    path = ROOT / "data" / f"bench-{args.products}.sqlite3"
    media_dir = ROOT / "data" / "bench-media"
    if not path.exists():
        print(f"Building a catalogue of {args.products:,} products …", file=sys.stderr)
        build_catalogue(path, media_dir, args.products)
    paths = prepare(path, args.orders)
    ids = paths.pop("_ids")
    port = free_port()
    process = serve(path, media_dir, port)
    url = f"http://127.0.0.1:{port}"
    try:
        admin = Admin(port)
        admin.sign_in()
        print(f"\n{args.products:,} products, uvicorn 2 workers, wrk {args.connections} connections, "
              f"{args.rounds} rounds of {args.duration}s per page, each right after {args.duration}s "
              "of the listing; medians over the rounds")
        print("| page | requests/s | p50 ms | p99 ms | errors | share of the listing (lowest–highest) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        listing_paths = [f"/products?page={n}" for n in range(1, 6)]
        wrk(url, listing_paths, 1, args.connections)  # warm-up
        listings: list[dict] = []
        for name, urls in paths.items():
            wrk(url, urls, 1, args.connections, cookie=admin.cookie)  # warm-up
            runs, shares = [], []
            for _ in range(args.rounds):
                listing = wrk(url, listing_paths, args.duration, args.connections, warm_up=False)
                run = wrk(url, urls, args.duration, args.connections, cookie=admin.cookie, warm_up=False)
                listings.append(listing)
                runs.append(run)
                shares.append(100 * run["rps"] / listing["rps"])
            print(f"| {name} | {_median(runs, 'rps'):.0f} | {_median(runs, 'p50'):.1f} | "
                  f"{_median(runs, 'p99'):.1f} | {sum(r['errors'] for r in runs)} | "
                  f"{statistics.median(shares):.0f} % ({min(shares):.0f}–{max(shares):.0f} %) |", flush=True)
        print(f"| shop listing (yardstick) | {_median(listings, 'rps'):.0f} | {_median(listings, 'p50'):.1f} | "
              f"{_median(listings, 'p99'):.1f} | {sum(r['errors'] for r in listings)} | 100 % |")

        saves: list = []
        adds = {"add to cart": [], "place order": []}
        buyer = Buyer(port)
        _, page, _ = buyer.request("GET", "/products")
        slugs = re.findall(r'href="/products/([a-z0-9-]+)"', page)
        deadline = time.time() + args.duration * args.rounds
        while time.time() < deadline:
            admin.save_row(random.choice(ids), saves)
            buyer.buy(random.choice(slugs), adds)
        print(f"\ninline save: {per_request(saves)}")
        print(f"add to cart: {per_request(adds['add to cart'])}")
    finally:
        process.terminate()
        process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
