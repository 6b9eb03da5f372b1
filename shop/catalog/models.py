"""The catalogue: categories (two levels), products, their images and price history."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import TYPE_CHECKING

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    Check,
    DateTimeField,
    DecimalField,
    ForeignKeyField,
    IntegerField,
    TextField,
    fn,
)

from shop.db import BaseModel, JSONField, db, now
from shop.pricing import round_cents

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*", re.ASCII)
VAT_RATES = (19, 7)
CONTENT_UNITS = ("g", "kg", "ml", "l", "m")
# The unit a German unit price is quoted in (PAngV §4), and how many content
# units make one of it.
BASE_UNITS = {"g": ("kg", 1000), "kg": ("kg", 1), "ml": ("l", 1000), "l": ("l", 1), "m": ("m", 1)}


class Category(BaseModel):
    if TYPE_CHECKING:
        parent_id: int | None
        subcategories: list[Category]

    slug = CharField(unique=True)
    name = CharField()
    parent = ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    position = IntegerField(default=0)
    description = TextField(default="")
    # An inactive category, with its subcategories and their products, is hidden in the shop.
    active = BooleanField(default=True)

    class Meta:
        indexes = ((("parent", "position"), False),)

    @classmethod
    def tree(cls, with_hidden: bool = False) -> list[Category]:
        """The categories in display order: each top level followed by its children;
        only those the shop shows, unless `with_hidden`."""
        return cls.arrange(list(cls.select().order_by(cls.position, cls.name)), with_hidden)

    @staticmethod
    def arrange(rows: list[Category], with_hidden: bool = False) -> list[Category]:
        """`rows` (in display order) as the tree: each top level followed by its children."""
        children: dict[int | None, list[Category]] = {}
        for row in rows:
            if row.active or with_hidden:
                children.setdefault(row.parent_id, []).append(row)
        ordered = []
        for top in children.get(None, []):
            top.subcategories = children.get(top.id, [])
            ordered.append(top)
            ordered.extend(top.subcategories)
        return ordered


class Product(BaseModel):
    if TYPE_CHECKING:
        category_id: int
        category_name: str | None  # where a query selects it (the back office's table)

    sku = CharField(unique=True)
    slug = CharField(unique=True)
    name = CharField()
    description = TextField(default="")
    category = ForeignKeyField(Category, backref="products", on_delete="RESTRICT")
    price_cents = IntegerField(constraints=[Check("price_cents >= 0")])
    vat_rate = IntegerField(default=19, constraints=[Check("vat_rate IN (19, 7)")])
    stock = IntegerField(default=0, constraints=[Check("stock >= 0")])
    active = BooleanField(default=True)
    featured = BooleanField(default=False)
    image = CharField(default="")
    content_quantity = DecimalField(max_digits=12, decimal_places=3, null=True)
    content_unit = CharField(null=True)
    manufacturer = TextField(default="")
    responsible_person = TextField(default="")
    product_identifier = CharField(default="")
    warnings = TextField(default="")
    ean = CharField(default="")  # GTIN-13 or GTIN-8, check digit verified
    # The width of each WebP rendition of `image`, e.g. "320 640 1280"; empty for a single file.
    image_widths = CharField(default="")
    low_stock_threshold = IntegerField(null=True)  # None: the shop's default
    # Raised by every back-office save, so a save made on an older copy is refused.
    version = IntegerField(default=1)
    created_at = DateTimeField(default=now)
    updated_at = DateTimeField(default=now)

    class Meta:
        indexes = (
            (("active", "category", "price_cents"), False),
            (("active", "category", "featured", "created_at"), False),
            (("active", "category", "created_at"), False),
            (("active", "category", "name"), False),
            (("active", "featured", "created_at"), False),
            (("active", "created_at"), False),
            (("active", "price_cents"), False),
            (("active", "name"), False),
        )

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    @property
    def unit_price(self) -> tuple[int, str] | None:
        """The price per kg, l or m in cents, and that unit, where a content is set."""
        if not self.content_quantity or self.content_unit not in BASE_UNITS:
            return None
        base_unit, per_base = BASE_UNITS[self.content_unit]
        cents = Decimal(self.price_cents) * per_base / Decimal(self.content_quantity)
        return round_cents(cents), base_unit

    def save(self, *args, **kwargs):
        """Saving a new price also records it in the price history (PAngV §11); a new
        product's stock becomes its first stock movement."""
        created = self.id is None
        price_changed = created or "price_cents" in self._dirty
        self.updated_at = now()
        result = super().save(*args, **kwargs)
        if price_changed:
            PriceChange.create(product=self, price_cents=self.price_cents, changed_at=self.updated_at)
        if created and self.stock:
            # A new product's stock opens its ledger; later changes go through `stock.move`.
            StockMovement.create(product=self, change=self.stock, reason=STOCKTAKING,
                                 created_at=self.updated_at)
        return result

    @classmethod
    def visible(cls):
        return cls.select(cls, Category).join(Category).where(cls.active == True)  # noqa: E712

    @classmethod
    def cards(cls):
        """Active products with just what a product card shows."""
        return cls.select(
            cls.id, cls.slug, cls.name, cls.image, cls.price_cents, cls.stock,
            cls.content_quantity, cls.content_unit,
        ).where(cls.active == True)  # noqa: E712

    def lowest_price_since(self, days: int = 30) -> int:
        """The lowest price of the last `days` days, as PAngV §11 asks next to a reduction."""
        since = now() - dt.timedelta(days=days)
        lowest = (
            PriceChange.select(fn.MIN(PriceChange.price_cents))
            .where((PriceChange.product == self) & (PriceChange.changed_at >= since))
            .scalar()
        )
        before = (
            PriceChange.select(PriceChange.price_cents)
            .where((PriceChange.product == self) & (PriceChange.changed_at < since))
            .order_by(PriceChange.changed_at.desc())
            .limit(1)
            .scalar()
        )
        candidates = [p for p in (lowest, before, self.price_cents) if p is not None]
        return min(candidates)


class ProductImage(BaseModel):
    """Further pictures of a product; the first one is also `Product.image`."""

    if TYPE_CHECKING:
        product_id: int

    product = ForeignKeyField(Product, backref="images", on_delete="CASCADE")
    filename = CharField()
    alt = CharField(default="")
    position = IntegerField(default=0)
    widths = CharField(default="")  # as `Product.image_widths`

    class Meta:
        indexes = ((("product", "position"), False),)


class PriceChange(BaseModel):
    product = ForeignKeyField(Product, backref="price_changes", on_delete="CASCADE")
    price_cents = IntegerField()
    changed_at = DateTimeField(default=now)

    class Meta:
        indexes = ((("product", "changed_at"), False),)


class SlugRedirect(BaseModel):
    """A product's former address, answered with a 301 to its current one."""

    old_slug = CharField(unique=True)
    product = ForeignKeyField(Product, backref="old_slugs", on_delete="CASCADE")
    created_at = DateTimeField(default=now)


# Why stock changed. Every change of `Product.stock` is a StockMovement.
ORDER, CANCELLATION, RETURN, RECEIVED, STOCKTAKING, DAMAGE, CORRECTION = (
    "order", "cancellation", "return", "received", "stocktaking", "damage", "correction")
STOCK_REASONS = (ORDER, CANCELLATION, RETURN, RECEIVED, STOCKTAKING, DAMAGE, CORRECTION)


class StockMovement(BaseModel):
    """One change of a product's stock; a product's stock is the sum of its movements."""

    product = ForeignKeyField(Product, backref="stock_movements", on_delete="CASCADE")
    change = IntegerField()
    reason = CharField()
    note = CharField(default="")
    actor = CharField(default="")  # who caused it: an admin's email, a customer order, "import"
    order_number = CharField(null=True)
    created_at = DateTimeField(default=now)

    class Meta:
        indexes = ((("product", "created_at"), False),)


class ImportJob(BaseModel):
    """A CSV file uploaded in the back office, from preview to the end of its import."""

    kind = CharField(default="")  # "products" or "categories"
    filename = CharField()  # as uploaded, for display only
    path = CharField()  # the stored copy
    state = CharField(default="checking", index=True)  # checking, ready, failed, importing, done
    total_rows = IntegerField(default=0)
    done_rows = IntegerField(default=0)
    preview = JSONField(null=True)  # counts and the first rows to create, update, keep
    errors = JSONField(null=True)
    result = JSONField(null=True)
    created_by = CharField(default="")
    created_at = DateTimeField(default=now)
    updated_at = DateTimeField(default=now)


class CatalogVersion(BaseModel):
    """Changes (by database triggers) whenever categories or listed products change."""

    epoch = CharField()
    version = BigIntegerField()

    @classmethod
    def current(cls) -> tuple[str, int]:
        # Asked on nearly every request: plain SQL, as building the query with Peewee
        # took longer than running it.
        return db.execute_sql(f"SELECT epoch, version FROM {cls._meta.table_name} WHERE id = 1").fetchone()
