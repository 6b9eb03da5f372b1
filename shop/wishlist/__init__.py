"""The wishlist."""
