"""The three-step checkout."""
from .routes import routes

__all__ = ["routes"]
