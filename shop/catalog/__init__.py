"""The catalogue: categories, products, search and the pages that show them."""
from .routes import routes

__all__ = ["routes"]
