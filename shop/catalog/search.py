"""Full-text search over the catalogue.

SQLite uses an FTS5 table ranked by bm25; PostgreSQL a tsvector with the German
configuration ranked by ts_rank. Both index `searchable()` text and search for
`terms()`, so "Müsli", "Muesli" and "musli" all find a "Müsli".
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Iterable

from peewee import Expression, ForeignKeyField, TextField, fn
from playhouse.sqlite_ext import FTS5Model, RowIDField, SearchField

from shop.db import BaseModel, db, is_postgres

from .models import Category, Product

MAX_TERMS = 8
MAX_TERM_LENGTH = 40
_WORD = re.compile(r"\w+")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def _strip_diacritics(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Lowercase, umlauts spelled out (ü -> ue, ß -> ss), other accents dropped."""
    return _strip_diacritics(text.lower().translate(_UMLAUTS))


def searchable(text: str) -> str:
    """Text as indexed: folded, and each umlaut word once more without its dots,
    so "Müsli" is found as "müsli", "muesli" and "musli"."""
    return " ".join(map(_indexed_word, _WORD.findall(text.lower())))


@lru_cache(maxsize=8192)
def _indexed_word(word: str) -> str:
    """One lowercase word as indexed. Kept for the words seen last: a catalogue repeats
    most of its words, and folding them took much of an import's time."""
    folded = fold(word)
    if any(c in word for c in "äöü"):
        return f"{folded} {_strip_diacritics(word.replace('ß', 'ss'))}"
    return folded


def terms(query: str) -> list[str]:
    """The search words of a query, folded; at most MAX_TERMS of them."""
    return [t[:MAX_TERM_LENGTH] for t in _WORD.findall(fold(query))][:MAX_TERMS]


class SqliteProductSearch(FTS5Model):
    rowid = RowIDField()
    name = SearchField()
    body = SearchField()

    class Meta:
        database = db
        table_name = "product_search"
        options = {"tokenize": "unicode61 remove_diacritics 2", "prefix": "2 3"}


class PgProductSearch(BaseModel):
    product = ForeignKeyField(Product, primary_key=True, on_delete="CASCADE")
    document = TextField()  # a tsvector; created as such by the migration

    class Meta:
        table_name = "product_search"


def _documents(products: Iterable[Product]) -> list[tuple[int, str, str]]:
    categories = {c.id: c for c in Category.select()}
    rows = []
    for p in products:
        category = categories[p.category_id]
        parent = categories.get(category.parent_id)
        body = " ".join(
            filter(None, [p.description, category.name, parent and parent.name, p.sku,
                          p.product_identifier, p.ean, p.manufacturer.split(",")[0]])
        )
        rows.append((p.id, searchable(p.name), searchable(body)))
    return rows


def index_products(products: Iterable[Product]) -> None:
    """(Re)index these products; call inside the transaction that saved them."""
    rows = _documents(products)
    if not rows:
        return
    ids = [r[0] for r in rows]
    if is_postgres():
        for chunk in _chunks(rows, 500):
            values = ", ".join(["(%s, setweight(to_tsvector('german', %s), 'A') || "
                                "setweight(to_tsvector('german', %s), 'B'))"] * len(chunk))
            params = [v for row in chunk for v in row]
            db.execute_sql(
                f"INSERT INTO product_search (product_id, document) VALUES {values} "
                "ON CONFLICT (product_id) DO UPDATE SET document = EXCLUDED.document",
                params,
            )
    else:
        for chunk in _chunks(ids, 500):
            SqliteProductSearch.delete().where(SqliteProductSearch.rowid.in_(chunk)).execute()
        for chunk in _chunks(rows, 300):
            SqliteProductSearch.insert_many(
                chunk, fields=[SqliteProductSearch.rowid, SqliteProductSearch.name,
                               SqliteProductSearch.body]
            ).execute()


def matching(query, words: list[str]):
    """Restrict a Product query to the words; returns (query, rank ordering)."""
    if is_postgres():
        tsquery = _tsquery(words)
        query = query.join(
            PgProductSearch, on=(PgProductSearch.product == Product.id)
        ).where(Expression(PgProductSearch.document, "@@", tsquery))
        return query, fn.ts_rank(PgProductSearch.document, tsquery).desc()
    match = _fts_match(words)
    query = query.join(
        SqliteProductSearch, on=(SqliteProductSearch.rowid == Product.id)
    ).where(SqliteProductSearch.match(match))
    return query, SqliteProductSearch.bm25(10.0, 1.0).asc()


def matching_ids(words: list[str], names_only: bool = False):
    """A subquery of the ids of products that match the words (no ranking); with
    `names_only`, in their names (not descriptions, categories or codes)."""
    if is_postgres():
        tsquery = _tsquery(words, "A" if names_only else "")
        return PgProductSearch.select(PgProductSearch.product).where(
            Expression(PgProductSearch.document, "@@", tsquery))
    match = _fts_match(words)
    return SqliteProductSearch.select(SqliteProductSearch.rowid).where(
        SqliteProductSearch.match(f"name : ({match})" if names_only else match))


def _tsquery(words: list[str], weight: str = ""):
    """PostgreSQL: every word, as a prefix (only where weighted `weight`: "A" is the name)."""
    return fn.to_tsquery("german", " & ".join(f"'{w}':*{weight}" for w in words))


def _fts_match(words: list[str]) -> str:
    """SQLite FTS5: every word, as a prefix."""
    return " ".join(f'"{w}"*' for w in words)


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]
