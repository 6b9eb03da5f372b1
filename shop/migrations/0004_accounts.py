"""Accounts and their server-side sessions."""
from peewee import *


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class User(Base):
        email = CharField(unique=True)
        password_hash = CharField()
        name = CharField()
        role = CharField(default="customer")
        email_verified_at = DateTimeField(null=True)
        language = CharField(default="de")
        created_at = DateTimeField()
        updated_at = DateTimeField()

    class UserSession(Base):
        key_hash = CharField(unique=True)
        user = ForeignKeyField(User, on_delete="CASCADE")
        created_at = DateTimeField()
        last_seen_at = DateTimeField()
        expires_at = DateTimeField(index=True)
        user_agent = CharField(default="")

    db.create_tables([User, UserSession])
