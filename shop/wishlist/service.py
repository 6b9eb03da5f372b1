"""Wishlists: keep products, move them to the cart, hear when a sold-out one is back."""
from __future__ import annotations

from shop.mail import outbox
from shop.accounts.models import User
from shop.catalog.models import Product
from shop.db import write
from shop.i18n import _, in_language

from .models import WishlistItem


def wished_ids(user_id: int | None, product_ids: list[int]) -> set[int]:
    if not user_id or not product_ids:
        return set()
    query = WishlistItem.select(WishlistItem.product).where(
        (WishlistItem.user == user_id) & WishlistItem.product.in_(product_ids))
    return {row.product_id for row in query}


def set_wished(user_id: int, product_id: int, wanted: bool) -> str | None:
    """Put the product on the wishlist or take it off (the same answer when repeated);
    returns the product's name, None for a product that is not for sale."""
    name = Product.select(Product.name).where((Product.id == product_id) & (Product.active == True)).scalar()  # noqa: E712
    if name is None:
        return None
    with write():
        WishlistItem.delete().where((WishlistItem.user == user_id) & (WishlistItem.product == product_id)).execute()
        if wanted:
            stock = Product.select(Product.stock).where(Product.id == product_id).scalar()
            WishlistItem.create(user=user_id, product=product_id, waiting_for_stock=stock == 0)
    return name


def items(user_id: int) -> list[WishlistItem]:
    return list(WishlistItem.select(WishlistItem, Product).join(Product)
                .where((WishlistItem.user == user_id) & (Product.active == True))  # noqa: E712
                .order_by(WishlistItem.created_at.desc()))


def notify_back_in_stock(settings) -> int:
    """Mail the customers whose wished product was sold out and is back; returns how many.
    Run by the worker each round."""
    with write():
        WishlistItem.update(waiting_for_stock=True).where(
            WishlistItem.product.in_(Product.select(Product.id).where(Product.stock == 0))
            & (WishlistItem.waiting_for_stock == False)).execute()  # noqa: E712
        back = list(
            WishlistItem.select(WishlistItem, Product, User).join(Product).switch(WishlistItem).join(User)
            .where(WishlistItem.waiting_for_stock & (Product.stock > 0) & (Product.active == True))  # noqa: E712
        )
        for item in back:
            with in_language(item.user.language):
                subject = _("%(name)s is available again", name=item.product.name)
                try:
                    outbox.enqueue(outbox.compose(
                        settings, item.user.email, subject, "wishlist_back_in_stock",
                        {"user": item.user, "product": item.product,
                         "link": outbox.link(settings, "catalog:product_detail", slug=item.product.slug)}))
                except Exception as error:  # noqa: BLE001 - one broken mail never stops the others
                    outbox.enqueue_failed(item.user.email, subject, error)
            WishlistItem.update(waiting_for_stock=False).where(WishlistItem.id == item.id).execute()
        return len(back)
