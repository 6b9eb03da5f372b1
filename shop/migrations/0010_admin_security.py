"""Sign-in hardening and the customers' back office: accounts that can be locked, a
second factor (TOTP) with single-use recovery codes, and indexes to sort and search
100,000 customers by (when they registered: 0012)."""
from peewee import *


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class User(Base):
        class Meta:
            table_name = "user"

    class RecoveryCode(Base):
        user = ForeignKeyField(User, on_delete="CASCADE")
        code_hash = CharField()
        created_at = DateTimeField()
        used_at = DateTimeField(null=True)

        class Meta:
            indexes = ((("user", "code_hash"), True),)

    db.create_tables([RecoveryCode])
    migrator.migrate(
        migrator.add_column("user", "locked_at", DateTimeField(null=True)),
        migrator.add_column("user", "totp_secret", CharField(null=True)),
        migrator.add_column("user", "totp_enabled_at", DateTimeField(null=True)),
        # The time step of the last code accepted: a code is good once.
        migrator.add_column("user", "totp_last_step", BigIntegerField(null=True)),
        migrator.add_index("user", ("name",), False),
        migrator.add_index("user", ("role",), False),
    )
