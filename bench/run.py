"""Load benchmark: a generated catalogue served by uvicorn (2 workers).

    python bench/run.py                      # 10,000 and 100,000 products
    python bench/run.py --products 100000 --duration 20

Builds each catalogue once into data/bench-N.sqlite3 (reused on later runs;
--rebuild makes it anew), starts `shop serve --workers 2` on it and runs wrk at
16 connections against the listing, a category, a search, product pages and a
deep filtered page, printing requests/s and latency percentiles per page. Then
8 buyers (threads, each with its own session) add to cart and check out over
and over, timing add-to-cart and place-order. Needs wrk (apt-get install wrk).
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http.client
import multiprocessing
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shop.catalog.importer import import_csv  # noqa: E402
from shop.catalog.models import Category, PriceChange, Product  # noqa: E402
from shop.catalog.search import index_products  # noqa: E402
from shop.db import connect, db, migrate  # noqa: E402

DEMO_CSV = ROOT / "data" / "csv"
SEARCH_WORDS = ["tee", "holz", "messer", "bio", "kerze", "garten", "glas", "baumwolle", "leder", "müsli"]

ADJECTIVES = ["Klassisch", "Modern", "Robust", "Handgemacht", "Nachhaltig", "Kompakt", "Groß", "Klein",
              "Edel", "Praktisch", "Rustikal", "Elegant", "Leicht", "Stabil", "Fein", "Natürlich",
              "Bunt", "Schlicht", "Premium", "Vintage"]
MATERIALS = ["Holz", "Glas", "Edelstahl", "Keramik", "Baumwolle", "Leinen", "Bambus", "Leder", "Zink",
             "Porzellan", "Wolle", "Kork", "Messing", "Ton", "Papier"]
NOUNS = {
    "kueche": ["Pfanne", "Topf", "Messer", "Schneidebrett", "Schüssel", "Kanne", "Reibe", "Sieb"],
    "buecher": ["Roman", "Kochbuch", "Bildband", "Ratgeber", "Kinderbuch", "Reiseführer"],
    "lebensmittel": ["Müsli", "Tee", "Kaffee", "Honig", "Olivenöl", "Pasta", "Gewürz", "Marmelade"],
    "garten": ["Gießkanne", "Pflanztopf", "Gartenschere", "Schlauch", "Vogelhaus", "Hochbeet"],
    "spielzeug": ["Holzeisenbahn", "Puzzle", "Bauklötze", "Kreisel", "Brettspiel", "Drachen"],
    "buero": ["Notizbuch", "Füller", "Ordner", "Stiftebox", "Kalender", "Briefpapier"],
    "bad": ["Seife", "Handtuch", "Badesalz", "Bürste", "Shampoo", "Handcreme"],
    "sport": ["Yogamatte", "Ball", "Springseil", "Rucksack", "Trinkflasche", "Hantel"],
    "wohnen": ["Kerze", "Vase", "Kissen", "Decke", "Leuchte", "Bilderrahmen"],
}


def build_catalogue(path: Path, media_dir: Path, count: int) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    connect(f"sqlite:///{path}")
    migrate()
    rng = random.Random(count)
    with db.connection_context():
        for name in ("categories.csv", "products.csv"):
            import_csv(DEMO_CSV / name, media_dir)
        leaves = [c for c in Category.select() if c.parent_id or not c.children.exists()]
        images = {}
        for p in Product.select(Product.category, Product.image):
            images.setdefault(p.category_id, []).append(p.image)
        start = dt.datetime(2025, 1, 1)
        remaining = count - Product.select().count()
        batch = []
        for n in range(remaining):
            category = rng.choice(leaves)
            top = (category.parent.slug if category.parent_id else category.slug).split("-")[0]
            noun = rng.choice(NOUNS.get(top, sum(NOUNS.values(), [])))
            name = f"{rng.choice(ADJECTIVES)} {noun} {rng.choice(MATERIALS)} {n}"
            batch.append(dict(
                sku=f"B-{n:07d}", slug=f"bench-{n:07d}", name=name,
                description=f"{name}: sorgfältig gefertigt aus {rng.choice(MATERIALS)}, "
                            f"ideal für {rng.choice(['Alltag', 'Geschenke', 'Küche', 'Garten', 'Reisen'])}.",
                category=category.id, price_cents=rng.randint(99, 49_900),
                vat_rate=7 if top in ("lebensmittel", "buecher") else 19,
                stock=0 if rng.random() < 0.08 else rng.randint(1, 500),
                active=rng.random() > 0.01, featured=rng.random() < 0.01,
                image=rng.choice(images.get(category.id) or [""]),
                created_at=start + dt.timedelta(minutes=n), updated_at=start + dt.timedelta(minutes=n),
            ))
            if len(batch) == 2000 or n == remaining - 1:
                with db.atomic():
                    Product.insert_many(batch).execute()
                    added = list(Product.select().where(Product.sku.in_([b["sku"] for b in batch])))
                    PriceChange.insert_many(
                        [dict(product=p.id, price_cents=p.price_cents, changed_at=p.created_at) for p in added]
                    ).execute()
                    index_products(added)
                batch = []
                print(f"\r  building: {n + 1}/{remaining}", end="", file=sys.stderr, flush=True)
        db.execute_sql("ANALYZE")
    print(file=sys.stderr)
    db.close_all()


def sample_paths(path: Path, rng: random.Random) -> dict[str, list[str]]:
    connect(f"sqlite:///{path}")
    with db.connection_context():
        tops = [c for c in Category.select() if not c.parent_id]
        slugs = [p.slug for p in Product.select(Product.slug).where(Product.active == True)  # noqa: E712
                 .order_by(Product.id).limit(2000)]
        deepest = max(tops, key=lambda c: Product.select().join(Category).where(
            (Category.id == c.id) | (Category.parent == c.id)).count())
        deep_count = Product.select().join(Category).where(
            ((Category.id == deepest.id) | (Category.parent == deepest.id)) & (Product.active == True)  # noqa: E712
        ).count()
    db.close_all()
    deep_page = min(50, max(1, -(-deep_count // 24)))
    return {
        "listing /products": [f"/products?page={n}" for n in range(1, 6)],
        "category": [f"/products?category={c.slug}" for c in tops],
        "search ?q=WORD": [f"/products?q={urllib.request.quote(w)}" for w in SEARCH_WORDS],
        # Two thousand different searches: too many for the cache, so most are computed.
        "search, uncached": [
            f"/products?q={urllib.request.quote(f'{a} {n}'.lower())}"
            for a in ADJECTIVES for n in sorted(set(sum(NOUNS.values(), [])))
        ][:2000],
        "product page": [f"/products/{s}" for s in rng.sample(slugs, min(200, len(slugs)))],
        f"category+sort+page {deep_page}": [
            f"/products?category={deepest.slug}&sort=price_asc&page={deep_page}",
            f"/products?category={deepest.slug}&sort=newest&page={deep_page}",
        ],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(path: Path, media_dir: Path, port: int, **settings: str) -> subprocess.Popen:
    """`shop serve --workers 2` on the database at `path`, with more `settings` if given."""
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{path}", SECRET_KEY="bench", MEDIA_DIR=str(media_dir),
               **settings)
    process = subprocess.Popen(
        [sys.executable, "-m", "shop", "serve", "--port", str(port), "--workers", "2"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the shop did not start")


LUA = """
paths = {%s}
counter = 0
%s
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


def wrk(url: str, paths: list[str], duration: int, connections: int, cookie: str = "",
        warm_up: bool = True) -> dict:
    """wrk over `paths` in turn; with `cookie`, as the browser holding that cookie."""
    headers = f'wrk.headers["Cookie"] = "{cookie}"' if cookie else ""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % (", ".join(f'"{p}"' for p in paths), headers))
    if warm_up:
        subprocess.run(["wrk", "-t2", "-c4", "-d2s", "-s", script.name, url], capture_output=True)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script.name, url],
        capture_output=True, text=True, check=True,
    ).stdout
    os.unlink(script.name)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
        "errors": int(bad.group(1)) if bad else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000}[unit]


class Buyer:
    """One shopper with a session cookie, going through cart and checkout over HTTP."""

    ADDRESS = {"email": "bench@example.org", "billing-name": "Bea Bench", "billing-street": "Lastweg 1",
               "billing-postcode": "10115", "billing-city": "Berlin", "billing-country": "DE"}

    def __init__(self, port: int, payment: str = "prepayment"):
        self.port = port
        self.payment = payment
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""
        self.location = ""  # where the last answer sent the buyer

    def request(self, method: str, path: str, form: dict | None = None,
                headers: dict | None = None) -> tuple[int, str, float]:
        headers = {**({"Cookie": self.cookie} if self.cookie else {}), **(headers or {})}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed an idle keep-alive connection: open a new one.
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            started = time.perf_counter()
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        text = response.read().decode()
        elapsed = time.perf_counter() - started
        self.location = response.getheader("Location", "")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, text, elapsed

    def buy(self, slug: str, timings: dict) -> None:
        _, page, _ = self.request("GET", f"/products/{slug}")
        found = re.search(r'name="csrf_token" value="([^"]+)".*?name="product_id" value="(\d+)"', page, re.S)
        if not found:
            return  # sold out: no form
        csrf, product_id = found.groups()
        status, _, took = self.request("POST", "/cart/items",
                                       {"csrf_token": csrf, "product_id": product_id, "quantity": "1"})
        timings["add to cart"].append((took, status))
        self.request("POST", "/checkout/address", {"csrf_token": csrf, **self.ADDRESS})
        self.request("POST", "/checkout/delivery", {"csrf_token": csrf, "delivery": "standard",
                                                    "payment": self.payment})
        _, review, _ = self.request("GET", "/checkout/review")
        fields = dict(re.findall(r'name="(token|fingerprint)" value="([^"]+)"', review))
        if len(fields) < 2:
            return
        status, _, took = self.request("POST", "/checkout/place-order",
                                       {"csrf_token": csrf, "accept_terms": "y", **fields})
        timings["place order"].append((took, status))


def _shop(port: int, slugs: list[str], deadline: float, seed: int) -> dict:
    """One buyer's loop, in a process of its own so buyers do not share a GIL."""
    timings = {"add to cart": [], "place order": []}
    buyer, rng = Buyer(port), random.Random(seed)
    while time.time() < deadline:
        buyer.buy(rng.choice(slugs), timings)
    return timings


def checkout_load(port: int, slugs: list[str], duration: int, buyers: int = 8) -> dict:
    deadline = time.time() + duration
    with multiprocessing.Pool(buyers) as pool:
        runs = pool.starmap(_shop, [(port, slugs, deadline, n) for n in range(buyers)])
    timings = {name: [sample for run in runs for sample in run[name]] for name in runs[0]}
    results = {}
    for name, samples in timings.items():
        times = sorted(t for t, _ in samples)
        errors = sum(1 for _, status in samples if status >= 500)
        results[name] = {
            "rps": len(times) / duration,
            "p50": 1000 * times[len(times) // 2] if times else 0,
            "p99": 1000 * times[min(len(times) - 1, int(len(times) * 0.99))] if times else 0,
            "errors": errors,
        }
    return results


def page_weight(url: str) -> str:
    html = urllib.request.urlopen(f"{url}/products").read()
    scripts = re.findall(rb'<script src="([^"]+)"', html)
    js = sum(len(gzip.compress(urllib.request.urlopen(f"{url}{s.decode()}").read())) for s in scripts)
    return (f"listing HTML {len(html) / 1024:.1f} KB ({len(gzip.compress(html)) / 1024:.1f} KB gzipped), "
            f"JavaScript {js / 1024:.1f} KB gzipped")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--duration", type=int, default=10, help="seconds per page")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    for count in args.products:
        path = ROOT / "data" / f"bench-{count}.sqlite3"
        media_dir = ROOT / "data" / "bench-media"
        if args.rebuild or not path.exists():
            print(f"Building a catalogue of {count:,} products …", file=sys.stderr)
            build_catalogue(path, media_dir, count)
        paths = sample_paths(path, random.Random(1))
        port = free_port()
        process = serve(path, media_dir, port)
        url = f"http://127.0.0.1:{port}"
        try:
            print(f"\n{count:,} products, uvicorn 2 workers, wrk {args.connections} connections, "
                  f"{args.duration}s per page")
            print(page_weight(url))
            print("| page | requests/s | p50 ms | p99 ms | errors |")
            print("| --- | ---: | ---: | ---: | ---: |")
            for name, urls in paths.items():
                r = wrk(url, urls, args.duration, args.connections)
                print(f"| {name} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['errors']} |",
                      flush=True)
            slugs = [p.split("/")[-1] for p in paths["product page"]]
            for name, r in checkout_load(port, slugs, args.duration).items():
                print(f"| {name} (8 buyers) | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | "
                      f"{r['errors']} |", flush=True)
        finally:
            process.terminate()
            process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
