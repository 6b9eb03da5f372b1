"""A version number that changes whenever an order is placed, changed or removed: the
back office's orders table caches its counts under it (triggers bump it, so every
writer, the app, a command or raw SQL, invalidates them)."""
import uuid

from peewee import *


def up(migrator, db):
    db.execute_sql(
        "CREATE TABLE order_version (id INTEGER PRIMARY KEY, epoch VARCHAR(36) NOT NULL, version BIGINT NOT NULL)"
    )
    db.execute_sql(f"INSERT INTO order_version (id, epoch, version) VALUES (1, {db.param}, 0)", [str(uuid.uuid4())])
    bump = "UPDATE order_version SET version = version + 1 WHERE id = 1"
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(
            "CREATE FUNCTION bump_order_version() RETURNS trigger AS $$ BEGIN "
            f"{bump}; RETURN NULL; END $$ LANGUAGE plpgsql"
        )
        db.execute_sql(
            'CREATE TRIGGER order_version_change AFTER INSERT OR UPDATE OR DELETE ON "order"'
            " FOR EACH STATEMENT EXECUTE FUNCTION bump_order_version()"
        )
        return
    for event in ("INSERT", "UPDATE", "DELETE"):
        db.execute_sql(f'CREATE TRIGGER order_version_{event.lower()} AFTER {event} ON "order" BEGIN {bump}; END')
