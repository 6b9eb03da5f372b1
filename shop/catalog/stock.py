"""Stock as a ledger: every change of a product's stock is a StockMovement with its
reason and who caused it, written in the same transaction as the change, so a product's
stock always equals the sum of its movements."""
from __future__ import annotations

from peewee import JOIN, fn

from shop.db import db, locked

from .models import (  # noqa: F401  (the reasons, for callers)
    CANCELLATION, CORRECTION, DAMAGE, ORDER, RECEIVED, RETURN, STOCK_REASONS, STOCKTAKING, Product, StockMovement,
)

MAX_STOCK = 10_000_000


class NotEnoughStock(Exception):
    """The change would make the stock negative; nothing was changed."""


def move(product_id: int, change: int, reason: str, actor: str, *, note: str = "",
         order_number: str | None = None, only_active: bool = False) -> bool:
    """Add `change` (negative: take) to the stock, never below zero. Returns False, and
    changes nothing, when there is not enough (or the product is inactive and
    `only_active` asks for an active one). Call inside a write transaction."""
    assert reason in STOCK_REASONS, reason
    if change == 0:
        return True
    query = Product.update(stock=Product.stock + change).where(Product.id == product_id)
    if change < 0:
        query = query.where(Product.stock >= -change)
    if only_active:
        query = query.where(Product.active == True)  # noqa: E712
    if not query.execute():
        return False
    StockMovement.create(product=product_id, change=change, reason=reason, actor=actor,
                         note=note[:255], order_number=order_number)
    return True


def set_count(product_id: int, count: int, reason: str, actor: str, note: str = "") -> int:
    """Set the stock to `count` (a stocktaking, a correction); returns the change made.
    Call inside a write transaction."""
    if not 0 <= count <= MAX_STOCK:
        raise NotEnoughStock(count)
    current = locked(Product.select(Product.stock).where(Product.id == product_id)).scalar()
    if current is None:
        raise LookupError(f"no product {product_id}")
    change = count - current
    move(product_id, change, reason, actor, note=note)
    return change


def movements(product_id: int, limit: int = 100) -> list[StockMovement]:
    """A product's latest movements, newest first."""
    return list(
        StockMovement.select()
        .where(StockMovement.product == product_id)
        .order_by(StockMovement.created_at.desc(), StockMovement.id.desc())
        .limit(limit)
    )


def mismatches() -> list[tuple]:
    """(product id, stock, sum of movements) for every product whose stock disagrees
    with its ledger; empty when the books are right."""
    total = fn.COALESCE(fn.SUM(StockMovement.change), 0)
    query = (
        Product.select(Product.id, Product.stock, total)
        .join(StockMovement, JOIN.LEFT_OUTER)
        .group_by(Product.id, Product.stock)
        .having(total != Product.stock)
    )
    return [tuple(row) for row in db.execute(query).fetchall()]
