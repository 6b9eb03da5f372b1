"""Orders: placing them, their lifecycle, and the order page."""
