"""Synthetic orders for the back office's benchmarks: a year of trade in a few seconds.

    python bench/orders.py                                    # 100,000 orders into data/bench-100000.sqlite3
    python bench/orders.py --orders 20000 --database /tmp/shop.sqlite3

Adds `count` orders to a migrated SQLite database that holds a catalogue (bench/run.py's
build_catalogue makes one): each with 1–4 lines of active products (prices, VAT per line
and shipping as the shop computes them), placed at random over the last `days` days, in
the states an order of that age would be in (recent ones awaiting payment, paid or
shipped; older ones mostly delivered; some cancelled or refunded, some partly refunded),
with their payments, refunds and history, customers from a quarter as many accounts (a
third of the orders are guests'), delivery countries mostly DE, and three carts per order
of which some started a checkout (the dashboard's funnel). Everything goes in with bulk
inserts in one transaction; order numbers continue each year's sequence.

From another script: `from orders import add_orders; add_orders(path, 100_000)`.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shop.db import connect, db, migrate, now  # noqa: E402

FIRST_NAMES = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hannes", "Ida", "Jonas", "Karla",
               "Lukas", "Mia", "Noah", "Olga", "Paul", "Quirin", "Rosa", "Sven", "Tilda", "Uwe", "Vera", "Wim",
               "Xenia", "Yusuf", "Zoe", "Émile", "Jürgen", "Sönke", "Maëlle"]
LAST_NAMES = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
              "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
              "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier",
              "Lehmann", "Schmid", "Schulze", "Öztürk", "Nowak", "Dubois", "Rossi", "García", "Jansen"]
CITIES = {"DE": [("10115", "Berlin"), ("20095", "Hamburg"), ("80331", "München"), ("50667", "Köln"),
                 ("60311", "Frankfurt am Main"), ("70173", "Stuttgart"), ("04109", "Leipzig"), ("01067", "Dresden")],
          "AT": [("1010", "Wien"), ("5020", "Salzburg")], "NL": [("1012", "Amsterdam")], "FR": [("75001", "Paris")],
          "BE": [("1000", "Bruxelles")], "IT": [("00118", "Roma")], "ES": [("28001", "Madrid")],
          "PL": [("00-001", "Warszawa")], "DK": [("1050", "København")], "LU": [("1111", "Luxembourg")]}
COUNTRY_WEIGHTS = {"DE": 80, "AT": 7, "NL": 3, "FR": 2, "BE": 2, "IT": 2, "ES": 1, "PL": 1, "DK": 1, "LU": 1}
STREETS = ["Lindenweg", "Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schulstraße", "Am Markt", "Birkenallee"]
LEGAL = json.dumps({"privacy": "2025-01", "terms": "2025-01", "withdrawal": "2025-01"}, sort_keys=True)
BATCH = 2000


def _status(rng: random.Random, age_days: float) -> tuple[str, str]:
    """(order state, payment state) for an order of that age."""
    roll = rng.random()
    if roll < 0.04:
        return "cancelled", "unpaid" if rng.random() < 0.7 else "refunded"
    if roll < 0.07:
        return "refunded", "refunded"
    if age_days < 2:
        return rng.choices([("awaiting_payment", "unpaid"), ("paid", "paid"), ("shipped", "paid")], [4, 4, 2])[0]
    if age_days < 7:
        return rng.choices([("awaiting_payment", "unpaid"), ("paid", "paid"), ("shipped", "paid"),
                            ("delivered", "paid")], [1, 2, 4, 3])[0]
    if rng.random() < 0.01:
        return "awaiting_payment", "unpaid"  # a transfer that never came
    return "delivered", "partly_refunded" if rng.random() < 0.03 else "paid"


def _rows(sql_table: str, columns: list[str], rows: list[tuple]) -> None:
    if not rows:
        return
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    db.connection().executemany(f'INSERT INTO "{sql_table}" ({names}) VALUES ({marks})', [
        tuple(str(v) if isinstance(v, dt.datetime) else v for v in row) for row in rows])


def add_orders(path: Path, count: int = 100_000, seed: int = 1, days: int = 365, quiet: bool = False) -> int:
    """Add `count` synthetic orders (with lines, payments, refunds, history, customers and
    carts) to the SQLite database at `path`; returns how many orders it holds then."""
    connect(f"sqlite:///{path}")
    migrate()
    rng = random.Random(seed)
    started = time.perf_counter()
    end = now()
    with db.connection_context():
        connection = db.connection()
        _check_columns(connection)
        products = connection.execute(
            "SELECT id, sku, name, price_cents, vat_rate FROM product WHERE active = 1 AND price_cents > 0"
        ).fetchall()
        if not products:
            raise SystemExit(f"{path}: no active products; build a catalogue first (bench/run.py)")
        hot = products[: max(50, len(products) // 200)]  # some products sell far more often
        with db.atomic():
            users = _customers(rng, max(1, count // 4), end, days)
            sequence = dict(connection.execute("SELECT year, last_number FROM order_sequence").fetchall())
            first_id = (connection.execute('SELECT MAX(id) FROM "order"').fetchone()[0] or 0) + 1
            placed_times = sorted(end - dt.timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(count))
            orders, lines, events, payments, refunds = [], [], [], [], []
            for n, placed in enumerate(placed_times):
                order_id = first_id + n
                year = placed.year  # close enough to the shop's year for synthetic data
                sequence[year] = sequence.get(year, 0) + 1
                status, payment_status = _status(rng, (end - placed).total_seconds() / 86400)
                user = rng.choice(users) if rng.random() < 0.67 else None
                name = user[1] if user else f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                email = user[2] if user else f"gast{order_id}@example.org"
                country = rng.choices(list(COUNTRY_WEIGHTS), list(COUNTRY_WEIGHTS.values()))[0]
                postcode, city = rng.choice(CITIES[country])
                address = json.dumps({"name": name, "company": "", "street": f"{rng.choice(STREETS)} {rng.randint(1, 120)}",
                                      "postcode": postcode, "city": city, "country": country}, sort_keys=True)
                subtotal, vat_by_rate = 0, {}
                for product_id, sku, product_name, price, rate in {
                        rng.choice(hot if rng.random() < 0.3 else products) for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4)))}:
                    quantity = rng.choice((1, 1, 1, 1, 2, 2, 3))
                    total = price * quantity
                    vat = round(total * rate / (100 + rate))
                    subtotal += total
                    vat_by_rate[str(rate)] = vat_by_rate.get(str(rate), 0) + vat
                    lines.append((order_id, product_id, sku, product_name, price, rate, quantity, total, vat))
                shipping = 0 if subtotal >= 5000 else (490 if country == "DE" else 1290)
                shipping_vat = round(shipping * 19 / 119)
                if shipping_vat:
                    vat_by_rate["19"] = vat_by_rate.get("19", 0) + shipping_vat
                total = subtotal + shipping
                vat_total = sum(vat_by_rate.values())
                updated = min(end, placed + dt.timedelta(days=rng.uniform(0, 3))) if status != "awaiting_payment" else placed
                shipped = status in ("shipped", "delivered") or (status == "refunded" and rng.random() < 0.5)
                orders.append((
                    order_id, f"{year}-{sequence[year]:06d}", user[0] if user else None, email, address, None,
                    "standard", "prepayment", status, payment_status, subtotal, shipping, total,
                    json.dumps(vat_by_rate, sort_keys=True), vat_total, LEGAL, f"bench-{secrets.token_hex(12)}",
                    "DHL" if shipped else "", f"00340434{order_id:010d}" if shipped else "",
                    placed, updated, name[:255], country))
                events.append((order_id, "awaiting_payment", "customer", "", placed))
                if payment_status != "unpaid":
                    payments.append((order_id, "prepayment", None, total, "EUR", "succeeded",
                                     f"Bestellung {sequence[year]:06d}", "admin", updated, updated))
                    if status not in ("awaiting_payment", "cancelled"):
                        events.append((order_id, "paid", "admin", "", updated))
                if status in ("shipped", "delivered", "cancelled", "refunded") and not (
                        status == "cancelled" and payment_status == "unpaid"):
                    events.append((order_id, status, "admin", "", updated))
                elif status == "cancelled":
                    events.append((order_id, status, "admin", "", updated))
                if payment_status == "refunded":
                    refunds.append((order_id, "prepayment", None, total, "EUR", "succeeded", "", "{}", "", "admin",
                                    updated, updated))
                elif payment_status == "partly_refunded":
                    part = max(1, min(total - 1, round(total * rng.uniform(0.1, 0.5))))
                    refunds.append((order_id, "prepayment", None, part, "EUR", "succeeded", "", "{}",
                                    "Teilerstattung", "admin", updated, updated))
                if len(orders) == BATCH or n == count - 1:
                    _flush(orders, lines, events, payments, refunds)
                    orders, lines, events, payments, refunds = [], [], [], [], []
                    if not quiet:
                        print(f"\r  orders: {n + 1}/{count}", end="", file=sys.stderr, flush=True)
            for year, last in sequence.items():
                connection.execute("INSERT INTO order_sequence (year, last_number) VALUES (?, ?) "
                                   "ON CONFLICT (year) DO UPDATE SET last_number = excluded.last_number", (year, last))
            _carts(rng, count * 3, count, end, days, users)
        db.execute_sql("ANALYZE")
        total_orders = connection.execute('SELECT COUNT(*) FROM "order"').fetchone()[0]
    if not quiet:
        print(f"\r  {count:,} orders added in {time.perf_counter() - started:.1f} s; "
              f"{total_orders:,} in {path}", file=sys.stderr)
    db.close_all()
    return total_orders


def _check_columns(connection) -> None:
    """The tables must have the columns this script fills (a database migrated with an
    older version of a migration may lack some): say which, rather than fail halfway."""
    from shop.cart.models import Cart
    from shop.orders.models import Order

    for model in (Order, Cart):
        table = model._meta.table_name
        have = {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}
        missing = sorted(f.column_name for f in model._meta.sorted_fields if f.column_name not in have)
        if missing:
            raise SystemExit(f"{table} lacks {', '.join(missing)}: this database was migrated by an older "
                             "version of the shop; build it anew (python bench/run.py --rebuild)")


def _flush(orders, lines, events, payments, refunds) -> None:
    _rows("order", ["id", "number", "user_id", "email", "billing_address", "shipping_address", "delivery_option",
                    "payment_method", "status", "payment_status", "subtotal_cents", "shipping_cents",
                    "total_cents", "vat_by_rate", "vat_cents", "legal_versions", "idempotency_key", "carrier",
                    "tracking_number", "placed_at", "updated_at", "customer_name", "country"], orders)
    _rows("order_line", ["order_id", "product_id", "sku", "name", "unit_price_cents", "vat_rate", "quantity",
                         "total_cents", "vat_cents"], lines)
    _rows("order_event", ["order_id", "status", "actor", "note", "created_at"], events)
    _rows("payment", ["order_id", "provider", "provider_id", "amount_cents", "currency", "state", "reference",
                      "actor", "created_at", "updated_at"], payments)
    _rows("refund", ["order_id", "provider", "provider_id", "amount_cents", "currency", "state", "reference",
                     "lines", "note", "actor", "created_at", "updated_at"], refunds)


def _customers(rng: random.Random, count: int, end: dt.datetime, days: int) -> list[tuple[int, str, str]]:
    """`count` customer accounts registered over the period (they cannot sign in):
    (id, name, email) each."""
    connection = db.connection()
    first_id = (connection.execute('SELECT MAX(id) FROM "user"').fetchone()[0] or 0) + 1
    tag = secrets.token_hex(3)  # a second run adds other customers
    rows = []
    for n in range(count):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        created = end - dt.timedelta(seconds=rng.uniform(0, days * 86400))
        rows.append((first_id + n, f"kunde-{tag}-{n}@example.org", "!", name, "customer", created, "de",
                     created, created))
    _rows("user", ["id", "email", "password_hash", "name", "role", "email_verified_at", "language",
                   "created_at", "updated_at"], rows)
    return [(row[0], row[3], row[1]) for row in rows]


def _carts(rng: random.Random, count: int, orders: int, end: dt.datetime, days: int, users: list) -> None:
    """`count` carts over the period; about two in five started a checkout."""
    rows = []
    for n in range(count):
        created = end - dt.timedelta(seconds=rng.uniform(0, days * 86400))
        checkout = created + dt.timedelta(minutes=rng.uniform(1, 90)) if rng.random() < 0.4 else None
        user = rng.choice(users)[0] if rng.random() < 0.2 else None
        rows.append((secrets.token_urlsafe(24), user, "{}", min(checkout, end) if checkout else None, created,
                     checkout or created))
        if len(rows) == BATCH * 5 or n == count - 1:
            _rows("cart", ["token", "user_id", "checkout", "checkout_started_at", "created_at", "updated_at"], rows)
            rows = []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--database", type=Path, default=ROOT / "data" / "bench-100000.sqlite3")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not args.database.exists():
        print(f"{args.database} does not exist: build a catalogue first (python bench/run.py)", file=sys.stderr)
        return 2
    add_orders(args.database, args.orders, seed=args.seed, days=args.days)
    return 0


if __name__ == "__main__":
    sys.exit(main())
