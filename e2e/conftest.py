"""Browser journeys against the real shop: uvicorn on a free port, a fresh demo
database, Chromium (Debian's where installed) with JavaScript on and off."""
from __future__ import annotations

import contextlib
import email
import itertools
import os
import socket
import subprocess
import sys
import time
import urllib.request
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import expect, sync_playwright

SYSTEM_CHROMIUM = "/usr/bin/chromium"
expect.set_options(timeout=10_000)  # a busy CI machine is slower than a laptop
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
# Console noise that is no fault: Chromium reports every 4xx answer, and htmx
# logs a request that a newer one replaced (hx-sync) as aborted.
EXPECTED_CONSOLE = ("Failed to load resource: the server responded with a status of 4",
                    "htmx:sendAbort", "htmx:afterRequest")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the shop exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the shop did not become healthy")


@pytest.fixture(scope="session")
def shop_env(tmp_path_factory) -> dict:
    """The environment the shop runs in: its database, media, uploaded files and secret."""
    data = tmp_path_factory.mktemp("shop")
    # The browser stands behind a "proxy" (itself) that names a client address of its
    # own per test, so per-client rate limits count each journey apart.
    # Mail is delivered by the journeys themselves (run_worker, to a real SMTP inbox), not
    # by the demo's own worker rounds.
    env = dict(os.environ, DEBUG="1", SECRET_KEY="e2e-secret", MEDIA_DIR=str(data / "media"),
               IMPORT_DIR=str(data / "imports"), TRUSTED_PROXIES="127.0.0.1", WORKER_IN_PROCESS="0")
    env.pop("SMTP_HOST", None)
    env.pop("BASE_URL", None)  # the shop serves where it listens (and its demo providers with it)
    if env.get("DATABASE_URL", "").startswith("postgres"):
        env["DEMO_DATABASE_URL"] = env["DATABASE_URL"]
        subprocess.run([sys.executable, "-c", "import os; from shop.db import connect, "
                        "reset_postgres_schema; connect(os.environ['DATABASE_URL']); reset_postgres_schema()"],
                       env=env, check=True)
    else:
        env["DEMO_DATABASE_URL"] = f"sqlite:///{data / 'demo.sqlite3'}"
    env["DATABASE_URL"] = env["DEMO_DATABASE_URL"]
    env["E2E_DATA_DIR"] = str(data)
    return env


@pytest.fixture(scope="session")
def base_url(shop_env):
    """The shop serving the demo catalogue on a fresh database."""
    env, data = shop_env, Path(shop_env["E2E_DATA_DIR"])
    port = _free_port()
    log = (data / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "shop", "serve", "--demo", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        options = {"args": CHROMIUM_FLAGS}
        if Path(SYSTEM_CHROMIUM).exists():
            options["executable_path"] = SYSTEM_CHROMIUM
        browser = playwright.chromium.launch(**options)
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def javascript(request) -> bool:
    return request.param


_client_numbers = itertools.count(1)


def client_address() -> str:
    """A client address of its own for each browser context (see shop_env)."""
    n = next(_client_numbers)
    return f"198.51.{n // 250}.{n % 250 + 1}"


@contextlib.contextmanager
def watched_page(request, browser, base_url, **options):
    """A page in a fresh German browser context with a client address of its own; console
    errors fail the test, and a failed test leaves a screenshot in e2e/screenshots/."""
    context = browser.new_context(base_url=base_url, locale="de-DE",
                                  extra_http_headers={"X-Forwarded-For": client_address()}, **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.text.startswith(EXPECTED_CONSOLE) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"browser console errors: {errors}"


@pytest.fixture
def page(request, browser, base_url, javascript):
    with watched_page(request, browser, base_url, java_script_enabled=javascript,
                      viewport={"width": 1280, "height": 900}) as page:
        yield page


def fill_address(page, email: str, name: str, street: str, postcode: str, city: str) -> None:
    """Fill the checkout's address step, as a shopper types it."""
    page.get_by_label("E-Mail-Adresse").fill(email)
    billing = page.get_by_role("group", name="Rechnungsadresse")
    billing.get_by_label("Vor- und Nachname").fill(name)
    billing.get_by_label("Straße und Hausnummer").fill(street)
    billing.get_by_label("Postleitzahl").fill(postcode)
    billing.get_by_label("Ort").fill(city)
    page.get_by_role("button", name="Weiter zu Versand und Zahlung").click()


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def inbox():
    """A real SMTP server that keeps what it receives."""
    port = _free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()


def run_worker(shop_env: dict, inbox: Inbox) -> None:
    env = dict(shop_env, SMTP_HOST="127.0.0.1", SMTP_PORT=str(inbox.port), SMTP_STARTTLS="0")
    subprocess.run([sys.executable, "-m", "shop", "worker", "--once"], env=env, check=True)
