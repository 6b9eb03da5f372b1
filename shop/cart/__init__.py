"""The shopping cart."""
from .routes import routes

__all__ = ["routes"]
