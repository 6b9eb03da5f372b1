"""The wishlist."""
from .routes import routes

__all__ = ["routes"]
