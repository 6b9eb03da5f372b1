"""The three-step checkout."""
