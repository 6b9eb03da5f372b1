"""The demo tells the whole story with one command: its own mail delivery, the outbox as
pages, a demo admin; commands next to it say which database they use."""
from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from shop import cli
from shop.accounts.models import User
from shop.db import db, with_connection
from shop.mail.models import OutboxMessage
from shop.orders.models import Order
from tests.conftest import Shopper, migrated_app
from tests.test_accounts import register


@pytest.fixture
def settings(settings, tmp_path):
    """The demo's: DEBUG on, mail into a folder of this test's."""
    return replace(settings, debug=True, mail=replace(settings.mail, outbox_dir=tmp_path / "outbox"))


def test_the_outbox_pages_show_each_mail_with_its_links(client, shopper, database):
    register(shopper, email="lea@example.org")
    page = client.get("/dev/mail")
    assert page.status_code == 200 and "Bitte bestätigen Sie Ihre E-Mail-Adresse" in page.text
    assert "lea@example.org" in page.text and "wartet" in page.text
    message_id = OutboxMessage.get().id
    message = client.get(f"/dev/mail/{message_id}").text
    link = re.search(r'<a href="(http://127\.0\.0\.1:8000/account/verify\?token=[^"]+)"', message)
    assert link, "the confirmation link can be clicked"
    html = client.get(f"/dev/mail/{message_id}/html")
    assert html.headers["content-type"].startswith("text/html") and "sandbox" in html.headers["content-security-policy"]
    eml = client.get(f"/dev/mail/{message_id}.eml")
    assert eml.headers["content-type"] == "message/rfc822" and b"Subject:" in eml.content
    assert client.get("/dev/mail/999999").status_code == 404


def test_without_debug_there_is_no_outbox_page(settings):
    with TestClient(migrated_app(replace(settings, debug=False))) as client:
        assert client.get("/dev/mail").status_code == 404
    db.close_all()


def test_the_demo_delivers_its_own_mail(settings):
    app = migrated_app(replace(settings, worker_in_process=0.1))
    with TestClient(app, follow_redirects=False) as client:  # runs the lifespan: the worker rounds
        register(Shopper(client))
        deadline = time.monotonic() + 10
        while not with_connection(lambda: OutboxMessage.get().sent_at) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert with_connection(lambda: OutboxMessage.get().sent_at) is not None
    assert len(list(settings.mail.outbox_dir.glob("*.eml"))) == 1
    db.close_all()


def test_the_demo_makes_an_admin_with_a_password_for_this_run(settings, tmp_path, monkeypatch, database):
    monkeypatch.setattr(cli, "DEMO_CSV_DIR", tmp_path)  # an empty catalogue is enough here
    for name in ("categories.csv", "products.csv"):
        (tmp_path / name).write_text("slug,name\n" if name == "categories.csv" else
                                     "sku,name,category,price\n")
    password = cli.build_demo(settings)
    admin = with_connection(User.get, User.email == cli.DEMO_ADMIN)
    assert admin.is_admin and admin.verified
    banner = cli.demo_banner(replace(settings, base_url="http://127.0.0.1:8000"), password)
    assert "http://127.0.0.1:8000/admin/" in banner and cli.DEMO_ADMIN in banner and password in banner
    assert "http://127.0.0.1:8000/dev/mail" in banner


def test_a_command_without_a_needed_setting_says_so_in_one_line(monkeypatch, capsys):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DEBUG", raising=False)
    monkeypatch.chdir("/")  # no .env file here
    assert cli.main(["worker", "--once"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("shop worker: SECRET_KEY must be set (in the environment or a .env file)")
    assert len(error.splitlines()) == 1
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.setenv("SMTP_PORT", "fünfhundert")
    assert cli.main(["worker", "--once"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("shop worker: Config 'SMTP_PORT'")
    monkeypatch.delenv("SMTP_PORT")
    monkeypatch.setenv("DATABASE_URL", "mysql://somewhere/shop")
    assert cli.main(["migrate"]) == 2
    assert "DATABASE_URL" in capsys.readouterr().err


def test_commands_say_which_database_they_use_and_reach_the_demo_with_demo(settings, monkeypatch, capsys,
                                                                          database):
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("DEMO_DATABASE_URL", settings.database_url)
    for name in ("DATABASE_URL", "BASE_URL"):  # absent, and absent again after the command set them
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("ADMIN_PASSWORD", "ein sehr sicheres passwort")
    assert cli.main(["create-admin", "--demo", "chefin@example.org"]) == 0
    assert f"Database: {settings.database_url}" in capsys.readouterr().err
    assert with_connection(User.get, User.email == "chefin@example.org").is_admin


def test_mail_from_a_command_next_to_the_demo_links_to_where_the_demo_serves(
        settings, shopper, make_product, monkeypatch, tmp_path, database):
    shopper.buy(make_product("Tee"))
    number = with_connection(lambda: Order.get().number)
    monkeypatch.setattr(cli, "DATA_DIR", tmp_path)
    cli.demo_notes(settings.database_url).write_text('{"base_url": "http://127.0.0.1:8200"}')
    for name, value in {"SECRET_KEY": settings.secret_key, "DEMO_DATABASE_URL": settings.database_url}.items():
        monkeypatch.setenv(name, value)
    for name in ("DATABASE_URL", "BASE_URL"):  # absent, and absent again after the command set them
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    assert cli.main(["order", "--demo", number, "paid"]) == 0
    mail = with_connection(lambda: OutboxMessage.select().order_by(OutboxMessage.id.desc()).get().message)
    assert f"http://127.0.0.1:8200/orders/{number}" in mail.replace("=\r\n", "")


def test_the_demo_has_weeks_of_orders_for_the_back_office(settings, demo):
    from shop.demo import add_demo_orders
    from shop.orders.models import Payment

    assert add_demo_orders(settings) == 40
    states = {o.status for o in Order.select()}
    assert {"awaiting_payment", "shipped", "delivered"} <= states
    oldest, newest = Order.select().order_by(Order.placed_at).first(), Order.select().order_by(Order.placed_at.desc()).first()
    assert (newest.placed_at - oldest.placed_at).days >= 20
    assert Payment.select().count() == Order.select().where(Order.payment_status != "unpaid").count()
    assert not OutboxMessage.select().where(OutboxMessage.sent_at.is_null()).exists()  # history, sent back then
    # The worker's first round finds no transfer to remind or cancel: a visitor set off nothing.
    from shop.payments.transfer_deadlines import remind_and_cancel
    assert remind_and_cancel(settings) == {"reminded": 0, "cancelled": 0}
    shipped = Order.select().where(Order.status == "shipped").first()
    assert shipped.tracking_number and OutboxMessage.select().where(
        (OutboxMessage.order_id == shipped.id) & (OutboxMessage.kind == "order_shipped")).exists()
