"""Customers in the back office: the list, a customer's page (each look recorded in the
audit trail) and what an admin does to an account: lock and unlock, end a session, make
or remove an admin, send the confirmation link again."""
from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from shop.accounts.models import ADMIN, CUSTOMER, Address, Consent, User, UserSession
from shop.accounts.passwords import hash_password
from shop.admin import reauth
from shop.audit.models import AuditEntry
from shop.db import now
from shop.mail.models import OutboxMessage
from shop.wishlist.models import WishlistItem
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Shopper, sign_in_admin
from tests.test_accounts import last_link

HTMX = {"HX-Request": "true"}
PASSWORD = "ein sicheres passwort"


class Admin(Shopper):
    def csrf(self, url: str = "/admin/customers") -> str:
        return super().csrf(url)


@pytest.fixture
def admin(app, database) -> Admin:
    return Admin(sign_in_admin(app).client)


def make_customer(name="Lea Kundin", email="lea@example.org", verified=True, **values) -> User:
    return User.create(name=name, email=email, password_hash=hash_password(PASSWORD),
                       email_verified_at=now() if verified else None, **values)


def browser(app) -> Shopper:
    return Shopper(TestClient(app, follow_redirects=False))


def sign_in(app, email="lea@example.org", password=PASSWORD):
    visitor = browser(app)
    return visitor, visitor.post("/account/login", {"email": email, "password": password})


def signed_in_customer(app, email="lea@example.org") -> Shopper:
    customer, response = sign_in(app, email)
    assert response.status_code == 303, response.text
    return customer


def me() -> User:
    return User.get(User.email == ADMIN_EMAIL)


def reload(user: User) -> User:
    return User.get_by_id(user.id)


def audit(action: str) -> list[AuditEntry]:
    return list(AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.id))


def names(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/admin/customers/\d+">([^<]+)</a>', html)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- the list ---------------------------------------------------------------------------------

def test_the_list_finds_customers_by_name_or_email_and_filters_by_kind(admin):
    make_customer("Lea Kundin", "lea@example.org")
    make_customer("Max Muster", "max@beispiel.de", verified=False)
    make_customer("Ömer Yılmaz", "oemer@example.org", locked_at=now())
    page = admin.client.get("/admin/customers")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    assert "4 Konten" in page.text
    assert set(names(page.text)) == {"Lea Kundin", "Max Muster", "Ömer Yılmaz", "Chefin"}
    assert names(admin.client.get("/admin/customers?q=muster").text) == ["Max Muster"]
    assert names(admin.client.get("/admin/customers?q=beispiel.de").text) == ["Max Muster"]
    assert names(admin.client.get("/admin/customers?kind=locked").text) == ["Ömer Yılmaz"]
    assert names(admin.client.get("/admin/customers?kind=unconfirmed").text) == ["Max Muster"]
    assert names(admin.client.get("/admin/customers?kind=admins").text) == ["Chefin"]
    nothing = admin.client.get("/admin/customers?q=niemand")
    assert "Kein Konto passt zur Suche." in nothing.text
    # Nonsense in the query string falls back to the defaults.
    assert admin.client.get("/admin/customers?kind=x&page=abc&size=999999&sort=password_hash").status_code == 200
    assert admin.client.get("/admin/customers?q=" + "x" * 5000).status_code == 200


def test_the_list_sorts_and_pages_with_its_state_in_the_address(admin):
    for n in range(30):
        make_customer(f"Kunde {n:02d}", f"kunde{n:02d}@example.org")
    first = admin.client.get("/admin/customers?sort=name")
    assert names(first.text)[:3] == ["Chefin", "Kunde 00", "Kunde 01"] and len(names(first.text)) == 25
    assert 'href="/admin/customers?sort=name&amp;page=2"' in first.text
    second = admin.client.get("/admin/customers?sort=name&page=2")
    assert names(second.text) == [f"Kunde {n:02d}" for n in range(24, 30)]
    backwards = admin.client.get("/admin/customers?sort=-email&size=50")
    assert names(backwards.text)[0] == "Kunde 29" and len(names(backwards.text)) == 31
    # htmx gets the table alone.
    fragment = admin.client.get("/admin/customers?q=Kunde 2", headers=HTMX)
    assert fragment.text.lstrip().startswith('<div id="admin-customers-table">')
    assert "<html" not in fragment.text and len(names(fragment.text)) == 10


def test_the_list_counts_each_customers_orders_without_a_query_per_row(admin, app, make_product):
    make_customer()
    cup = make_product("Tasse")
    customer = signed_in_customer(app)
    assert customer.buy(cup).status_code == 303
    assert customer.buy(cup).status_code == 303
    page = admin.client.get("/admin/customers?q=lea")
    row = re.search(r"<tr>\s*<th scope=\"row\"><a[^>]*>Lea Kundin</a>.*?</tr>", page.text, re.S).group(0)
    assert re.search(r'data-label="Bestellungen">2<', row)


# -- a customer's page ---------------------------------------------------------------------

def test_a_customers_page_shows_orders_addresses_consent_sessions_and_wishlist(admin, app, make_product):
    lea = make_customer()
    cup = make_product("Tasse")
    customer = signed_in_customer(app)
    assert customer.buy(cup).status_code == 303
    Address.create(user=lea, name="Lea Kundin", street="Lindenweg 4", postcode="10115", city="Berlin",
                   country="DE", default_billing=True)
    Consent.create(user=lea, kind="newsletter", wording="Ja, schicken Sie mir den Newsletter.",
                   method="checkbox on the mail preferences page", confirmed_at=now())
    WishlistItem.create(user=lea, product=cup)
    number = lea.orders.get().number

    page = admin.client.get(f"/admin/customers/{lea.id}")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    shown = text(page.text)
    assert f'href="/admin/orders/{number}"' in page.text
    assert "1 Bestellung insgesamt" in shown
    assert "Lindenweg 4" in shown and "10115 Berlin" in shown
    assert "Abonniert" in shown and "Ja, schicken Sie mir den Newsletter." in shown
    assert "checkbox on the mail preferences page" in shown
    assert "1 Produkt auf dem Wunschzettel" in shown
    assert "Offene Sitzungen" in shown and "testclient" in shown  # the customer's browser
    assert "Konto sperren" in shown and "Zum Admin machen" in shown
    assert "Bestätigungslink erneut senden" not in shown  # confirmed already


def test_opening_a_customers_page_is_recorded_in_the_audit_trail(admin):
    lea = make_customer()
    assert admin.client.get(f"/admin/customers/{lea.id}").status_code == 200
    assert admin.client.get(f"/admin/customers/{lea.id}").status_code == 200
    views = audit("view")
    assert len(views) == 2
    assert {(v.object_type, v.object_id, v.actor) for v in views} == {("customer", str(lea.id), ADMIN_EMAIL)}
    admin.client.get("/admin/customers")  # the list alone records nothing
    assert len(audit("view")) == 2


def test_an_unknown_customer_is_not_found(admin):
    assert admin.client.get("/admin/customers/999").status_code == 404
    assert admin.client.get("/admin/customers/99999999999999").status_code == 404
    assert admin.client.get("/admin/customers/abc").status_code == 404
    assert admin.post("/admin/customers/999/lock").status_code == 404
    assert audit("view") == [] and audit("lock") == []


# -- lock and unlock -------------------------------------------------------------------------

def test_a_locked_customer_is_signed_out_everywhere_and_cannot_sign_in(admin, app):
    lea = make_customer()
    phone, laptop = signed_in_customer(app), signed_in_customer(app)
    assert phone.client.get("/account/profile").status_code == 200

    locked = admin.post(f"/admin/customers/{lea.id}/lock")
    assert locked.status_code == 303 and locked.headers["location"] == f"/admin/customers/{lea.id}"
    page = admin.client.get(locked.headers["location"])
    assert "Das Konto von lea@example.org ist gesperrt; seine Sitzungen sind beendet." in page.text
    assert "Konto entsperren" in page.text and "Keine offenen Sitzungen." in page.text
    assert reload(lea).locked_at is not None and UserSession.select().where(UserSession.user == lea).count() == 0
    for device in (phone, laptop):
        assert device.client.get("/account/profile").headers["location"].startswith("/account/login")
    entry = audit("lock")[0]
    assert entry.object_id == str(lea.id) and entry.changes["sessions_ended"] == [0, 2]

    _, refused = sign_in(app)
    assert refused.status_code == 403
    assert "Dieses Konto ist gesperrt. Bitte wenden Sie sich an unseren Kundenservice." in refused.text
    # A wrong password learns nothing about the lock.
    _, wrong = sign_in(app, password="falsches passwort!!")
    assert wrong.status_code == 422 and "gesperrt" not in wrong.text

    unlocked = admin.post(f"/admin/customers/{lea.id}/unlock")
    assert unlocked.status_code == 303
    assert reload(lea).locked_at is None and len(audit("unlock")) == 1
    assert sign_in(app)[1].status_code == 303


def test_a_password_reset_does_not_open_a_locked_account(admin, app, database):
    from shop.accounts import service

    lea = make_customer()
    admin.post(f"/admin/customers/{lea.id}/lock")
    service.request_reset(app.state.settings, lea.email)
    link = last_link("password-reset/confirm")
    visitor = browser(app)
    done = visitor.client.post(link, data={"csrf_token": visitor.csrf(link), "password": "ein ganz neues passwort"})
    assert done.status_code == 303 and done.headers["location"] == "/account/login"
    assert "gesperrt" in visitor.client.get("/account/login").text
    assert visitor.client.get("/account/profile").status_code == 303
    assert UserSession.select().where(UserSession.user == lea).count() == 0


def test_with_htmx_a_lock_swaps_the_account_panel_and_the_sessions(admin, app):
    lea = make_customer()
    signed_in_customer(app)
    swapped = admin.post(f"/admin/customers/{lea.id}/lock", headers=HTMX)
    assert swapped.status_code == 200
    assert swapped.text.lstrip().startswith('<section id="admin-customer-account"')
    assert "<html" not in swapped.text
    assert "ist gesperrt" in swapped.text and "Konto entsperren" in swapped.text
    assert 'id="admin-customer-sessions"' in swapped.text and 'hx-swap-oob="true"' in swapped.text
    assert "Keine offenen Sitzungen." in swapped.text
    again = admin.post(f"/admin/customers/{lea.id}/lock", headers=HTMX)
    assert again.status_code == 409 and "Dieses Konto ist bereits gesperrt." in again.text
    assert len(audit("lock")) == 1


def test_an_admin_cannot_lock_themselves(admin):
    refused = admin.post(f"/admin/customers/{me().id}/lock")
    assert refused.status_code == 303
    assert "Sie können Ihr eigenes Konto nicht sperren." in admin.client.get(refused.headers["location"]).text
    assert reload(me()).locked_at is None and audit("lock") == []
    assert admin.client.get("/admin/customers").status_code == 200
    assert "Das ist Ihr eigenes Konto" in admin.client.get(f"/admin/customers/{me().id}").text


def test_a_write_without_the_forms_token_changes_nothing(admin, app):
    lea = make_customer()
    for data in ({}, {"csrf_token": "forged"}):
        assert admin.client.post(f"/admin/customers/{lea.id}/lock", data=data).status_code == 403
    token = admin.csrf()
    assert admin.client.post(f"/admin/customers/{lea.id}/lock", data={"csrf_token": token},
                             headers={"Origin": "https://evil.example"}).status_code == 403
    assert reload(lea).locked_at is None and audit("lock") == []


def test_customers_find_nothing_and_guests_are_sent_to_sign_in(app, admin, client):
    lea = make_customer()
    customer = signed_in_customer(app)
    assert customer.client.get(f"/admin/customers/{lea.id}").status_code == 404
    assert customer.post(f"/admin/customers/{lea.id}/lock", {}).status_code == 404
    assert client.get("/admin/customers").headers["location"] == "/account/login?next=%2Fadmin%2Fcustomers"
    assert reload(lea).locked_at is None


# -- sessions -------------------------------------------------------------------------------

def test_an_admin_ends_one_session_of_a_customer(admin, app):
    lea = make_customer()
    phone, laptop = signed_in_customer(app), signed_in_customer(app)
    phone_session, laptop_session = UserSession.select().where(UserSession.user == lea).order_by(UserSession.id)

    ended = admin.post(f"/admin/customers/{lea.id}/sessions/end", {"session": phone_session.id}, headers=HTMX)
    assert ended.status_code == 200 and ended.text.lstrip().startswith('<section id="admin-customer-sessions"')
    assert "Die Sitzung wurde beendet." in ended.text
    assert phone.client.get("/account/profile").status_code == 303
    assert laptop.client.get("/account/profile").status_code == 200
    assert audit("end_session")[0].object_id == str(lea.id)

    # Someone else's session, an ended one, nonsense: nothing happens.
    max_ = make_customer("Max", "max@example.org")
    signed_in_customer(app, "max@example.org")
    max_session = UserSession.get(UserSession.user == max_)
    other = admin.post(f"/admin/customers/{lea.id}/sessions/end", {"session": max_session.id})
    assert other.status_code == 404
    assert admin.post(f"/admin/customers/{lea.id}/sessions/end", {"session": phone_session.id}).status_code == 404
    for nonsense in ("", "abc", "-1", "99999999999999999999"):
        assert admin.post(f"/admin/customers/{lea.id}/sessions/end", {"session": nonsense}).status_code == 404
    assert UserSession.select().count() == 3 and len(audit("end_session")) == 1


# -- admin rights ------------------------------------------------------------------------------

def confirm_password(admin: Admin, asked, password=ADMIN_PASSWORD):
    """Follow the way to the confirmation page and type the password there."""
    page = admin.client.get(asked.headers["location"])
    assert page.status_code == 200 and "Passwort bestätigen" in page.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    fields = {name: value.replace("&amp;", "&") for name, value in fields.items()}
    return admin.client.post("/admin/confirm-password", data={**fields, "reauth-password": password})


def test_making_an_admin_asks_for_the_password_and_then_sends_the_form_again(admin, app):
    lea = make_customer()
    asked = admin.post(f"/admin/customers/{lea.id}/role", {"role": ADMIN})
    assert asked.status_code == 303 and asked.headers["location"].startswith("/admin/confirm-password?")
    assert reload(lea).role == CUSTOMER

    wrong = confirm_password(admin, asked, "nicht mein passwort")
    assert wrong.status_code == 422 and "Das ist nicht Ihr Passwort." in wrong.text
    assert reload(lea).role == CUSTOMER

    confirmed = confirm_password(admin, asked)
    assert confirmed.status_code == 307 and confirmed.headers["location"] == f"/admin/customers/{lea.id}/role"
    # The browser sends the same form again (a 307 keeps the method and the fields).
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                             admin.client.get(asked.headers["location"]).text))
    done = admin.client.post(confirmed.headers["location"], data={**fields, "reauth-password": ADMIN_PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == f"/admin/customers/{lea.id}"
    assert "lea@example.org ist jetzt Admin." in admin.client.get(done.headers["location"]).text
    assert reload(lea).role == ADMIN
    entry = audit("make_admin")[0]
    assert entry.object_id == str(lea.id) and entry.changes == {"role": [CUSTOMER, ADMIN]}

    # Within five minutes, no second question.
    removed = admin.post(f"/admin/customers/{lea.id}/role", {"role": CUSTOMER})
    assert removed.status_code == 303 and removed.headers["location"] == f"/admin/customers/{lea.id}"
    assert reload(lea).role == CUSTOMER and len(audit("remove_admin")) == 1


def test_the_confirmed_password_holds_for_five_minutes(admin, monkeypatch):
    lea = make_customer()
    asked = admin.post(f"/admin/customers/{lea.id}/role", {"role": ADMIN})
    assert confirm_password(admin, asked).status_code == 307
    real = reauth.clock
    monkeypatch.setattr(reauth, "clock", lambda: real() + 4 * 60)
    assert admin.post(f"/admin/customers/{lea.id}/role", {"role": ADMIN}).headers["location"] == \
        f"/admin/customers/{lea.id}"
    monkeypatch.setattr(reauth, "clock", lambda: real() + 6 * 60)
    again = admin.post(f"/admin/customers/{lea.id}/role", {"role": CUSTOMER})
    assert again.headers["location"].startswith("/admin/confirm-password?")
    assert reload(lea).role == ADMIN


def test_with_htmx_the_password_question_opens_as_a_page(admin):
    lea = make_customer()
    asked = admin.post(f"/admin/customers/{lea.id}/role", {"role": ADMIN},
                       headers={**HTMX, "HX-Current-URL": f"http://testserver/admin/customers/{lea.id}"})
    assert asked.status_code == 200 and asked.headers["hx-redirect"].startswith("/admin/confirm-password?")
    page = admin.client.get(asked.headers["hx-redirect"])
    assert f'href="/admin/customers/{lea.id}">Abbrechen' in page.text  # Cancel goes back


def test_the_last_admin_cannot_be_removed(admin, app, monkeypatch):
    monkeypatch.setattr(reauth, "confirmed_recently", lambda request: True)
    refused = admin.post(f"/admin/customers/{me().id}/role", {"role": CUSTOMER}, headers=HTMX)
    assert refused.status_code == 409 and "Das ist der letzte Admin" in refused.text
    assert reload(me()).role == ADMIN and audit("remove_admin") == []
    plain = admin.post(f"/admin/customers/{me().id}/role", {"role": CUSTOMER})
    assert plain.status_code == 303 and plain.headers["location"] == f"/admin/customers/{me().id}"
    page = admin.client.get(plain.headers["location"])
    assert "Das ist der letzte Admin" in page.text and "Sie sind kein Admin mehr" not in page.text

    # A locked admin does not count.
    other = make_customer("Bea", "bea@example.org", role=ADMIN, locked_at=now())
    assert admin.post(f"/admin/customers/{me().id}/role", {"role": CUSTOMER}, headers=HTMX).status_code == 409
    admin.post(f"/admin/customers/{other.id}/unlock")
    # With a second admin, an admin may give up their own rights, and leaves the back office.
    gone = admin.post(f"/admin/customers/{me().id}/role", {"role": CUSTOMER})
    assert gone.status_code == 303 and gone.headers["location"] == "/"
    assert reload(me()).role == CUSTOMER
    assert admin.client.get("/admin/customers").status_code == 404


def test_only_a_confirmed_unlocked_account_becomes_an_admin(admin, monkeypatch):
    monkeypatch.setattr(reauth, "confirmed_recently", lambda request: True)
    new = make_customer("Neu", "neu@example.org", verified=False)
    locked = make_customer("Zu", "zu@example.org", locked_at=now())
    assert "noch nicht bestätigt" in admin.post(f"/admin/customers/{new.id}/role", {"role": ADMIN},
                                                 headers=HTMX).text
    assert "Entsperren Sie es zuerst" in admin.post(f"/admin/customers/{locked.id}/role", {"role": ADMIN},
                                                     headers=HTMX).text
    assert admin.post(f"/admin/customers/{new.id}/role", {"role": "superuser"}).status_code == 400
    assert admin.post(f"/admin/customers/{new.id}/role", {}).status_code == 400
    assert reload(new).role == CUSTOMER and reload(locked).role == CUSTOMER and audit("make_admin") == []


def test_the_confirmation_page_takes_no_step_from_a_link_made_elsewhere(admin, app):
    lea = make_customer()
    # A link that names a step and its fields itself: nothing of it is carried out.
    forged = admin.client.get(f"/admin/confirm-password?reauth-action=/admin/customers/{lea.id}/role&role=admin"
                              "&reauth=forged&reauth-next=https://evil.example")
    assert forged.status_code == 200
    assert 'name="role"' not in forged.text and 'name="reauth"' not in forged.text and "evil" not in forged.text.split(
        "<main")[1]
    done = admin.client.post("/admin/confirm-password", data={
        "csrf_token": admin.csrf(), "reauth-password": ADMIN_PASSWORD, "reauth": "forged",
        "reauth-action": f"/admin/customers/{lea.id}/role", "role": "admin"})
    assert done.status_code == 303 and done.headers["location"] == "/admin/"
    assert reload(lea).role == CUSTOMER
    # Nor a step signed for another admin.
    other = Admin(sign_in_admin(app, "zweite@example.org").client)
    asked = other.post(f"/admin/customers/{lea.id}/role", {"role": ADMIN})
    token = re.search(r"reauth=([^&]+)", asked.headers["location"]).group(1)
    page = admin.client.get(f"/admin/confirm-password?reauth={token}")
    assert 'name="role"' not in page.text


# -- the confirmation link ------------------------------------------------------------------

def test_the_confirmation_link_is_sent_again_only_while_unconfirmed(admin):
    new = make_customer("Neu", "neu@example.org", verified=False, language="en")
    page = admin.client.get(f"/admin/customers/{new.id}")
    assert "Bestätigungslink erneut senden" in page.text
    sent = admin.post(f"/admin/customers/{new.id}/resend", headers=HTMX)
    assert sent.status_code == 200 and "Wir haben den Link noch einmal an neu@example.org geschickt." in sent.text
    mail = OutboxMessage.select().where(OutboxMessage.recipient == "neu@example.org").get()
    assert "Please confirm your email address" == mail.subject  # in the customer's language
    assert audit("resend_confirmation")[0].object_id == str(new.id)

    lea = make_customer()
    refused = admin.post(f"/admin/customers/{lea.id}/resend", headers=HTMX)
    assert refused.status_code == 409 and "bereits bestätigt" in refused.text
    for _ in range(2):
        admin.post(f"/admin/customers/{new.id}/resend")
    too_often = admin.post(f"/admin/customers/{new.id}/resend", headers=HTMX)
    assert too_often.status_code == 409 and "mehrmals" in too_often.text
    assert OutboxMessage.select().where(OutboxMessage.recipient == "neu@example.org").count() == 3
