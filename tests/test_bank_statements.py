"""Bank statements in the back office (/admin/bank-statements): a CAMT.053 or CSV statement
is uploaded, its credits are matched to unpaid prepayment orders by number and amount, and
applying it pays the sure matches once, mailing each customer."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
from pathlib import Path

import pytest

from shop.audit.models import AuditEntry
from shop.i18n import SHOP_TIMEZONE
from shop.mail.models import OutboxMessage
from shop.orders import service
from shop.orders.bank_statements import BankCredit, BankStatement, StatementRefused, order_numbers, read
from shop.orders.models import AWAITING_PAYMENT, CANCELLED, PAID, Order, Payment
from tests.conftest import Shopper, sign_in_admin

DATA = Path(__file__).parent / "data"
YEAR = dt.datetime.now(SHOP_TIMEZONE).year


def sample(name: str) -> bytes:
    """A statement from tests/data, for this year's order numbers."""
    return (DATA / name).read_bytes().replace(b"{YEAR}", str(YEAR).encode()).replace(
        b"{YY}", str(YEAR % 100).encode())


def number(n: int) -> str:
    return f"{YEAR}-{n:06d}"


@pytest.fixture
def orders(shopper, make_product) -> list[Order]:
    """Three prepayment orders: 24,90 €, 49,90 € and 60,00 € (shipping free from 50 €)."""
    placed = []
    for price in (2000, 4500, 6000):
        assert shopper.buy(make_product(price_cents=price)).status_code == 303
        placed.append(Order.select().order_by(Order.id.desc()).first())
    assert [o.number for o in placed] == [number(1), number(2), number(3)]
    assert [o.total_cents for o in placed] == [2490, 4990, 6000]
    return placed


def upload(admin: Shopper, content: bytes, name: str = "auszug.xml", **kwargs):
    return admin.post("/admin/bank-statements", files={"file": (name, content, "application/octet-stream")},
                      **kwargs)


def uploaded(admin: Shopper, content: bytes, name: str = "auszug.xml") -> tuple[str, str]:
    response = upload(admin, content, name)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(r"/admin/bank-statements/\d+", location)
    return location, admin.client.get(location).text


def confirmation(html: str) -> dict:
    """The apply form's fields, as the page has them."""
    return {name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1) for name in ("key", "fingerprint")}


def apply(admin: Shopper, location: str, html: str, **kwargs):
    return admin.post(f"{location}/apply", confirmation(html), **kwargs)


def section(html: str, group: str) -> str:
    """The part of the page under one group's heading."""
    found = re.search(rf'<h3 id="bank-group-{group}">(.*?)(?=<h3 |</section>)', html, re.S)
    return found.group(1) if found else ""


def paid_mails(order: Order) -> int:
    return OutboxMessage.select().where((OutboxMessage.order_id == order.id)
                                        & (OutboxMessage.kind == "order_paid")).count()


def reload(order: Order) -> Order:
    return Order.get_by_id(order.id)


# -- the whole way ------------------------------------------------------------------------------

def test_camt_statement_pays_the_exact_transfer_and_lists_the_rest_for_a_person(admin, orders):
    location, html = uploaded(admin, sample("camt053_v02.xml"))
    assert "CAMT.053" in html and "DE02100100100006820101" in html
    sure = section(html, "sure")
    assert "Sichere Zuordnungen (1)" in html and number(1) in sure and "24,90" in sure
    assert f'href="/admin/orders/{number(1)}"' in sure
    partial = section(html, "partial")
    assert number(2) in partial and "Teilzahlungen (1)" in html and "-9,90" in partial
    excess = section(html, "excess")
    assert number(3) in excess and "1.234,56" in excess and "1.174,56" in excess
    human = section(html, "human")
    assert "Spende" in human and "keine Bestellnummer im Verwendungszweck" in human
    assert f"{YEAR}-999999" in human and "keine Bestellung mit dieser Nummer" in human
    assert "Miete" not in html  # a debit is no payment
    assert "2 Lastschriften oder vorgemerkte Buchungen nicht berücksichtigt" in html
    assert "1 Bestellung als bezahlt markieren" in html
    assert reload(orders[0]).status == AWAITING_PAYMENT  # the preview changes nothing

    response = apply(admin, location, html)
    assert response.status_code == 303 and response.headers["location"] == location
    page = admin.client.get(location).text
    assert "1 Bestellung als bezahlt markiert; die Kundin oder der Kunde wurde benachrichtigt." in page \
        or "1 Bestellung als bezahlt markiert" in page
    assert "Angewandt" in page
    first, second, third = (reload(o) for o in orders)
    assert (first.status, first.payment_status) == (PAID, PAID)
    assert second.status == third.status == AWAITING_PAYMENT
    payment = Payment.get(Payment.order == first.id)
    assert (payment.amount_cents, payment.provider, payment.provider_id) == (2490, "prepayment",
                                                                            "ref:2026013100001AB")
    assert "2026-" not in payment.reference or number(1) in payment.reference
    assert paid_mails(first) == 1 and paid_mails(orders[1]) == 0
    # Every credit is kept as imported, with what became of it.
    assert BankCredit.select().count() == 5
    assert BankCredit.get(BankCredit.identity == "ref:2026013100002AB").outcome == "partial"
    actions = {(e.action, e.object_type) for e in AuditEntry.select()}
    assert {("upload", "bank_statement"), ("apply", "bank_statement"), ("paid", "order")} <= actions


def test_the_same_statement_twice_pays_nothing_twice(admin, orders):
    location, html = uploaded(admin, sample("camt053_v02.xml"))
    assert apply(admin, location, html).status_code == 303
    again, html_again = uploaded(admin, sample("camt053_v02.xml"), "auszug-nochmal.xml")
    assert again != location
    assert "Bereits importiert (5)" in html_again and not section(html_again, "sure")
    assert "mit einem früheren Kontoauszug importiert: Bestellung bezahlt" in section(html_again, "already")
    assert "Kontoauszug als importiert vermerken" in html_again
    assert apply(admin, again, html_again).status_code == 303
    assert Payment.select().count() == 1 and paid_mails(orders[0]) == 1
    assert "0 Bestellungen als bezahlt markiert" in admin.client.get(again).text


def test_an_overlapping_csv_export_without_bank_references_pays_nothing_twice(admin, orders):
    location, html = uploaded(admin, sample("plain.csv"), "februar.csv")
    assert apply(admin, location, html).status_code == 303
    longer = sample("plain.csv") + f"{YEAR}-02-05,\"49,90\",Best. {number(2)},Bernd Kurz,\n".encode()
    location, html = uploaded(admin, longer, "februar-ganz.csv")
    assert "Bereits importiert (3)" in html and "Sichere Zuordnungen (1)" in html
    assert number(2) in section(html, "sure")
    assert apply(admin, location, html).status_code == 303
    assert [reload(o).status for o in orders] == [PAID, PAID, AWAITING_PAYMENT]
    assert Payment.select().count() == 2


def test_two_credits_for_one_order_in_one_file_pay_it_once(admin, orders):
    location, html = uploaded(admin, sample("plain.csv"), "februar.csv")
    assert number(1) in section(html, "sure") and "Sichere Zuordnungen (1)" in html
    assert "eine andere Gutschrift in diesem Kontoauszug bezahlt dieselbe Bestellung" in section(html, "human")
    assert apply(admin, location, html).status_code == 303
    assert Payment.select().where(Payment.order == orders[0].id).count() == 1
    assert paid_mails(orders[0]) == 1


def test_orders_paid_or_cancelled_already_are_left_for_a_person(admin, orders, settings):
    service.transition(settings, orders[0], PAID, "chefin@example.org", payment_reference="bar")
    service.transition(settings, orders[1], CANCELLED, "chefin@example.org")
    statement = (f"Buchungstag;Betrag;Verwendungszweck;Name\n"
                 f"03.02.{YEAR};24,90;{number(1)};Anna\n03.02.{YEAR};49,90;{number(2)};Bernd\n"
                 f"03.02.{YEAR};10,00;{number(1)} {number(3)};Carla\n").encode()
    location, html = uploaded(admin, statement, "auszug.csv")
    human = section(html, "human")
    assert "die Bestellung ist bereits bezahlt" in human and "die Bestellung ist storniert" in human
    assert "nennt mehrere Bestellungen" in human
    assert not section(html, "sure")
    apply(admin, location, html)
    assert Payment.select().count() == 1  # only the one paid by hand
    assert reload(orders[2]).status == AWAITING_PAYMENT


def test_a_preview_that_no_longer_holds_pays_nothing(admin, orders, settings):
    location, html = uploaded(admin, sample("camt053_v02.xml"))
    service.transition(settings, orders[0], PAID, "chefin@example.org", payment_reference="bar")
    response = apply(admin, location, html)
    assert response.status_code == 303
    page = admin.client.get(location).text
    assert "Nichts wurde bezahlt" in page
    assert not section(page, "sure") and "die Bestellung ist bereits bezahlt" in page
    assert Payment.select().count() == 1 and BankCredit.select().count() == 0
    assert BankStatement.get().state == "ready"


def test_a_resent_confirmation_pays_nothing_twice(admin, orders):
    location, html = uploaded(admin, sample("camt053_v02.xml"))
    assert apply(admin, location, html).status_code == 303
    admin.client.get(location)  # the flash message
    response = apply(admin, location, html, headers={"HX-Request": "true"})
    assert response.status_code == 409
    assert "Dieser Kontoauszug wurde bereits angewandt; nichts wurde doppelt bezahlt." in response.text
    assert Payment.select().count() == 1 and paid_mails(orders[0]) == 1


def test_two_confirmations_at_once_pay_once(app, admin, orders):
    location, html = uploaded(admin, sample("camt053_v02.xml"))
    second_location, second_html = uploaded(admin, sample("camt053_v02.xml"), "kopie.xml")
    other = sign_in_admin(app, "zweite@example.org")
    tokens = [admin.csrf("/admin/bank-statements"), other.csrf("/admin/bank-statements")]
    barrier = threading.Barrier(4)
    answers: list[int] = []

    def press(browser: Shopper, token: str, where: str, page: str) -> None:
        barrier.wait()
        answer = browser.client.post(f"{where}/apply", data={"csrf_token": token, **confirmation(page)})
        answers.append(answer.status_code)

    threads = [threading.Thread(target=press, args=args) for args in (
        (admin, tokens[0], location, html), (other, tokens[1], location, html),
        (Shopper(admin.client), tokens[0], second_location, second_html),
        (Shopper(other.client), tokens[1], second_location, second_html))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [303] * 4
    assert Payment.select().count() == 1 and paid_mails(orders[0]) == 1
    assert BankCredit.select().count() == 5
    assert AuditEntry.select().where(AuditEntry.action == "paid").count() == 1


def test_writes_need_the_forms_token(admin, client, orders):
    response = admin.client.post("/admin/bank-statements",
                                 files={"file": ("a.xml", sample("camt053_v02.xml"), "text/xml")})
    assert response.status_code == 403 and BankStatement.select().count() == 0
    location, html = uploaded(admin, sample("camt053_v02.xml"))
    response = admin.client.post(f"{location}/apply", data={"csrf_token": "forged", **confirmation(html)})
    assert response.status_code == 403
    response = admin.client.post(f"{location}/apply", data={"csrf_token": admin.csrf(), **confirmation(html)},
                                 headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert reload(orders[0]).status == AWAITING_PAYMENT and BankCredit.select().count() == 0


def test_tampered_keys_and_ids_change_nothing(admin, orders):
    location, html = uploaded(admin, sample("camt053_v02.xml"))
    response = admin.post(f"{location}/apply", {"key": "x" * 40, "fingerprint": confirmation(html)["fingerprint"]})
    assert response.status_code == 303
    assert "Dieses Formular ist abgelaufen" in admin.client.get(location).text
    assert admin.post("/admin/bank-statements/999999/apply", confirmation(html)).status_code == 404
    assert admin.client.get("/admin/bank-statements/999999").status_code == 404
    assert admin.client.get("/admin/bank-statements/99999999999").status_code == 404
    assert reload(orders[0]).status == AWAITING_PAYMENT


# -- reading files --------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["02", "04", "06", "08"])
def test_camt_versions_02_to_08_are_read(version):
    content = sample("camt053_v02.xml").replace(b"camt.053.001.02", f"camt.053.001.{version}".encode())
    credits = read(content).credits
    assert [c["amount"] for c in credits] == [2490, 4000, 123456, 1500, 2000]
    assert credits[0]["name"] == "Anna Beispiel" and credits[0]["date"] == f"{YEAR}-01-31"


def test_camt_version_08_in_latin_1(admin, orders):
    location, html = uploaded(admin, sample("camt053_v08.xml"))
    assert "Jörg Müller" in section(html, "sure")


def test_german_csv_export_in_windows_encoding(admin, orders):
    location, html = uploaded(admin, sample("sparkasse.csv"), "umsaetze.csv")
    sure = section(html, "sure")
    assert "Jörg Müller" in sure and number(1) in sure and f"31.01.{YEAR}" in sure
    assert "1.234,56" in section(html, "excess")
    assert "Miete" not in html


@pytest.mark.parametrize("text, cents", [
    ("1.234,56", 123456), ("24,90", 2490), ("+24,90 €", 2490), ("24.90", 2490), ("1,234.56", 123456),
    ("-850,00", None), ("12,50 EUR", 1250), ("7", 700),
])
def test_amounts_as_banks_write_them(text, cents):
    content = f"Buchungstag;Betrag;Verwendungszweck\n01.02.{YEAR};\"{text}\";x\n".encode()
    credits = read(content).credits
    assert [c["amount"] for c in credits] == ([cents] if cents else [])


@pytest.mark.parametrize("reference, found", [
    ("2026-000123", ["2026-000123"]), ("2026 000123", ["2026-000123"]), ("2026000123", ["2026-000123"]),
    ("Best.-Nr. 2026-000123", ["2026-000123"]), ("Bestellung2026/000123 Danke", ["2026-000123"]),
    ("2026-000123 und 2026000123", ["2026-000123"]), ("Rechnung vom 15.01.2026", []),
    ("IBAN DE02100100100006820101", []), ("20260001234", []), ("2026-00012", []),
    ("2026-000123, 2026-000124", ["2026-000123", "2026-000124"]),
])
def test_order_numbers_in_references(reference, found):
    assert order_numbers(reference) == found


@pytest.mark.parametrize("content, message", [
    (b"", "Bitte wählen Sie einen Kontoauszug"),
    (b"Datum,Text\n01.01.2026,Hallo\n", "keine Kopfzeile mit den Spalten eines Kontoauszugs"),
    ("Buchungstag;Betrag;Verwendungszweck\n01.02.2026;zwölf;x\n".encode(), "Zeile 2: Der Betrag „zwölf“"),
    ("Buchungstag;Betrag;Verwendungszweck\n32.13.2026;1,00;x\n".encode(), "Zeile 2: Das Datum „32.13.2026“"),
    ("Buchungstag;Betrag;Verwendungszweck\n01.02.2026;1,00;Größe\n".encode("utf-16-le"),
     "kann nicht als Text gelesen werden"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "kann nicht als Text gelesen werden"),
    (b"<Document><BkToCstmrStmt>", "kein wohlgeformtes XML"),
    (b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02">'
     b"<BkToCstmrAcctRpt/></Document>", "CAMT.052"),
    (b'<?xml version="1.0"?><rss><channel/></rss>', "kein CAMT.053-Kontoauszug"),
    (b"PK\x03\x04zip", "ZIP-Archiv"),
    ("Buchungstag;Betrag;Verwendungszweck\n01.02.2026;-5,00;Gebühr\n".encode(), "keine Zahlungseingänge"),
])
def test_wrong_files_get_a_clear_message_and_nothing_is_kept(admin, content, message):
    response = upload(admin, content, "kaputt.csv")
    assert response.status_code == 422
    assert message in response.text
    assert BankStatement.select().count() == 0


def test_xml_bombs_and_external_entities_are_refused(admin):
    for name in ("xml_bomb.xml", "xml_external_entity.xml"):
        response = upload(admin, sample(name), name)
        assert response.status_code == 422
        assert "deklariert einen Dokumenttyp oder Entitäten" in response.text
        assert "root:" not in response.text
    assert BankStatement.select().count() == 0
    with pytest.raises(StatementRefused):
        read(sample("xml_bomb.xml"))


def test_a_file_over_the_limit_is_refused(admin):
    response = upload(admin, b"Buchungstag;Betrag;Verwendungszweck\n" + b"x" * (11 * 1024 * 1024))
    assert response.status_code == 413
    assert BankStatement.select().count() == 0


# -- the list and the demo ------------------------------------------------------------------------

def test_the_statements_so_far_are_listed_in_pages(admin, orders):
    location, html = uploaded(admin, sample("camt053_v02.xml"), "januar.xml")
    apply(admin, location, html)
    for n in range(26):
        uploaded(admin, f"Buchungstag;Betrag;Verwendungszweck\n01.02.{YEAR};1,00;Nr {n}\n".encode(), f"f{n}.csv")
    page = admin.client.get("/admin/bank-statements").text
    assert "27 Kontoauszüge · Seite 1 von 2" in page and "f25.csv" in page and "januar.xml" not in page
    page = admin.client.get("/admin/bank-statements?page=2").text
    assert "januar.xml" in page and "Angewandt" in page and "4 zu prüfen" in page
    page = admin.client.get("/admin/bank-statements?state=applied").text
    assert "1 Kontoauszug" in page and "januar.xml" in page
    fragment = admin.client.get("/admin/bank-statements?page=2", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<section id="admin-bank-statement-list"')


def test_the_example_statement_is_offered_in_the_demo_only(admin, orders):
    assert "Beispiel-Kontoauszug" not in admin.client.get("/admin/bank-statements").text
    response = admin.client.get("/admin/bank-statements/beispiel.csv")
    assert response.status_code == 303 and response.headers["location"] == "/admin/bank-statements"


@pytest.fixture
def demo_settings(settings):
    return dataclasses.replace(settings, debug=True)


@pytest.mark.parametrize("kind", ["csv", "xml"])
def test_the_demos_example_statement_pays_the_open_orders(app, admin, orders, kind, settings):
    app.state.settings = dataclasses.replace(settings, debug=True)
    page = admin.client.get("/admin/bank-statements").text
    assert "Beispiel-Kontoauszug (CSV)" in page and "Beispiel-Kontoauszug (CAMT.053)" in page
    example = admin.client.get(f"/admin/bank-statements/beispiel.{kind}")
    assert example.status_code == 200 and "attachment" in example.headers["content-disposition"]
    location, html = uploaded(admin, example.content, f"beispiel.{kind}")
    assert "Sichere Zuordnungen (3)" in html and "Lieferant" in section(html, "human")
    apply(admin, location, html)
    assert [reload(o).status for o in orders] == [PAID, PAID, PAID]
