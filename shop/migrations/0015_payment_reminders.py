"""Bank-transfer orders left unpaid: when each was reminded (at most once), and an index
that finds the unpaid transfers of an age without reading the other orders."""
from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("order", "payment_reminded_at", DateTimeField(null=True)),
        migrator.add_index("order", ("payment_method", "status", "placed_at"), False),
    )
