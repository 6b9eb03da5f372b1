"""Import speed: generated products through the back office's import, 10,000 and 100,000 rows.

    .venv/bin/python bench/import_speed.py                 # 10,000 and 100,000 rows
    .venv/bin/python bench/import_speed.py --sizes 2000 20000 --no-memory

Each size runs in a fresh process on a fresh SQLite database: it writes a categories
file and N products (semicolons, decimal commas, pictures named in the media folder, as
the export writes them), imports the categories, then runs the products file the way
the worker does for an upload: take it in (copy, UTF-8 check, count), check (the
preview), apply (with an audit entry per product). Then the same file again with every
price and stock changed (N updates). Last, the export (streamed a thousand at a time),
checked again: every row unchanged. It prints the seconds of each step, the time ratio
of the largest size to the smallest, and the peak memory: Python's own allocations
(tracemalloc, in a second run of its own, since tracing slows Python down) and the
process's peak resident size (which also holds SQLite's page cache and mapped pages).
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shop.audit.service import Actor  # noqa: E402
from shop.catalog import import_jobs  # noqa: E402
from shop.catalog.importer import (  # noqa: E402
    CATEGORY_HEADER, PRODUCT_HEADER, Images, check, export_header, export_products, import_csv, open_csv,
)
from shop.catalog.models import ImportJob, Product  # noqa: E402
from shop.config import Settings  # noqa: E402
from shop.db import connect, db, migrate  # noqa: E402

TOPS = ["kueche", "garten", "buero", "bad", "sport", "wohnen", "spielzeug", "lebensmittel", "buecher"]
WORDS = ["Klassisch", "Robust", "Handgemacht", "Nachhaltig", "Kompakt", "Edel", "Praktisch", "Rustikal",
         "Holz", "Glas", "Edelstahl", "Keramik", "Baumwolle", "Leinen", "Bambus", "Kerze", "Vase", "Becher"]
PICTURES = 10


def write_catalogue(folder: Path, media: Path, rows: int, version: int) -> tuple[Path, Path]:
    """A categories file and a products file of `rows` rows; `version` changes every
    price and stock."""
    rng = random.Random(rows)
    categories = folder / "categories.csv"
    leaves = []
    with categories.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(CATEGORY_HEADER)
        for i, top in enumerate(TOPS):
            writer.writerow([top, top.title(), "", i, f"Alles rund um {top}.", 1])
            for j in range(4):
                leaves.append(f"{top}-{j}")
                writer.writerow([f"{top}-{j}", f"{top.title()} {j}", top, j, "", 1])
    (media / "products").mkdir(parents=True, exist_ok=True)
    for n in range(PICTURES):
        (media / "products" / f"bild-{n}.webp").write_bytes(b"RIFF\x00\x00\x00\x00WEBP")
    products = folder / f"products-{version}.csv"
    with products.open("w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(PRODUCT_HEADER)
        for n in range(rows):
            name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {n}"
            cents = rng.randrange(100, 50_000) + version
            quantity, unit = rng.choice((("", ""), ("250", "g"), ("0,5", "l")))
            row = {
                "sku": f"B-{n:07d}", "slug": "", "name": name,
                "description": f"{name}: {' '.join(rng.choices(WORDS, k=30))}.",
                "category": rng.choice(leaves), "price": f"{cents // 100},{cents % 100:02d}",
                "vat_rate": rng.choice((19, 7)), "stock": rng.randrange(0, 500) + version, "active": 1,
                "content_quantity": quantity, "content_unit": unit,
                "manufacturer": "Beispiel GmbH, Musterweg 1, 10115 Berlin", "responsible_person": "",
                "product_identifier": "", "warnings": "",
                "image": f"products/bild-{n % PICTURES}.webp", "featured": int(n % 50 == 0),
                "ean": ean13(n), "low_stock_threshold": "",
            }
            writer.writerow([row[column] for column in PRODUCT_HEADER])
    return categories, products


def ean13(n: int) -> str:
    """A valid EAN-13 (German prefix 400) for product number n."""
    digits = f"400{n:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str(-total % 10)


def one_size(rows: int, memory: bool) -> dict:
    """Run in a child process: the import of `rows` products, timed."""
    folder = Path(tempfile.mkdtemp(prefix=f"import-speed-{rows}-"))
    media = folder / "media"
    settings = Settings(database_url=f"sqlite:///{folder / 'shop.sqlite3'}", secret_key="bench",
                        media_dir=media, import_dir=folder / "imports", import_background_rows=0)
    connect(settings.database_url)
    migrate()
    categories, first = write_catalogue(folder, media, rows, version=0)
    _categories, second = write_catalogue(folder, media, rows, version=1)
    actor = Actor(email="bench@example.org")
    times: dict[str, float] = {}
    if memory:
        tracemalloc.start()
    with db.connection_context():
        import_csv(categories, media)
        for run, path in (("create", first), ("update", second)):
            start, cpu = time.perf_counter(), time.process_time()
            with path.open("rb") as source:
                job = import_jobs.receive(settings, source, path.name, actor.email)
            taken = time.perf_counter()
            import_jobs.run_pending(settings)  # the check
            checked = time.perf_counter()
            assert ImportJob.get_by_id(job.id).state == "ready", ImportJob.get_by_id(job.id).errors
            import_jobs.request_apply(job.id, actor, settings)
            import_jobs.run_pending(settings)  # the import
            applied = time.perf_counter()
            finished = ImportJob.get_by_id(job.id)
            assert finished.state == "done", finished.errors
            times[f"{run} upload"] = taken - start
            times[f"{run} check"] = checked - taken
            times[f"{run} apply"] = applied - checked
            times[f"{run} total"] = applied - start
            times[f"{run} cpu"] = time.process_time() - cpu
        assert Product.select().count() == rows
        # The export, a thousand rows at a time as the download streams it; imported
        # again, it changes nothing.
        start = time.perf_counter()
        exported = folder / "export.csv"
        with exported.open("w", encoding="utf-8", newline="") as f:
            f.write(export_header("products", ";"))
            after: int | None = 0
            while after is not None:
                text, after = export_products(after, 1000, ";")
                f.write(text)
        times["export"] = time.perf_counter() - start
        start = time.perf_counter()
        preview = check(open_csv(exported), Images.in_media_folder(media), total=rows)
        times["export check"] = time.perf_counter() - start
        assert preview.counts["unchanged"] == rows and not preview.error_count, preview.as_json()
    peak = tracemalloc.get_traced_memory()[1] if memory else None
    db.close_all()
    shutil.rmtree(folder)
    return {"rows": rows, "times": times, "python_peak_mb": peak and peak / 2**20,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child(rows: int, memory: bool) -> dict:
    command = [sys.executable, __file__, "--child", str(rows)] + (["--memory-run"] if memory else [])
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--memory-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_size(args.child, args.memory_run)))
        return
    results = []
    for rows in args.sizes:
        result = child(rows, memory=False)
        if not args.no_memory:
            result["python_peak_mb"] = child(rows, memory=True)["python_peak_mb"]
        results.append(result)
        steps = "  ".join(f"{k} {v:.1f} s" for k, v in result["times"].items())
        print(f"{rows:>8,} rows: {steps}", flush=True)
    print()
    print("| rows | new products: upload + check + apply | CPU | rows/s | all changed: check + apply "
          "| CPU | rows/s | Python peak | peak RSS |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        t = r["times"]
        create, update = t["create total"], t["update total"]
        peak = f"{r['python_peak_mb']:.0f} MB" if r.get("python_peak_mb") else "–"
        print(f"| {r['rows']:,} | {t['create upload']:.1f} + {t['create check']:.1f} + {t['create apply']:.1f}"
              f" = {create:.1f} s | {t['create cpu']:.1f} s | {r['rows'] / create:,.0f} "
              f"| {t['update check']:.1f} + {t['update apply']:.1f} = {update:.1f} s | {t['update cpu']:.1f} s "
              f"| {r['rows'] / update:,.0f} | {peak} | {r['max_rss_mb']:.0f} MB |")
    if len(results) > 1:
        small, large = results[0], results[-1]
        factor = large["rows"] / small["rows"]
        for run in ("create", "update"):
            ratio = large["times"][f"{run} total"] / small["times"][f"{run} total"]
            cpu = large["times"][f"{run} cpu"] / small["times"][f"{run} cpu"]
            print(f"{run}: {large['rows']:,} rows take {ratio:.1f}× the time of {small['rows']:,} "
                  f"({cpu:.1f}× the CPU time; {factor:.0f}× the rows)")
    for r in results:
        print(f"export of {r['rows']:,} products: {r['times']['export']:.1f} s; checked again: "
              f"{r['times']['export check']:.1f} s, all unchanged")


if __name__ == "__main__":
    main()
