"""The audit log (/admin/audit): who changed what, filtered and exported as CSV; and the
trail as a hash chain that `shop audit-verify` checks, naming the first entry that was
changed or removed in the database behind the shop's back."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import threading

import pytest

from shop import cli
from shop.audit import chain
from shop.audit.models import AppendOnly, AuditEntry
from shop.audit.service import Actor, record, record_many
from shop.db import MIGRATIONS_DIR, connect, db, is_postgres, migrate, reset_postgres_schema, with_connection, write
from tests.test_admin_customers import confirm_password

CHEFIN = Actor("chefin@example.org", 1, "203.0.113.9")
LAGER = Actor("lager@example.org", 2, "198.51.100.4")


@pytest.fixture
def verify(settings, monkeypatch, database, capsys):
    """Runs `shop audit-verify`: its exit code and what it printed."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)

    def run() -> tuple[int, str]:
        connected = db.obj
        capsys.readouterr()
        code = cli.main(["audit-verify"])
        db.initialize(connected)  # the command connected its own
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


def at(monkeypatch, when: dt.datetime) -> None:
    """Entries recorded from now on carry this time (UTC)."""
    monkeypatch.setattr("shop.audit.service.now", lambda: when)


def some_entries() -> None:
    record(CHEFIN, "create", "category", 1, "Küche", {"name": [None, "Küche"]})
    record(CHEFIN, "update", "product", 7, "T-1 Teekanne", {"price_cents": [1299, 1499], "name": ["Kanne", "Teekanne"]})
    with write():
        record_many(LAGER, "import", "product", [(n, f"Becher {n}", {"stock": [0, n]}) for n in range(10, 15)])
    record(LAGER, "adjust_stock", "product", 7, "T-1 Teekanne", {"stock": [3, 12]})


def nth(n: int) -> AuditEntry:
    """The n-th entry (from 0), in the order they were written."""
    return list(AuditEntry.select().order_by(AuditEntry.id))[n]


def raw(sql: str, *params) -> None:
    db.execute_sql(sql.replace("?", db.param), params)


# -- the chain and its check ---------------------------------------------------------------------

def test_an_untouched_trail_passes_the_check(verify):
    code, said = verify()
    assert code == 0 and "The audit trail is whole: 0 entries checked." in said
    some_entries()
    code, said = verify()
    assert code == 0, said
    last = AuditEntry.select().order_by(AuditEntry.id.desc()).get()
    assert f"8 entries checked, the last is entry {last.id} with the hash {last.hash}." in said


def test_a_change_made_in_the_database_is_caught_naming_the_entry(verify):
    some_entries()
    second = nth(1)
    raw('UPDATE audit_entry SET changes = ? WHERE id = ?', '{"price_cents": [1299, 99]}', second.id)
    code, said = verify()
    assert code == 1
    assert f"Entry {second.id} (now: " in said and "was changed after it was written." in said
    assert "chefin@example.org, update product 7" in said
    assert f"The 1 entries up to entry {second.id - 1} are whole." in said

    raw('UPDATE audit_entry SET changes = ? WHERE id = ?', '{"name": ["Kanne", "Teekanne"], "price_cents": [1299, 1499]}',
        second.id)
    assert verify()[0] == 0  # put back as it was: whole again
    fifth = nth(4)
    raw("UPDATE audit_entry SET actor = ? WHERE id = ?", "jemand@example.org", fifth.id)
    code, said = verify()
    assert code == 1 and f"Entry {fifth.id} (now: " in said and "jemand@example.org" in said


def test_a_changed_hash_or_time_is_caught_too(verify):
    some_entries()
    third = nth(2)
    raw("UPDATE audit_entry SET at = ? WHERE id = ?", third.at - dt.timedelta(days=1), third.id)
    code, said = verify()
    assert code == 1 and f"Entry {third.id} (now: " in said
    raw("UPDATE audit_entry SET at = ?, hash = ? WHERE id = ?", third.at, "0" * 64, third.id)
    code, said = verify()
    assert code == 1 and f"Entry {third.id} (now: " in said


def test_a_removed_entry_is_caught_naming_it(verify):
    some_entries()
    ids = [e.id for e in AuditEntry.select(AuditEntry.id).order_by(AuditEntry.id)]
    raw("DELETE FROM audit_entry WHERE id = ?", ids[3])
    code, said = verify()
    assert code == 1 and f"Entry {ids[3]} was removed." in said
    raw("DELETE FROM audit_entry WHERE id IN (?, ?)", ids[4], ids[5])
    code, said = verify()
    assert code == 1 and f"Entries {ids[3]} to {ids[5]} were removed." in said


def test_removing_the_newest_or_the_first_entries_is_caught(verify):
    some_entries()
    ids = [e.id for e in AuditEntry.select(AuditEntry.id).order_by(AuditEntry.id)]
    raw("DELETE FROM audit_entry WHERE id = ?", ids[-1])
    code, said = verify()
    assert code == 1 and f"Entry {ids[-1]} was removed." in said
    record(CHEFIN, "update", "category", 1, "Küche", {"name": ["Küche", "Küche & Haushalt"]})
    code, said = verify()  # later entries do not cover it up
    assert code == 1 and f"Entry {ids[-1]} was removed." in said
    raw("DELETE FROM audit_entry WHERE id = ?", ids[0])
    code, said = verify()
    assert code == 1 and f"Entry {ids[0]} was removed." in said


def test_an_entry_written_past_the_shop_is_caught(verify):
    some_entries()
    raw("INSERT INTO audit_entry (at, actor, address, action, object_type, object_id, object_label, changes)"
        " VALUES (?, 'jemand', '', 'delete', 'product', '7', '', '{}')", dt.datetime(2025, 1, 1))
    code, said = verify()
    assert code == 1 and "was not written by the shop: it has no hash." in said


def test_the_shop_itself_cannot_change_or_delete_entries(database):
    some_entries()
    entry = AuditEntry.select().first()
    for attempt in (lambda: AuditEntry.update(actor="x").execute(), lambda: AuditEntry.delete().execute(),
                    lambda: AuditEntry.delete_by_id(entry.id), entry.save, entry.delete_instance,
                    lambda: AuditEntry.create(actor="x", action="update", object_type="product", object_id="1"),
                    lambda: AuditEntry.insert_many([]).execute()):
        with pytest.raises(AppendOnly):
            attempt()
    assert AuditEntry.select().count() == 8 and with_connection(chain.verify).problem is None


def test_entries_recorded_at_the_same_time_keep_the_chain_whole(database):
    errors = []

    def admin_saving(n: int) -> None:
        try:
            for i in range(15):
                def save():
                    with write():
                        record(Actor(f"admin{n}@example.org", n), "update", "product", i, "", {"stock": [i, i + 1]})
                with_connection(save)
            with_connection(record_many, Actor("import"), "import", "product",
                            [(i, "", {"stock": [0, 1]}) for i in range(20)])
        except Exception as error:  # pragma: no cover - shown by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=admin_saving, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    verdict = with_connection(chain.verify)
    assert verdict.problem is None and verdict.checked == 6 * (15 + 20) == AuditEntry.select().count()


def test_a_change_rolled_back_leaves_no_entry_and_the_chain_whole(database):
    some_entries()

    class Refused(Exception):
        pass

    with pytest.raises(Refused):
        with write():
            record(CHEFIN, "delete", "product", 7, "T-1 Teekanne")
            raise Refused
    record(CHEFIN, "update", "product", 8, "T-2 Tasse", {"stock": [1, 2]})
    assert AuditEntry.select().where(AuditEntry.action == "delete").count() == 0
    verdict = chain.verify()
    assert verdict.problem is None and verdict.checked == 9


def test_entries_written_before_the_chain_are_chained_by_its_migration(settings, tmp_path):
    from playhouse.migrations import Runner

    url = settings.database_url if settings.database_url.startswith("postgres") else f"sqlite:///{tmp_path / 'alt.sqlite3'}"
    connect(url)
    try:
        if is_postgres():
            reset_postgres_schema()
        with db.connection_context():
            Runner(db.obj, directory=str(MIGRATIONS_DIR)).up("0007_back_office_catalogue")
            for n in range(3):
                db.execute_sql(
                    "INSERT INTO audit_entry (at, actor_id, actor, address, action, object_type, object_id,"
                    f" object_label, changes) VALUES ({', '.join([db.param] * 9)})",
                    (dt.datetime(2025, 3, n + 1, 12), 1, "chefin@example.org", "203.0.113.9", "update", "product",
                     str(n), f"Produkt {n}", '{"stock": [1, 2]}'))
        migrate()
        with db.connection_context():
            assert chain.verify().checked == 3 and chain.verify().problem is None
            record(CHEFIN, "update", "product", 9, "", {"stock": [2, 3]})
            assert chain.verify().checked == 4 and chain.verify().problem is None
            db.execute_sql(f"UPDATE audit_entry SET object_id = '99' WHERE id = {db.param}", (2,))
            assert (chain.verify().problem, chain.verify().entry_id) == (chain.CHANGED, 2)
    finally:
        db.close_all()


# -- the page -------------------------------------------------------------------------------------

def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_log_shows_who_changed_what_newest_first(admin, make_product, monkeypatch):
    tasse = make_product("Tasse")
    at(monkeypatch, dt.datetime(2025, 6, 30, 22, 30, 5))  # 1 July, 00:30 in Berlin
    record(CHEFIN, "update", "product", tasse.id, f"{tasse.sku} Tasse", {
        "price_cents": [1299, 1499], "active": [False, True], "description": [None, "Ein langer Text " * 10]})
    at(monkeypatch, dt.datetime(2025, 7, 1, 8, 0))
    record(LAGER, "delete", "product", 999, "X-9 Weg", {})
    page = admin.client.get("/admin/audit")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Änderungsprotokoll" in text and "2 Einträge" in text
    rows = text_of(page.text.split("<tbody>")[1])
    assert rows.index("lager@example.org") < rows.index("chefin@example.org")  # newest first
    assert "01.07.2025, 00:30:05" in text and "von 203.0.113.9" in text
    assert "Preis 12,99 € → wird zu 14,99 €" in text and "Aktiv nein → wird zu ja" in text
    assert f'href="/admin/products/{tasse.id}"' in page.text  # the product is there: a link
    assert 'href="/admin/products/999"' not in page.text  # deleted: none
    # A long value is shortened, the whole of it one click away without JavaScript.
    assert re.search(r"<details[^>]*><summary>Ein langer Text Ein langer Text [^<]*…</summary>", page.text)
    assert ("Ein langer Text " * 10).strip() in page.text


def test_the_filters_select_by_who_action_object_and_day(admin, monkeypatch):
    for day, who, action, object_id in ((1, CHEFIN, "update", 7), (2, LAGER, "adjust_stock", 7),
                                        (3, CHEFIN, "create", 8), (4, CHEFIN, "update", 8)):
        at(monkeypatch, dt.datetime(2025, 3, day, 10))
        record(who, action, "product", object_id, f"Produkt {object_id}", {"stock": [0, day]})
    record(CHEFIN, "update", "category", 7, "Küche", {"name": ["A", "B"]})

    def shown(**params) -> str:
        response = admin.client.get("/admin/audit", params=params)
        assert response.status_code == 200
        return text_of(response.text)

    assert "5 Einträge" in shown()
    assert "1 Eintrag" in shown(who="lager@example.org")
    assert "2 Einträge" in shown(action="update", type="product")
    assert "2 Einträge" in shown(type="product", object_id="7")
    assert "Lager 0 → wird zu 2" in shown(type="product", object_id="7", who="lager@example.org")
    assert "2 Einträge" in shown(**{"from": "2025-03-02", "to": "2025-03-03"})
    assert "2 Einträge" in shown(**{"from": "2.3.2025", "to": "03.03.2025"})  # typed the German way
    # A filter the log does not know shows everything, with a word where a day was not read.
    assert "5 Einträge" in shown(who="niemand@example.org")
    said = shown(**{"from": "2025-02-30"})
    assert "5 Einträge" in said and "Ein Tag konnte nicht gelesen werden" in said
    assert "Bitte wählen Sie auch die Art des Objekts" in shown(object_id="7")
    assert "5 Einträge" in shown(action="delete")  # nothing deleted yet: no such choice
    assert "Kein Eintrag passt zu diesen Filtern." in shown(**{"from": "2025-03-05"})


def test_pages_and_the_fragment_for_htmx(admin):
    with write():
        record_many(CHEFIN, "import", "product", [(n, f"Produkt {n}", {"stock": [0, n]}) for n in range(60)])
    first = admin.client.get("/admin/audit")
    assert "60 Einträge" in text_of(first.text) and "Seite 1 von 3" in text_of(first.text)
    assert 'href="/admin/audit?page=2"' in first.text
    third = admin.client.get("/admin/audit?page=3&size=25")
    assert "Produkt 0" in third.text and "Produkt 10 " not in text_of(third.text)
    fragment = admin.client.get("/admin/audit?page=2", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith("<div id=\"admin-audit-table\"") and "<html" not in fragment.text
    assert "Seite 2 von 3" in text_of(fragment.text)
    oldest = text_of(admin.client.get("/admin/audit?sort=at&size=50").text)
    assert oldest.index("Produkt 0 ") < oldest.index("Produkt 1 ")


def test_counts_follow_new_entries(admin):
    some_entries()
    assert "7 Einträge" in text_of(admin.client.get("/admin/audit?type=product").text)
    record(CHEFIN, "update", "product", 7, "T-1 Teekanne", {"stock": [12, 11]})
    assert "8 Einträge" in text_of(admin.client.get("/admin/audit?type=product").text)
    assert "9 Einträge" in text_of(admin.client.get("/admin/audit").text)


# -- the export -----------------------------------------------------------------------------------

def test_the_export_holds_the_filtered_entries_for_a_german_spreadsheet(admin, monkeypatch):
    from shop.admin import audit

    monkeypatch.setattr(audit, "EXPORT_ROWS", 2)  # several rounds
    at(monkeypatch, dt.datetime(2025, 6, 30, 22, 30, 5))
    some_entries()
    record(CHEFIN, "update", "product", 9, '=HYPERLINK("https://example.org")', {"name": ["-5 %", "@x"]})
    asked = admin.client.get("/admin/audit.csv", params={"type": "product"})
    assert asked.status_code == 303 and asked.headers["location"].startswith("/admin/confirm-password?")
    response = confirm_password(admin, asked)  # personal data: the password first, then the file
    assert response.status_code == 303
    response = admin.client.get(response.headers["location"])
    assert response.status_code == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="audit-log-\d{4}-\d{2}-\d{2}\.csv"',
                        response.headers["content-disposition"])
    assert response.headers["cache-control"] == "private, no-store"
    assert response.content.startswith(b"\xef\xbb\xbfNr.;Zeit;Wer;Adresse;Aktion;")
    rows = list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff")), delimiter=";"))
    header, entries = rows[0], rows[1:]
    assert len(entries) == 8  # the category's entry is not a product's
    newest = dict(zip(header, entries[0]))
    assert newest["Objekt"] == "'=HYPERLINK(\"https://example.org\")"
    assert newest["Zeit"] == "01.07.2025 00:30:05" and newest["Wer"] == "chefin@example.org"
    assert newest["Änderungen"] == '{"name": ["-5 %", "@x"]}'
    stored = AuditEntry.select().order_by(AuditEntry.id.desc()).first()
    assert newest["Nr."] == str(stored.id) and newest["Hash"] == stored.hash
    assert [int(r[0]) for r in entries] == sorted((int(r[0]) for r in entries), reverse=True)
    assert len(admin.client.get("/admin/audit.csv", params={"who": "lager@example.org"}).text.splitlines()) == 1 + 6
