"""Bank statements: the transfers of prepayment ("Vorkasse") orders, matched and paid.

A statement is read from CAMT.053 XML (ISO 20022 `BkToCstmrStmt`, versions .02 to .08,
what German banks export) or from a simple CSV file (see `CSV_COLUMNS`). Only booked
credits count. Each credit gets an identity that stays the same in every export of it:
the bank's own reference (`AcctSvcrRef`, a CSV column "Referenz"), else a hash of its
date, amount, currency, reference text, payer, payer's account and end-to-end id (and
its place among equal credits of the file). A credit once imported is kept under that
identity (`BankCredit`), so importing the same or an overlapping statement again pays
nothing twice.

Matching (`classify`) finds order numbers in the reference text ("2026-000123",
"2026 000123", "2026000123", "Best.-Nr. 2026-000123"). A credit that names exactly one
unpaid prepayment order is a sure match when its amount is the order's total, a partial
payment when it is less, an excess payment when it is more. Everything else (no number,
an unknown one, several orders, an order paid or cancelled already, a second credit for
the same order, a foreign currency) is left for a person, with the reason. `apply` pays
the sure matches only, each through `service.transition` (which records the payment and
mails the customer), in one transaction with the statement's one-time key.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring as parse_xml  # type: ignore[import-untyped]
from peewee import BigIntegerField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, IntegrityError, TextField

from shop.audit.service import Actor, record
from shop.db import BaseModel, JSONField, db, locked, now, write
from shop.forms import CONTROL, euro_cents
from shop.i18n import _
from shop.i18n import lazy_gettext as _l

from . import service
from .models import AWAITING_PAYMENT, CANCELLED, PAID, UNPAID, Order

PREPAYMENT = "prepayment"  # the payment method of a bank transfer (shop.pricing.PAYMENT_NAMES)
MAX_CREDITS = 20_000
MAX_TEXT = 500  # a reference, a name: more is cut off
MAX_CENTS = 1_000_000_000  # 10 million euros: fits the tables' integers
MAX_ERRORS = 10

# The kinds of file.
CAMT, CSV = "camt053", "csv"
FORMAT_LABELS = {CAMT: "CAMT.053", CSV: "CSV"}
# A statement's states.
READY, APPLIED = "ready", "applied"
STATE_LABELS = {READY: _l("Not applied yet"), APPLIED: _l("Applied")}

# The groups of the preview.
SURE, PARTIAL, EXCESS, HUMAN, ALREADY = "sure", "partial", "excess", "human", "already"
GROUPS = (SURE, PARTIAL, EXCESS, HUMAN, ALREADY)
GROUP_LABELS = {
    SURE: _l("Sure matches"),
    PARTIAL: _l("Partial payments"),
    EXCESS: _l("Excess payments"),
    HUMAN: _l("For a person to check"),
    ALREADY: _l("Imported already"),
}
# What a credit came to when its statement was applied (BankCredit.outcome): PAID, or its group.
OUTCOME_LABELS = {
    PAID: _l("Order paid"),
    PARTIAL: _l("Partial payment, left for a person"),
    EXCESS: _l("Excess payment, left for a person"),
    HUMAN: _l("Left for a person"),
}
# Why a credit is not a sure match.
REASONS = {
    "partial": _l("less than the order’s total"),
    "excess": _l("more than the order’s total"),
    "no_number": _l("no order number in the reference"),
    "unknown_number": _l("no order with this number"),
    "several_numbers": _l("names several orders"),
    "paid_already": _l("the order is paid already"),
    "cancelled": _l("the order is cancelled"),
    "not_prepayment": _l("the order is not paid by bank transfer"),
    "currency": _l("not in euros"),
    "order_twice": _l("another credit in this statement pays the same order"),
    "listed_twice": _l("listed twice in this file"),
    "changed": _l("the order changed meanwhile"),
    "imported": _l("imported with an earlier statement"),
}


class StatementRefused(Exception):
    """The file is no statement that can be read; `errors` say why, in the admin's language."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


# -- the tables -------------------------------------------------------------------------------

class BankStatement(BaseModel):
    """An uploaded statement: its credits as read (the preview is matched anew each time it
    is shown), then what applying it did."""

    filename = CharField()
    format = CharField()  # CAMT or CSV
    account = CharField(default="")  # the shop's account, where the file names it
    credits = JSONField()  # [{id, date, amount, currency, reference, name, account, bank_ref, position}]
    credit_count = IntegerField(default=0)
    credit_cents = BigIntegerField(default=0)
    ignored = IntegerField(default=0)  # debits and entries not booked
    state = CharField(default=READY, index=True)
    key = CharField(default="")  # the one-time key of the form that applies it
    counts = JSONField(null=True)  # applied: {group: credits}
    paid_count = IntegerField(default=0)
    paid_cents = BigIntegerField(default=0)
    result = JSONField(null=True)  # applied: [{id, outcome, reason, order}] in the file's order
    created_by = CharField(default="")
    created_at = DateTimeField(default=now, index=True)
    applied_by = CharField(default="")
    applied_at = DateTimeField(null=True)


class BankCredit(BaseModel):
    """A credit that an applied statement held, under its identity: kept once, whichever
    statement brings it again."""

    identity = CharField(unique=True)
    statement = ForeignKeyField(BankStatement, backref="imported", on_delete="CASCADE")
    booked_on = DateField(null=True)
    amount_cents = IntegerField()
    currency = CharField(default="EUR")
    reference = TextField(default="")
    name = CharField(default="")
    order = ForeignKeyField(Order, null=True, on_delete="SET NULL")  # the order it paid or names
    outcome = CharField()  # PAID, PARTIAL, EXCESS or HUMAN
    reason = CharField(default="")
    created_at = DateTimeField(default=now)


# -- reading a file ---------------------------------------------------------------------------

@dataclass
class Statement:
    format: str
    credits: list[dict]
    account: str = ""
    ignored: int = 0


def read(data: bytes) -> Statement:
    """The booked credits of a CAMT.053 or CSV statement. Raises StatementRefused."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not data.strip():
        raise StatementRefused([_("The file is empty.")])
    if head.startswith(b"PK\x03\x04"):
        raise StatementRefused([_("This is a ZIP archive. Please unpack it and upload the XML or CSV "
                                  "statement inside it.")])
    if head.startswith(b"%PDF"):
        raise StatementRefused([_("This is a PDF document. Please export the statement from your online "
                                  "banking as CAMT.053 (XML) or CSV instead.")])
    if head.startswith(b"<") or head.startswith(b"\xff\xfe<") or head.startswith(b"\xfe\xff\x00<"):
        statement = _read_camt(data)
    else:
        statement = _read_csv(_text(data))
    if len(statement.credits) > MAX_CREDITS:
        raise StatementRefused([_("The file holds more than %(count)s credits. Please export a shorter "
                                  "period.", count=f"{MAX_CREDITS:,}".replace(",", "."))])
    _identify(statement.credits)
    return statement


def _text(data: bytes) -> str:
    """The file as text: UTF-8 (with or without a byte order mark), UTF-16 with its mark,
    else Windows-1252, which many German banks still export."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise StatementRefused([_unreadable()]) from None
    if b"\x00" in data:
        raise StatementRefused([_unreadable()])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise StatementRefused([_unreadable()]) from None
    if CONTROL.search(text.replace("\r", "").replace("\n", "").replace("\t", "")):
        raise StatementRefused([_unreadable()])
    return text


def _unreadable() -> str:
    return _("The file cannot be read as text: it is no CSV file or is saved in an unusual encoding. "
             "Please export the statement again as CSV (UTF-8 or Windows encoding) or as CAMT.053 (XML).")


def _clean(text: str | None) -> str:
    """One line of printable text, without the control characters a file may hold."""
    return " ".join(CONTROL.sub(" ", text or "").split())[:MAX_TEXT]


# -- CAMT.053 ---------------------------------------------------------------------------------

CAMT_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:(camt\.\d{3})\.001\.(\d{2})")


def _read_camt(data: bytes) -> Statement:
    try:
        # No DTD at all: that refuses entity expansion (billion laughs) and external entities.
        root = parse_xml(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise StatementRefused([_("The XML file declares a document type or entities, which a bank "
                                  "statement never does. It was not read.")]) from None
    except (ParseError, ValueError) as error:
        raise StatementRefused([_("The file is no well-formed XML (%(problem)s). Please export the "
                                  "statement again.", problem=_clean(str(error))[:120])]) from None
    found = CAMT_NAMESPACE.fullmatch(_namespace(root))
    if found is None or _local(root.tag) != "Document":
        raise StatementRefused([_("This XML file is no CAMT.053 bank statement. Please export the "
                                  "statement as CAMT.053 (“camt.053.001.02” up to “.08”).")])
    message, version = found.group(1), int(found.group(2))
    if message != "camt.053":
        raise StatementRefused([_("This is a %(kind)s file, not the account statement. Please export "
                                  "CAMT.053 instead.", kind=message.upper())])
    if not 2 <= version <= 8:
        raise StatementRefused([_("CAMT.053 version %(version)s is not supported; versions 02 to 08 are.",
                                  version=f"{version:02d}")])
    body = _child(root, "BkToCstmrStmt")
    if body is None:
        raise StatementRefused([_("This XML file is no CAMT.053 bank statement. Please export the "
                                  "statement as CAMT.053 (“camt.053.001.02” up to “.08”).")])
    credits: list[dict] = []
    ignored, accounts = 0, []
    errors: list[str] = []
    for number, statement in enumerate(_children(body, "Stmt"), 1):
        account = _text_at(statement, "Acct", "Id", "IBAN")
        if account and account not in accounts:
            accounts.append(account)
        for position, entry in enumerate(_children(statement, "Ntry"), 1):
            try:
                found_credits = _entry_credits(entry, f"{number}.{position}")
            except ValueError:
                errors.append(_("Entry %(position)s: the amount or the booking date cannot be read.",
                                position=position))
                continue
            if found_credits is None:
                ignored += 1
            else:
                credits.extend(found_credits)
    if errors:
        raise StatementRefused(errors[:MAX_ERRORS])
    return Statement(CAMT, credits, ", ".join(accounts)[:255], ignored)


def _entry_credits(entry: Element, position: str) -> list[dict] | None:
    """The credits of one booked entry (several for a batch booking); None for a debit,
    a reversal or an entry not booked."""
    status = _child(entry, "Sts")
    status_code = ((_text_at(status, "Cd") if status is not None and len(status) else None)
                   or (status.text if status is not None else "") or "").strip()
    if _text_at(entry, "CdtDbtInd") != "CRDT" or status_code not in ("BOOK", "") \
            or _text_at(entry, "RvslInd").lower() == "true":
        return None
    booked = _date(_text_at(entry, "BookgDt", "Dt") or _text_at(entry, "BookgDt", "DtTm")
                   or _text_at(entry, "ValDt", "Dt"))
    entry_amount = _child(entry, "Amt")
    entry_ref = _text_at(entry, "AcctSvcrRef")
    details = [tx for batch in _children(entry, "NtryDtls") for tx in _children(batch, "TxDtls")]
    if not details:
        details = [entry]
    credits = []
    for index, tx in enumerate(details, 1):
        amount = entry_amount if len(details) == 1 else _tx_amount(tx)
        if amount is None:
            raise ValueError("no amount")
        cents = _xml_cents(amount.text)
        reference = " ".join(filter(None, (
            *(_clean(u.text) for rmt in _children(tx, "RmtInf") for u in _children(rmt, "Ustrd")),
            *(_clean(_text_at(strd, "CdtrRefInf", "Ref")) for rmt in _children(tx, "RmtInf")
              for strd in _children(rmt, "Strd")),
        )))
        if not reference and tx is not entry:
            reference = _clean(_text_at(entry, "AddtlNtryInf"))
        parties = _child(tx, "RltdPties")
        name = account = ""
        if parties is not None:
            # .02–.07: Dbtr/Nm; .08: Dbtr/Pty/Nm. The ultimate debtor names who the money is for.
            name = (_text_at(parties, "Dbtr", "Nm") or _text_at(parties, "Dbtr", "Pty", "Nm")
                    or _text_at(parties, "UltmtDbtr", "Nm") or _text_at(parties, "UltmtDbtr", "Pty", "Nm"))
            account = _text_at(parties, "DbtrAcct", "Id", "IBAN") or _text_at(parties, "DbtrAcct", "Id", "Othr", "Id")
        bank_ref = _text_at(tx, "Refs", "AcctSvcrRef") if tx is not entry else ""
        if not bank_ref and entry_ref:
            bank_ref = entry_ref if len(details) == 1 else f"{entry_ref}/{index}"
        end_to_end = _text_at(tx, "Refs", "EndToEndId") if tx is not entry else ""
        credits.append({
            "date": booked.isoformat() if booked else "", "amount": cents,
            "currency": (amount.get("Ccy") or "EUR").strip().upper()[:3],
            "reference": reference, "name": _clean(name), "account": _clean(account).replace(" ", ""),
            "bank_ref": _clean(bank_ref), "entry_ref": _clean(_text_at(entry, "NtryRef")),
            "end_to_end": "" if end_to_end.upper() == "NOTPROVIDED" else _clean(end_to_end),
            "position": position if len(details) == 1 else f"{position}.{index}",
        })
    return credits


def _tx_amount(tx: Element) -> Element | None:
    """The amount of one transfer of a batch: TxDtls/Amt (.04 on), else AmtDtls/TxAmt/Amt."""
    amount = _child(tx, "Amt")
    if amount is not None:
        return amount
    for kind in ("TxAmt", "InstdAmt"):
        amount = _child(_child(_child(tx, "AmtDtls"), kind), "Amt")
        if amount is not None:
            return amount
    return None


def _xml_cents(text: str | None) -> int:
    text = (text or "").strip()
    if not re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,5})?", text):
        raise ValueError(text)
    cents = Decimal(text) * 100
    if cents != cents.to_integral() or cents > MAX_CENTS:
        raise ValueError(text)
    return int(cents)


def _namespace(element: Element) -> str:
    return element.tag[1:].split("}", 1)[0] if element.tag.startswith("{") else ""


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element: Element | None, name: str) -> Iterable[Element]:
    return [child for child in element if _local(child.tag) == name] if element is not None else []


def _child(element: Element | None, name: str) -> Element | None:
    return next(iter(_children(element, name)), None)


def _text_at(element: Element | None, *path: str) -> str:
    for name in path:
        element = _child(element, name)
        if element is None:
            return ""
    return (element.text or "").strip() if element is not None else ""


def _date(text: str) -> dt.date | None:
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text[:10] if pattern == "%Y-%m-%d" else text, pattern).date()
        except ValueError:
            continue
    if text:
        raise ValueError(text)
    return None


# -- CSV ----------------------------------------------------------------------------------------

def _key(name: str) -> str:
    """A column name as compared: lower case, umlauts spelt out, letters and digits only."""
    name = name.casefold()
    for umlaut, spelt in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        name = name.replace(umlaut, spelt)
    return re.sub(r"[^a-z0-9]", "", name)


# The column names a CSV statement may have (upper or lower case, with or without spaces,
# punctuation and umlauts), the first found of each list counts. Those of German banks'
# exports (Sparkasse, Volksbank, Deutsche Bank, Commerzbank, DKB, ING, comdirect, Postbank,
# N26) are among them.
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "date": ("Buchungstag", "Buchungsdatum", "Buchung", "Datum", "Date", "Booking date", "Wertstellung",
             "Valutadatum", "Valuta", "Wertstellungsdatum", "Value date"),
    "amount": ("Betrag", "Betrag (EUR)", "Betrag (€)", "Betrag in EUR", "Betrag EUR", "Umsatz",
               "Umsatz in EUR", "Amount", "Amount (EUR)", "Haben"),
    "reference": ("Verwendungszweck", "Verwendungszweck 1", "Zweck", "Buchungsdetails", "Reference text",
                  "Purpose", "Payment reference", "Remittance information"),
    "text": ("Buchungstext", "Vorgang", "Umsatzart", "Transaction type"),
    "name": ("Name", "Auftraggeber", "Auftraggeber / Begünstigter", "Auftraggeber/Empfänger",
             "Beguenstigter/Zahlungspflichtiger", "Begünstigter / Auftraggeber", "Zahlungspflichtige*r",
             "Zahlungspflichtiger", "Name Zahlungsbeteiligter", "Empfänger/Zahlungspflichtiger",
             "Zahlungsempfänger", "Gegenkonto Name", "Payer", "Debtor", "Payee", "Partner Name",
             "Empfänger"),
    "account": ("IBAN", "Kontonummer/IBAN", "IBAN Zahlungsbeteiligter", "IBAN Auftraggeber",
                "Gegenkonto IBAN", "Gegenkonto", "Kontonummer", "Account", "Account number", "Payer IBAN"),
    "bank_ref": ("Referenz", "Bankreferenz", "Buchungsreferenz", "Transaktionsreferenz", "Bank reference",
                 "Transaction ID"),
    "currency": ("Währung", "Waehrung", "WKZ", "Currency"),
    "direction": ("Soll/Haben", "S/H", "Soll-Haben-Kennzeichen", "Debit/Credit"),
}
_COLUMN_KEYS = {field: tuple(_key(name) for name in names) for field, names in CSV_COLUMNS.items()}
_MORE_REFERENCE = re.compile(r"verwendungszweck[0-9]+")  # Verwendungszweck 2, 3, … (Deutsche Bank)
HEADER_LINES = 30  # a bank may put the account's details above the header


def _read_csv(text: str) -> Statement:
    lines = text.splitlines()
    found = _find_header(lines[:HEADER_LINES])
    if found is None:
        raise StatementRefused([_("The CSV file has no header line with the columns of a bank statement. "
                                  "It needs at least a column “Betrag” (the amount) and a column "
                                  "“Verwendungszweck” (the reference), each named in the first line, "
                                  "e.g. Buchungstag;Betrag;Verwendungszweck;Name.")])
    header_at, delimiter, header = found
    keys = [_key(name) for name in header]
    columns: dict[str, int] = {}
    for field_name, names in _COLUMN_KEYS.items():
        for name in names:
            if name in keys:
                columns[field_name] = keys.index(name)
                break
    more_reference = [i for i, key in enumerate(keys) if _MORE_REFERENCE.fullmatch(key)
                      and i != columns.get("reference")]
    if "reference" not in columns and "text" in columns:
        columns["reference"] = columns.pop("text")
    reader = csv.reader(io.StringIO("\n".join(lines[header_at + 1:])), delimiter=delimiter)
    credits: list[dict] = []
    errors: list[str] = []
    ignored = 0
    line = header_at + 1
    try:
        for cells in reader:
            line = header_at + 1 + reader.line_num
            if not any(cell.strip() for cell in cells):
                continue

            def cell(name: str) -> str:
                index = columns.get(name)
                return cells[index].strip() if index is not None and index < len(cells) else ""

            amount_text, date_text = cell("amount"), cell("date")
            if not amount_text:
                # A closing line of some exports (balances, "Kontostand") has no amount.
                ignored += 1
                continue
            cents = _csv_cents(amount_text)
            try:
                booked = _date(date_text)
            except ValueError:
                booked = None
                errors.append(_("Line %(line)d: the date “%(date)s” cannot be read; please use "
                                "31.01.2026 or 2026-01-31.", line=line, date=_clean(date_text)[:20]))
            if cents is None:
                errors.append(_("Line %(line)d: the amount “%(amount)s” cannot be read; please use "
                                "1.234,56 or 1234.56.", line=line, amount=_clean(amount_text)[:20]))
                continue
            direction = cell("direction").upper()
            if cents <= 0 or direction in ("S", "SOLL", "D", "DEBIT", "DBIT"):
                ignored += 1  # money going out
                continue
            reference = " ".join(filter(None, (cell("reference"), *(
                cells[i].strip() for i in more_reference if i < len(cells)))))
            credits.append({
                "date": booked.isoformat() if booked else "", "amount": cents,
                "currency": (cell("currency") or "EUR").upper()[:3], "reference": _clean(reference),
                "name": _clean(cell("name")), "account": _clean(cell("account")).replace(" ", ""),
                "bank_ref": _clean(cell("bank_ref")), "entry_ref": "", "end_to_end": "",
                "position": str(line),
            })
    except csv.Error:
        raise StatementRefused([_("Line %(line)d: the file is not valid CSV here: a quotation mark may be "
                                  "missing.", line=line + 1)]) from None
    if errors:
        if len(errors) > MAX_ERRORS:
            errors = [*errors[:MAX_ERRORS], _("… and %(count)d more problems", count=len(errors) - MAX_ERRORS)]
        raise StatementRefused(errors)
    return Statement(CSV, credits, "", ignored)


def _find_header(lines: list[str]) -> tuple[int, str, list[str]] | None:
    """(line index, delimiter, names) of the first line naming an amount and a reference."""
    for index, line in enumerate(lines):
        delimiter = max((";", ",", "\t"), key=line.count)
        if not line.count(delimiter):
            continue
        try:
            names = next(csv.reader([line], delimiter=delimiter))
        except csv.Error:
            continue
        keys = {_key(name) for name in names}
        if keys & set(_COLUMN_KEYS["amount"]) and keys & set(_COLUMN_KEYS["reference"] + _COLUMN_KEYS["text"]):
            return index, delimiter, names
    return None


def _csv_cents(text: str) -> int | None:
    """Cents of an amount as banks write it: -1.234,56 · 1234,56 · +12,50 € · 12.50 · 12,50 EUR ·
    12,50- · 12,50 S (a debit comes out negative)."""
    text = text.replace("\xa0", " ").replace("EUR", "").replace("€", "").strip()
    negative = False
    if text.endswith(("S", "H")):
        negative, text = text.endswith("S"), text[:-1].strip()
    if text[:1] in "+-" and text:
        negative, text = negative or text[0] == "-", text[1:].strip()
    elif text.endswith("-"):
        negative, text = True, text[:-1].strip()
    if re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})+\.[0-9]{1,2}", text):  # 1,234.56
        text = text.replace(",", "")
    cents = euro_cents(text, grouped_thousands=False)
    if cents is None or cents > MAX_CENTS:
        return None
    return -cents if negative else cents


# -- identities ---------------------------------------------------------------------------------

def _identify(credits: list[dict]) -> None:
    """Give each credit its identity (see the module's text)."""
    seen: dict[str, int] = {}
    for credit in credits:
        if credit["bank_ref"]:
            identity = f"ref:{credit['bank_ref']}"[:255]
        else:
            content = "\x1f".join(str(credit[key]) for key in (
                "date", "amount", "currency", "reference", "name", "account", "end_to_end")).casefold()
            occurrence = seen[content] = seen.get(content, 0) + 1
            identity = "sha256:" + hashlib.sha256(f"{content}\x1f{occurrence}".encode()).hexdigest()
        credit["id"] = identity


# -- matching -----------------------------------------------------------------------------------

ORDER_NUMBER = re.compile(r"(?<![0-9])(20[0-9]{2})[ \t\-/._]{0,3}([0-9]{6})(?![0-9])")


def order_numbers(text: str) -> list[str]:
    """The order numbers a reference names, each once, as the shop writes them."""
    numbers: list[str] = []
    for year, serial in ORDER_NUMBER.findall(text or ""):
        number = f"{year}-{serial}"
        if number not in numbers:
            numbers.append(number)
    return numbers


@dataclass
class Match:
    credit: dict
    group: str
    reason: str = ""
    order: Order | None = None
    earlier: BankCredit | None = None  # ALREADY: how an earlier statement took it

    @property
    def difference(self) -> int:
        return self.credit["amount"] - self.order.total_cents if self.order is not None else 0


@dataclass
class Preview:
    matches: list[Match]
    groups: dict[str, list[Match]] = field(default_factory=dict)

    def __post_init__(self):
        self.groups = {group: [m for m in self.matches if m.group == group] for group in GROUPS}

    @property
    def sure_cents(self) -> int:
        return sum(m.credit["amount"] for m in self.groups[SURE])

    @property
    def fingerprint(self) -> str:
        """What applying would pay: compared when the admin confirms, so that nothing else is paid."""
        sure = sorted(f"{m.credit['id']}>{m.order.number}:{m.credit['amount']}"
                      for m in self.groups[SURE] if m.order is not None)
        return hashlib.sha256("\n".join(sure).encode()).hexdigest()[:32]


def classify(credits: list[dict]) -> Preview:
    """Each credit's group, against the orders and the credits imported so far (reads only)."""
    numbers_of = [order_numbers(c["reference"]) for c in credits]
    wanted = sorted({n for numbers in numbers_of for n in numbers})
    orders: dict[str, Order] = {}
    for chunk in _chunks(wanted):
        orders.update({o.number: o for o in Order.select(
            Order.id, Order.number, Order.status, Order.payment_status, Order.payment_method,
            Order.total_cents, Order.customer_name, Order.email).where(Order.number.in_(chunk))})
    earlier: dict[str, BankCredit] = {}
    for chunk in _chunks(sorted({c["id"] for c in credits})):
        earlier.update({b.identity: b for b in BankCredit.select(
            BankCredit.identity, BankCredit.statement, BankCredit.order, BankCredit.outcome)
            .where(BankCredit.identity.in_(chunk))})
    matches: list[Match] = []
    seen: set[str] = set()
    for credit, numbers in zip(credits, numbers_of):
        known = [orders[n] for n in numbers if n in orders]
        order = known[0] if len(known) == 1 else None
        if credit["id"] in earlier:
            matches.append(Match(credit, ALREADY, "imported", order, earlier[credit["id"]]))
        elif credit["id"] in seen:
            matches.append(Match(credit, HUMAN, "listed_twice", order))
        elif not numbers:
            matches.append(Match(credit, HUMAN, "no_number"))
        elif not known:
            matches.append(Match(credit, HUMAN, "unknown_number"))
        elif order is None:
            matches.append(Match(credit, HUMAN, "several_numbers"))
        else:
            matches.append(_compare(credit, order))
        seen.add(credit["id"])
    # One order, several credits: the first paying it exactly is the sure one, the others
    # are for a person to look at.
    first_sure: dict[int, int] = {}
    for index, match in enumerate(matches):
        if match.group == SURE and match.order is not None:
            first_sure.setdefault(match.order.id, index)
    for index, match in enumerate(matches):
        if (match.group in (SURE, PARTIAL, EXCESS) and match.order is not None
                and first_sure.get(match.order.id, index) != index):
            match.group, match.reason = HUMAN, "order_twice"
    return Preview(matches)


def _compare(credit: dict, order: Order) -> Match:
    if order.payment_method != PREPAYMENT:
        return Match(credit, HUMAN, "not_prepayment", order)
    if order.status == CANCELLED:
        return Match(credit, HUMAN, "cancelled", order)
    if order.status != AWAITING_PAYMENT or order.payment_status != UNPAID:
        return Match(credit, HUMAN, "paid_already", order)
    if credit["currency"] != "EUR":
        return Match(credit, HUMAN, "currency", order)
    if credit["amount"] == order.total_cents:
        return Match(credit, SURE, "", order)
    if credit["amount"] < order.total_cents:
        return Match(credit, PARTIAL, "partial", order)
    return Match(credit, EXCESS, "excess", order)


def _chunks(values: list, size: int = 500) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


# -- upload and apply ---------------------------------------------------------------------------

def receive(data: bytes, filename: str, actor: Actor) -> BankStatement:
    """Keep an uploaded statement's credits for its preview. Raises StatementRefused."""
    statement = read(data)
    if not statement.credits:
        raise StatementRefused([_("The statement holds no incoming payment (no booked credit).")])
    with write():
        kept = BankStatement.create(
            filename=filename, format=statement.format, account=statement.account,
            credits=statement.credits, credit_count=len(statement.credits),
            credit_cents=sum(c["amount"] for c in statement.credits), ignored=statement.ignored,
            key=secrets.token_urlsafe(24), created_by=actor.email)
        record(actor, "upload", "bank_statement", kept.id, filename, {
            "format": [None, statement.format], "credits": [None, len(statement.credits)]})
    return kept


def statement(statement_id: int) -> BankStatement | None:
    return BankStatement.get_or_none(BankStatement.id == statement_id)


def preview(kept: BankStatement) -> Preview:
    return classify(kept.credits)


@dataclass
class Applied:
    statement: BankStatement
    done: bool  # this request applied it
    changed: bool = False  # the preview differs from the one confirmed: nothing was written


def apply(settings, statement_id: int, key: str, fingerprint: str, actor: Actor) -> Applied | None:
    """Pay the sure matches of a statement, once: with the form's one-time key and the
    fingerprint of the preview the admin saw. None for no such statement."""
    with write():
        kept = locked(BankStatement.select().where(BankStatement.id == statement_id)).get_or_none()
        if kept is None:
            return None
        if kept.state != READY or not key or not secrets.compare_digest(kept.key, key):
            return Applied(kept, done=False)
        found = classify(kept.credits)
        if not secrets.compare_digest(found.fingerprint, fingerprint or ""):
            return Applied(kept, done=False, changed=True)
        result, counts = [], {group: 0 for group in GROUPS}
        paid_count = paid_cents = 0
        for match in found.matches:
            outcome = _take(settings, kept, match, actor)
            counts[outcome if outcome != PAID else SURE] += 1
            if outcome == PAID:
                paid_count += 1
                paid_cents += match.credit["amount"]
            result.append({"id": match.credit["id"], "outcome": outcome,
                           "reason": match.reason if outcome != PAID else "",
                           "order": match.order.number if match.order is not None else ""})
        BankStatement.update(state=APPLIED, key="", counts=counts, result=result, paid_count=paid_count,
                             paid_cents=paid_cents, applied_by=actor.email, applied_at=now()
                             ).where(BankStatement.id == kept.id).execute()
        record(actor, "apply", "bank_statement", kept.id, kept.filename, {
            "state": [READY, APPLIED], "paid": [None, paid_count], "paid_cents": [None, paid_cents],
            **{f"credits_{group}": [None, n] for group, n in counts.items() if n}})
        return Applied(BankStatement.get_by_id(kept.id), done=True)


def _take(settings, kept: BankStatement, match: Match, actor: Actor) -> str:
    """Keep one credit of the statement being applied, paying its order if it is a sure
    match; returns its outcome (ALREADY for one that another statement took meanwhile)."""
    if match.group == ALREADY:
        return ALREADY
    credit, order = match.credit, match.order
    outcome = PAID if match.group == SURE else match.group
    try:
        with db.atomic():  # a savepoint: a credit that cannot be kept leaves the others as they are
            BankCredit.create(
                identity=credit["id"], statement=kept.id, booked_on=credit["date"] or None,
                amount_cents=credit["amount"], currency=credit["currency"], reference=credit["reference"],
                name=credit["name"][:255], order=order.id if order is not None else None,
                outcome=outcome, reason=match.reason)
            if outcome == PAID and order is not None:
                service.transition(
                    settings, order, PAID, actor.email,
                    note=_("Bank transfer of %(date)s (statement %(file)s)",
                           date=credit["date"], file=kept.filename)[:500],
                    payment_reference=credit["reference"][:255], provider_id=credit["id"])
                record(actor, "paid", "order", order.id, order.number, {
                    "status": [AWAITING_PAYMENT, PAID], "bank_credit": [None, credit["id"]]})
    except IntegrityError:  # the credit was taken by another statement meanwhile
        return ALREADY
    except service.IllegalTransition:
        match.reason = "changed"
        return _take(settings, kept, Match(credit, HUMAN, "changed", order), actor)
    return outcome


def recent():
    """Every statement, for the back office's table (which orders and pages it)."""
    return BankStatement.select(
        BankStatement.id, BankStatement.filename, BankStatement.format, BankStatement.credit_count,
        BankStatement.credit_cents, BankStatement.state, BankStatement.paid_count, BankStatement.paid_cents,
        BankStatement.counts, BankStatement.created_by, BankStatement.created_at, BankStatement.applied_at)


# -- an example statement for the demo ---------------------------------------------------------

EXAMPLE_ORDERS = 50


def example_credits(today: dt.date) -> list[dict]:
    """Credits paying the open prepayment orders (the newest EXAMPLE_ORDERS), their
    references written in the ways customers write them, and one credit no order explains."""
    orders = list(Order.select(Order.number, Order.total_cents, Order.customer_name)
                  .where((Order.status == AWAITING_PAYMENT) & (Order.payment_method == PREPAYMENT))
                  .order_by(Order.placed_at.desc(), Order.id.desc()).limit(EXAMPLE_ORDERS))
    ways = ("{number}", "Best.-Nr. {number}", "Bestellung {year} {serial}", "{year}{serial} Danke")
    credits = []
    for index, order in enumerate(reversed(orders)):
        year, serial = order.number.split("-", 1)
        credits.append({"date": today.isoformat(), "amount": order.total_cents,
                        "reference": ways[index % len(ways)].format(number=order.number, year=year, serial=serial),
                        "name": order.customer_name or "Kundin", "bank_ref": f"DEMO{today:%Y%m%d}{index + 1:05d}"})
    credits.append({"date": today.isoformat(), "amount": 1999, "reference": "Gutschrift Lieferant Rg 4711",
                    "name": "Großhandel Beispiel GmbH", "bank_ref": f"DEMO{today:%Y%m%d}99999"})
    return credits


def example_csv(credits: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Buchungstag", "Betrag", "Verwendungszweck", "Name", "Referenz"])
    for c in credits:
        day = dt.date.fromisoformat(c["date"])
        euros = f"{c['amount'] // 100:,}".replace(",", ".") + f",{c['amount'] % 100:02d}"
        writer.writerow([f"{day:%d.%m.%Y}", euros, c["reference"], c["name"], c["bank_ref"]])
    return out.getvalue()


def example_camt(credits: list[dict], iban: str, holder: str) -> str:
    from xml.sax.saxutils import escape

    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    entries = []
    for c in credits:
        amount = f"{c['amount'] // 100}.{c['amount'] % 100:02d}"
        entries.append(f"""      <Ntry>
        <Amt Ccy="EUR">{amount}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>{c['date']}</Dt></BookgDt>
        <ValDt><Dt>{c['date']}</Dt></ValDt>
        <AcctSvcrRef>{escape(c['bank_ref'])}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><AcctSvcrRef>{escape(c['bank_ref'])}</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
          <Amt Ccy="EUR">{amount}</Amt>
          <CdtDbtInd>CRDT</CdtDbtInd>
          <RltdPties><Dbtr><Pty><Nm>{escape(c['name'])}</Nm></Pty></Dbtr></RltdPties>
          <RmtInf><Ustrd>{escape(c['reference'])}</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>""")
    day = credits[0]["date"] if credits else dt.date.today().isoformat()
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>DEMO-{stamp}</MsgId><CreDtTm>{stamp}</CreDtTm></GrpHdr>
    <Stmt>
      <Id>DEMO-{day}</Id>
      <CreDtTm>{stamp}</CreDtTm>
      <Acct><Id><IBAN>{escape(iban.replace(' ', ''))}</IBAN></Id><Ccy>EUR</Ccy><Ownr><Nm>{escape(holder)}</Nm></Ownr></Acct>
{chr(10).join(entries)}
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""
