"""What the catalogue pages show, each in a small, fixed number of queries."""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Hashable

from peewee import SQL, fn

from shop.i18n import _

from .models import CatalogVersion, Category, Product, ProductImage, SlugRedirect
from .search import matching, terms

FEATURED_SIZE = 12
NEWEST_SIZE = 6
RELATED_SIZE = 4


@dataclass
class HomePage:
    categories: list[Category]
    featured: list[Product]
    newest: list[Product]
    version: tuple[str, int]


@dataclass
class ProductPage:
    product: Product
    categories: list[Category]
    breadcrumb: list[Category]
    images: list[ProductImage]
    related: list[Product]
    version: tuple[str, int]


@dataclass
class Listing:
    """One page of the catalogue for a set of filters, with counts per category."""

    filters: dict
    categories: list[Category]
    category: Category | None
    products: list[Product]
    total: int
    page: int
    pages: int
    counts: dict[int, int] = field(default_factory=dict)
    version: tuple[str, int] = ("", 0)

    def query(self, **changes) -> dict:
        """URL query parameters for these filters with some changed (e.g. `page=2`)."""
        return query_params(self.filters, **changes)

    @property
    def heading(self) -> str:
        if self.filters["q"]:
            return _("Search: %(query)s", query=self.filters["q"])
        return self.category.name if self.category else _("All products")


class VersionedCache:
    """Results that stay valid while the catalogue version stays the same (LRU, per process).
    The version may be anything hashable that changes when the result would."""

    def __init__(self, size: int = 1024):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: Hashable, key: Hashable, compute: Callable):
        key = (version, key)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


cache = VersionedCache()


def category_tree(version: tuple[str, int]) -> list[Category]:
    return _categories(version)[0]


def all_categories(version: tuple[str, int]) -> list[Category]:
    """Every category, hidden ones too, as the back office lists them."""
    return cache.get(version, "categories-all", lambda: Category.tree(with_hidden=True))


def hidden_categories(version: tuple[str, int]) -> list[int]:
    """Inactive categories and the subcategories of inactive ones: their products are
    not shown in the shop."""
    return _categories(version)[1]


def _categories(version: tuple[str, int]) -> tuple[list[Category], list[int]]:
    def compute():
        rows = list(Category.select().order_by(Category.position, Category.name))
        tree = Category.arrange(rows)
        shown_ids = {c.id for c in tree}
        return tree, [c.id for c in rows if c.id not in shown_ids]
    return cache.get(version, "categories", compute)


def shown(query, version: tuple[str, int]):
    """`query` (over products) without the products of hidden categories."""
    hidden = hidden_categories(version)
    return query.where(Product.category.not_in(hidden)) if hidden else query


def navigation() -> list[Category]:
    """The categories for the header of any page."""
    return category_tree(CatalogVersion.current())


class CategoryNotFound(LookupError):
    pass


class PageNotFound(LookupError):
    def __init__(self, last_page: int):
        super().__init__(last_page)
        self.last_page = last_page


def query_params(filters: dict, **changes) -> dict:
    """URL query parameters for `filters` with some changed; defaults are left out."""
    f = {**filters, **changes}
    return {
        "q": f["q"],
        "category": f["category"],
        "min_price": _euros(f["min_price"]),
        "max_price": _euros(f["max_price"]),
        "in_stock": "1" if f["in_stock"] else "",
        "sort": "" if f["sort"] == "relevance" else f["sort"],
        "page": "" if f["page"] == 1 else f["page"],
    }


def home_page() -> HomePage:
    version = CatalogVersion.current()
    cards = shown(_cards(), version)
    featured = cards.where(Product.featured == True)  # noqa: E712
    return HomePage(
        categories=category_tree(version),
        featured=list(featured.order_by(Product.created_at.desc()).limit(FEATURED_SIZE)),
        newest=list(cards.order_by(Product.created_at.desc(), Product.id.desc()).limit(NEWEST_SIZE)),
        version=version,
    )


def product_page(slug: str) -> ProductPage | None:
    version = CatalogVersion.current()
    product = shown(Product.visible(), version).where(Product.slug == slug).get_or_none()
    if product is None:
        return None
    categories = category_tree(version)
    by_id = {c.id: c for c in categories}
    parent = by_id.get(product.category.parent_id)
    breadcrumb = [parent, product.category] if parent else [product.category]
    related_ids = cache.get(version, ("related", product.category_id), lambda: [
        row[0] for row in Product.cards().select(Product.id)
        .where(Product.category == product.category_id)
        .order_by(Product.featured.desc(), Product.created_at.desc())
        .limit(RELATED_SIZE + 1).tuples()
    ])
    related = _products_in_order([i for i in related_ids if i != product.id][:RELATED_SIZE])
    images = ProductImage.select().where(ProductImage.product == product).order_by(ProductImage.position)
    return ProductPage(product, categories, breadcrumb, list(images), related, version)


def current_slug(old_slug: str) -> str | None:
    """The address of the shown product that once had `old_slug` as its own, if any."""
    version = CatalogVersion.current()
    product = (shown(Product.visible(), version).join_from(Product, SlugRedirect)
               .where(SlugRedirect.old_slug == old_slug).get_or_none())
    return product.slug if product else None


def listing(filters: dict, page_size: int) -> Listing:
    version = CatalogVersion.current()
    categories = category_tree(version)
    category = None
    if filters["category"]:
        category = next((c for c in categories if c.slug == filters["category"]), None)
        if category is None:
            raise CategoryNotFound(filters["category"])

    query = shown(Product.select().where(Product.active == True), version)  # noqa: E712
    words = terms(filters["q"])
    rank = None
    if words:
        query, rank = matching(query, words)
    elif filters["q"]:
        query = query.where(SQL("1 = 0"))  # a search without a single word finds nothing
    if filters["min_price"] is not None:
        query = query.where(Product.price_cents >= filters["min_price"])
    if filters["max_price"] is not None:
        query = query.where(Product.price_cents <= filters["max_price"])
    if filters["in_stock"]:
        query = query.where(Product.stock > 0)

    counts_key = ("counts", tuple(words), filters["min_price"], filters["max_price"], filters["in_stock"])
    counts = cache.get(version, counts_key, lambda: _counts_per_category(query, categories))
    if category is None:
        total = sum(counts[c.id] for c in categories if c.parent_id is None)
    else:
        total = counts[category.id]
        ids = [category.id] + [c.id for c in getattr(category, "subcategories", [])]
        query = query.where(Product.category.in_(ids))

    pages = max(1, math.ceil(total / page_size))
    page = filters["page"]
    if page > pages:
        raise PageNotFound(pages)
    page_key = counts_key + (category and category.id, filters["sort"], page, page_size)
    ids = cache.get(version, page_key, lambda: [
        row[0] for row in query.select(Product.id)
        .order_by(*_ordering(filters["sort"], rank)).paginate(page, page_size).tuples()
    ])
    products = _products_in_order(ids)
    return Listing(filters, categories, category, list(products), total, page, pages, counts, version)


def _cards():
    """What a product card shows, with its picture's renditions."""
    return Product.cards().select_extend(Product.image_widths)


def _products_in_order(ids: list[int]) -> list[Product]:
    if not ids:
        return []
    rows = {p.id: p for p in _cards().where(Product.id.in_(ids))}
    return [rows[i] for i in ids if i in rows]


def _euros(cents: int | None) -> str:
    if cents is None:
        return ""
    return f"{cents // 100}" if cents % 100 == 0 else f"{cents // 100}.{cents % 100:02d}"


def _counts_per_category(query, categories: list[Category]) -> dict[int, int]:
    """Matches per category; a top-level category also counts its subcategories'."""
    rows = (
        query.select(Product.category, fn.COUNT(Product.id))
        .group_by(Product.category)
        .tuples()
    )
    counts = {c.id: 0 for c in categories}
    parents = {c.id: c.parent_id for c in categories}
    for category_id, count in rows:
        if category_id not in counts:
            continue  # not in the two-level tree (a broken import); listed nowhere
        counts[category_id] += count
        if parents[category_id]:
            counts[parents[category_id]] += count
    return counts


def _ordering(sort: str, rank) -> list:
    if sort == "price_asc":
        return [Product.price_cents.asc(), Product.id.asc()]
    if sort == "price_desc":
        return [Product.price_cents.desc(), Product.id.desc()]
    if sort == "newest":
        return [Product.created_at.desc(), Product.id.desc()]
    if sort == "name":
        return [Product.name.asc(), Product.id.asc()]
    if rank is not None:
        return [rank, Product.id.asc()]
    return [Product.featured.desc(), Product.created_at.desc(), Product.id.desc()]
