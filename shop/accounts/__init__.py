"""Customer accounts: registration, sign-in, password reset, the account page."""
from .routes import routes

__all__ = ["routes"]
