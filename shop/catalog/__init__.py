"""The catalogue: categories, products, search and the pages that show them."""
from . import cards  # noqa: F401  (registers the product_card template global)
from .routes import routes

__all__ = ["routes"]
