"""The dashboard's figures: when a cart's checkout was started (the funnel carts →
checkouts → orders), and the indexes that let the dashboard count carts, checkouts and
new customers of the last 30 days without reading every row."""
from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("cart", "checkout_started_at", DateTimeField(null=True)),
        migrator.add_index("cart", ("created_at",), False),
        migrator.add_index("cart", ("checkout_started_at",), False),
    )
    # New customers by date (the back office's customer list may have made it already).
    db.execute_sql('CREATE INDEX IF NOT EXISTS "user_created_at" ON "user" ("created_at")')
