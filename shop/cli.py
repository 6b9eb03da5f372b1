"""`python -m shop COMMAND` (also installed as `shop`)."""
from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

from peewee import OperationalError

from shop.config import DATA_DIR, ConfigError, Settings
from shop.orders.carriers import CARRIERS
from shop.payments import demo_providers

DEMO_CSV_DIR = DATA_DIR / "csv"
DEMO_DATABASE = DATA_DIR / "demo.sqlite3"
DEMO_ADMIN = "admin@kiezkaufhaus.example"
DEMO_MAIL_ROUNDS = 3.0  # seconds between the demo's own worker rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shop", description="Run and manage the shop.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, then serve the shop with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true",
                       help="serve a fresh demo database (DEMO_DATABASE_URL, default data/demo.sqlite3)")

    migrate = commands.add_parser("migrate", help="apply pending database migrations")

    import_csv = commands.add_parser("import-csv", help="import a categories or products CSV file")
    import_csv.add_argument("file", type=Path)

    worker = commands.add_parser("worker", help="deliver the mail outbox and run the scheduled jobs")
    worker.add_argument("--once", action="store_true", help="one round, then exit")
    worker.add_argument("--interval", type=float, default=5.0, help="seconds between rounds")

    admin = commands.add_parser("create-admin", help="create an admin account (or make one an admin)")
    admin.add_argument("email")
    admin.add_argument("--name", default="Admin")

    order = commands.add_parser("order", help="move an order to a new state (sends its mail)")
    order.add_argument("number")
    order.add_argument("status", choices=["paid", "shipped", "delivered", "cancelled", "refunded"])
    order.add_argument("--carrier", default="", type=str.lower, choices=["", *CARRIERS],
                       help="the parcel service (its tracking page is linked in the mail)")
    order.add_argument("--tracking", default="", help="the tracking number")
    order.add_argument("--note", default="")

    audit_verify = commands.add_parser(
        "audit-verify", help="check that no entry of the audit trail was changed or removed (exit 1 if so)")

    for command in (migrate, import_csv, worker, admin, order, audit_verify):
        command.add_argument("--demo", action="store_true",
                             help="work on the demo database, the one `serve --demo` runs on")

    args = parser.parse_args(argv)
    run = {"serve": cmd_serve, "migrate": cmd_migrate, "import-csv": cmd_import_csv,
           "worker": cmd_worker, "order": cmd_order, "create-admin": cmd_create_admin,
           "audit-verify": cmd_audit_verify}[args.command]
    try:
        return run(args)
    except ConfigError as problem:
        demo = " Next to the demo, add --demo." if args.command != "serve" and not getattr(
            args, "demo", False) and DEMO_DATABASE.exists() else ""
        print(f"shop {args.command}: {problem}{demo}", file=sys.stderr)
        return 2
    except OperationalError as problem:  # the database is not there or not reachable
        print(f"shop {args.command}: cannot use the database: {str(problem).strip().splitlines()[0]}",
              file=sys.stderr)
        return 2


def _settings(args=None) -> Settings:
    """The settings from the environment (and `.env`); with `--demo`, the demo's database.
    Says which database a command works on, so none silently misses the demo's."""
    if args is not None and getattr(args, "demo", False):
        os.environ["DATABASE_URL"] = demo_database_url()
        notes = demo_notes(os.environ["DATABASE_URL"])
        if notes.exists():  # links in mail point where the demo serves
            os.environ.setdefault("BASE_URL", json.loads(notes.read_text())["base_url"])
        os.environ.setdefault("DEBUG", "1")
    settings = Settings.from_environ(Path.cwd() / ".env")
    if args is not None and args.command != "serve":
        print(f"Database: {_shown(settings.database_url)}", file=sys.stderr)
        if not args.demo and "DATABASE_URL" not in os.environ and DEMO_DATABASE.exists():
            print("(The demo runs on its own database: add --demo to work on it.)", file=sys.stderr)
    return settings


def demo_database_url() -> str:
    return os.environ.get("DEMO_DATABASE_URL", f"sqlite:///{DEMO_DATABASE}")


def demo_notes(database_url: str) -> Path:
    """Where the running demo notes its address, for commands run next to it: beside its
    SQLite file (so each demo database has its own), else in data/."""
    if database_url.startswith("sqlite:///"):
        return Path(database_url.removeprefix("sqlite:///") + ".json")
    return DATA_DIR / "demo.json"


def _shown(url: str) -> str:
    """A database URL without its password."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def cmd_migrate(args) -> int:
    from shop.db import connect, migrate

    connect(_settings(args).database_url)
    applied = migrate()
    print(f"Applied {len(applied)} migration(s)." + (f" ({', '.join(applied)})" if applied else ""))
    return 0


def cmd_import_csv(args) -> int:
    from shop.catalog.importer import ImportFailed, import_csv
    from shop.db import connect, migrate, with_connection

    settings = _settings(args)
    connect(settings.database_url)
    migrate()
    try:
        result = with_connection(import_csv, args.file, settings.media_dir, _print_progress)
    except FileNotFoundError:
        print(f"No such file: {args.file}", file=sys.stderr)
        return 2
    except ImportFailed as failure:
        print(f"\nNothing was imported; {len(failure.errors)} problem(s):", file=sys.stderr)
        for error in failure.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    print(f"\n{result.kind}: {result.created} created, {result.updated} updated, "
          f"{result.unchanged} unchanged.")
    return 0


def cmd_worker(args) -> int:
    from shop import worker
    from shop.app import create_app

    settings = _settings(args)
    create_app(settings)  # connects, and sets up the templates mail is written with

    def report(results: dict) -> None:
        mail = results.get("mail")
        if isinstance(mail, tuple) and any(mail):
            print(f"mail: {mail[0]} sent, {mail[1]} not sent", flush=True)

    worker.run(settings, interval=args.interval, once=args.once, report=report)
    return 0


def cmd_create_admin(args) -> int:
    """The password comes from ADMIN_PASSWORD or, interactively, a prompt."""
    from shop.accounts import passwords, service
    from shop.db import connect, migrate, with_connection

    password = os.environ.get("ADMIN_PASSWORD") or getpass.getpass("Password: ")
    if problem := passwords.problem(password, args.email):
        print(problem, file=sys.stderr)
        return 1
    settings = _settings(args)
    connect(settings.database_url)
    migrate()
    existed = with_connection(service.User.select().where(service.User.email == service.normalize(args.email)).exists)
    user = with_connection(service.create_admin, args.email, password, args.name)
    if existed:
        print(f"{user.email} already had an account: it is an admin now, with the new password; "
              "all its sessions have ended.")
    else:
        print(f"{user.email} is an admin.")
    return 0


def cmd_order(args) -> int:
    from shop.app import create_app
    from shop.db import with_connection
    from shop.orders.models import Order
    from shop.orders.service import IllegalTransition, transition

    settings = _settings(args)
    create_app(settings)  # connects, and sets up the templates mail is written with
    order = with_connection(Order.get_or_none, Order.number == args.number)
    if order is None:
        print(f"No order {args.number}.", file=sys.stderr)
        return 2
    try:
        order = with_connection(transition, settings, order, args.status, actor="cli", note=args.note,
                                carrier=args.carrier, tracking_number=args.tracking)
    except IllegalTransition as refused:
        print(f"Refused: {refused}", file=sys.stderr)
        return 1
    print(f"{order.number}: {order.status}")
    return 0


def cmd_audit_verify(args) -> int:
    """Walk the audit trail's hash chain; name the first entry changed or removed."""
    from shop.audit import chain
    from shop.db import connect, migrate, with_connection

    connect(_settings(args).database_url)
    migrate()
    verdict = with_connection(chain.verify)
    if verdict.problem is None:
        print(f"The audit trail is whole: {verdict.checked} entries checked"
              + (f", the last is entry {verdict.last_id} with the hash {verdict.last_hash}."
                 if verdict.checked else "."))
        return 0
    span = (f"Entry {verdict.entry_id}" if verdict.until in (None, verdict.entry_id)
            else f"Entries {verdict.entry_id} to {verdict.until}")
    found = ""
    if verdict.found:
        at, who, action, object_type, object_id = verdict.found
        when = chain.canonical_time(at)[:19].replace("T", " ")
        found = f" (now: {when} UTC, {who}, {action} {object_type} {object_id})"
    print({
        chain.CHANGED: f"Entry {verdict.entry_id}{found} was changed after it was written.",
        chain.REMOVED: f"{span} {'was' if span.startswith('Entry ') else 'were'} removed.",
        chain.UNCHAINED: f"Entry {verdict.entry_id}{found} was not written by the shop: it has no hash.",
        chain.ADDED: f"{span} {'was' if span.startswith('Entry ') else 'were'} added behind the shop's back.",
        chain.NO_HEAD: "The head of the audit trail (the table audit_chain) is missing.",
    }[verdict.problem], file=sys.stderr)
    if verdict.checked:
        print(f"The {verdict.checked} entries up to entry {verdict.last_id} are whole.", file=sys.stderr)
    return 1


def cmd_serve(args) -> int:
    import uvicorn

    # Without a configured address, links in mail point to where this server listens.
    os.environ.setdefault("BASE_URL", f"http://{args.host}:{args.port}")
    if args.demo:
        # The demo gets a database of its own (DATABASE_URL may name real data), shows its
        # outbox at /dev/mail and delivers its mail itself.
        os.environ.setdefault("DEBUG", "1")
        os.environ["DATABASE_URL"] = demo_database_url()
        os.environ.setdefault("WORKER_IN_PROCESS", str(DEMO_MAIL_ROUNDS))
        if not os.environ.get("STRIPE_SECRET_KEY"):  # test payments on the demo's own stand-ins
            os.environ.update(demo_providers.environment(os.environ["BASE_URL"]))
    settings = _settings()
    from shop.db import connect, migrate

    if args.demo:
        admin_password = build_demo(settings)
        demo_notes(settings.database_url).write_text(json.dumps({"base_url": settings.base_url}))
        print(demo_banner(settings, admin_password), flush=True)
    else:
        connect(settings.database_url)
        migrate()
        print(f"Serving the shop at {settings.base_url}", flush=True)
    uvicorn.run(
        "shop.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=False,  # the shop reads forwarded headers itself (TRUSTED_PROXIES)
        log_level="warning",
    )
    return 0


def build_demo(settings: Settings) -> str:
    """A fresh database holding the demo catalogue (SQLite: the file is recreated), a
    demo admin and some weeks of orders; returns the admin's password, made for this run."""
    from shop.accounts import passwords
    from shop.accounts.service import create_admin
    from shop.catalog.importer import import_csv
    from shop.catalog.models import Product
    from shop.db import connect, is_sqlite, migrate, with_connection
    from shop.app import create_app
    from shop.demo import add_demo_orders

    url = settings.database_url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    connect(url, settings.database_wait_seconds)
    migrate()
    if not is_sqlite() and with_connection(Product.select().exists):
        raise SystemExit("The database already holds products; --demo needs an empty one.")
    for name in ("categories.csv", "products.csv"):
        with_connection(import_csv, DEMO_CSV_DIR / name, settings.media_dir, _print_progress)
    print(file=sys.stderr)
    password = secrets.token_urlsafe(12)
    while passwords.problem(password, DEMO_ADMIN):
        password = secrets.token_urlsafe(12)
    with_connection(create_admin, DEMO_ADMIN, password, "Demo-Admin")
    create_app(settings)  # the orders' mails are rendered with the app's templates
    with_connection(add_demo_orders, settings)
    return password


def demo_banner(settings: Settings, admin_password: str) -> str:
    mail = (f"sent through {settings.mail.host}" if settings.mail.host else
            f"delivered every few seconds as .eml files into {settings.mail.outbox_dir}")
    return "\n".join([
        f"The demo shop runs at {settings.base_url}",
        f"  Back office: {settings.base_url}/admin/",
        f"    sign in as {DEMO_ADMIN} with the password {admin_password} (made for this run)",
        f"  Mail: {mail};",
        f"    read it at {settings.base_url}/dev/mail",
        *(["  Payments: card, direct debit and PayPal on test pages served by the demo itself"]
          if settings.demo_providers else []),
        "  Commands next to it: add --demo (e.g. `shop order --demo 2026-000040 paid`).",
    ])


def _print_progress(stage: str, done: int, total: int) -> None:
    if sys.stderr.isatty():
        print(f"\r{stage}: {done}/{total}", end="", file=sys.stderr, flush=True)
    else:
        print(f"{stage}: {done}/{total}", file=sys.stderr, flush=True)
