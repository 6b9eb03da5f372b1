"""What paying online costs: card orders against bank-transfer orders, and Stripe's
events against add to cart, in one run on one machine.

    python bench/payments.py                  # 20 s per phase
    python bench/payments.py --duration 10

Serves a 1,000-product catalogue with `shop serve --workers 2`, pointed at the Stripe
stand-in (shop/payments/standin_stripe.py), which this process serves and which answers
at once. Then, each phase on a fresh copy of the database:

1. 8 buyers check out over and over, paying by bank transfer; then the same paying by
   card (placing the order creates the Checkout Session and redirects to it). Printed:
   place-order requests/s, p50 and p99, and the card/transfer ratio of p50 (goal: ≤ 1.5).
2. 8 clients add to cart as fast as the shop answers: requests/s.
3. Every card order of phase 1 is paid at the stand-in; its signed events are sent to
   the webhook by 8 clients: events/s (goal: at least add to cart's requests/s).
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing
import random
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import Buyer, build_catalogue, free_port, serve  # noqa: E402
from shop.payments.standin_stripe import StripeStandIn  # noqa: E402
from tests.standins import served  # noqa: E402

KEY, SECRET = "sk_test_bench", "whsec_bench"
CATALOGUE = ROOT / "data" / "bench-payments.sqlite3"
MEDIA = ROOT / "data" / "bench-media"


def fresh_copy(name: str) -> Path:
    copy = ROOT / "data" / f"bench-payments-{name}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copy(CATALOGUE, copy)
    return copy


def _buyer(port: int, payment: str, slugs: list[str], deadline: float, seed: int) -> tuple[list, list]:
    timings: dict = {"add to cart": [], "place order": []}
    buyer, rng, sessions = Buyer(port, payment), random.Random(seed), []
    while time.time() < deadline:
        buyer.buy(rng.choice(slugs), timings)
        if payment == "stripe" and "/pay/" in buyer.location:
            sessions.append(buyer.location.rsplit("/", 1)[1])
    return timings["place order"], sessions


def place_orders(port: int, payment: str, slugs: list[str], duration: int) -> tuple[dict, list[str]]:
    deadline = time.time() + duration
    with multiprocessing.Pool(8) as pool:
        runs = pool.starmap(_buyer, [(port, payment, slugs, deadline, n) for n in range(8)])
    samples = [sample for run, _ in runs for sample in run]
    return summary(samples, duration), [session for _, sessions in runs for session in sessions]


def _adder(port: int, slugs: list[str], deadline: float, seed: int) -> list:
    """Add to cart as fast as the shop answers: each product once per cart, a new
    shopper (cart) every 40 adds."""
    buyer, samples, ids = Buyer(port), [], []
    for slug in slugs[:40]:
        _, page, _ = buyer.request("GET", f"/products/{slug}")
        found = re.search(r'name="product_id" value="(\d+)"', page)
        if found:
            ids.append(found.group(1))
    random.Random(seed).shuffle(ids)
    while time.time() < deadline:
        buyer = Buyer(port)
        _, page, _ = buyer.request("GET", f"/products/{slugs[0]}")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        for product_id in ids:
            status, _, took = buyer.request("POST", "/cart/items",
                                            {"csrf_token": csrf, "product_id": product_id, "quantity": "1"})
            samples.append((took, status))
    return samples


def _sender(port: int, events: list[tuple[str, str]], start_at: float) -> tuple[list, float]:
    """Send `events` one after another from `start_at` on; the samples and when done."""
    connection, samples = http.client.HTTPConnection("127.0.0.1", port, timeout=30), []
    time.sleep(max(0.0, start_at - time.time()))
    for body, signature in events:
        started = time.perf_counter()
        connection.request("POST", "/payments/stripe/webhook", body=body.encode(),
                           headers={"Content-Type": "application/json", "Stripe-Signature": signature})
        response = connection.getresponse()
        response.read()
        samples.append((time.perf_counter() - started, response.status))
    return samples, time.time()


def summary(samples: list, duration: float) -> dict:
    times = sorted(t for t, _ in samples)
    return {"rps": len(times) / duration, "count": len(times),
            "p50": 1000 * times[len(times) // 2] if times else 0,
            "p99": 1000 * times[min(len(times) - 1, int(len(times) * 0.99))] if times else 0,
            "errors": sum(1 for _, status in samples if status >= 400)}


def row(name: str, r: dict) -> str:
    return f"| {name} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['errors']} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20, help="seconds per phase")
    args = parser.parse_args()
    if not CATALOGUE.exists():
        build_catalogue(CATALOGUE, MEDIA, 1000)
    import sqlite3

    slugs = [slug for (slug,) in sqlite3.connect(CATALOGUE).execute(
        "SELECT slug FROM product WHERE active AND stock > 0 LIMIT 200")]
    stripe = StripeStandIn(KEY, SECRET, deliver=False)
    results = {}
    with served(stripe.app) as stripe_url:
        stripe.base_url = stripe_url
        for payment in ("prepayment", "stripe"):
            port = free_port()
            shop = serve(fresh_copy(payment), MEDIA, port, STRIPE_SECRET_KEY=KEY, STRIPE_WEBHOOK_SECRET=SECRET,
                         STRIPE_API_BASE=stripe_url, BASE_URL=f"http://127.0.0.1:{port}")
            try:
                results[payment], sessions = place_orders(port, payment, slugs, args.duration)
                if payment == "stripe":
                    results["add to cart"] = summary(
                        [s for run in multiprocessing.Pool(8).starmap(
                            _adder, [(port, slugs, time.time() + args.duration, n) for n in range(8)]) for s in run],
                        args.duration)
                    for session in sessions:
                        stripe.pay(session)
                    events = stripe.outbox[:]
                    with multiprocessing.Pool(8) as pool:  # started before the clock runs
                        start_at = time.time() + 1
                        runs = pool.starmap(_sender, [(port, events[n::8], start_at) for n in range(8)])
                    results["webhook events"] = summary([s for run, _ in runs for s in run],
                                                        max(done for _, done in runs) - start_at)
            finally:
                shop.terminate()
                shop.wait(timeout=10)
    print(f"\nuvicorn 2 workers, 8 clients, {args.duration} s per phase, Stripe stand-in answering at once")
    print("| what | per second | p50 ms | p99 ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(row("place order, bank transfer", results["prepayment"]))
    print(row("place order, card (Stripe Checkout)", results["stripe"]))
    print(row("add to cart", results["add to cart"]))
    print(row(f"webhook events ({results['webhook events']['count']} checkout.session.completed)",
              results["webhook events"]))
    ratio = results["stripe"]["p50"] / results["prepayment"]["p50"]
    events = results["webhook events"]["rps"] / results["add to cart"]["rps"]
    print(f"\ncard order p50 / transfer order p50: {ratio:.2f} (goal ≤ 1.5); "
          f"webhook events/s / add to cart/s: {events:.2f} (goal ≥ 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
