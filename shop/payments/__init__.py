"""Payments: bank transfer, Stripe Checkout and PayPal behind one seam (see providers.py)."""
