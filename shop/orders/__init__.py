"""Orders: placing them, their lifecycle, and the order page."""
from .routes import routes

__all__ = ["routes"]
