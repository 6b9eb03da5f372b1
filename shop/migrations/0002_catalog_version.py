"""A version number that changes whenever what the catalogue lists could change.

Listing pages cache their category tree, counts, page ids and rendered product
cards under (epoch, version);
triggers bump the version, so every writer (app, import, raw SQL) invalidates
them. The epoch tells apart two databases that happen to reach the same version.
"""
import uuid

from peewee import *

# Product changes that move counts or change a product card: visibility, category,
# price, name and search text, picture, address, unit price, and the in-stock flag
# (stock crossing zero, not every sale).
PRODUCT_CHANGED = (
    "old.active IS NOT new.active OR old.category_id IS NOT new.category_id"
    " OR old.price_cents IS NOT new.price_cents OR old.name IS NOT new.name"
    " OR old.description IS NOT new.description OR old.featured IS NOT new.featured"
    " OR old.image IS NOT new.image OR old.slug IS NOT new.slug"
    " OR old.content_quantity IS NOT new.content_quantity OR old.content_unit IS NOT new.content_unit"
    " OR (old.stock > 0) IS NOT (new.stock > 0)"
)


def up(migrator, db):
    db.execute_sql(
        "CREATE TABLE catalog_version (id INTEGER PRIMARY KEY, epoch VARCHAR(36) NOT NULL,"
        " version BIGINT NOT NULL)"
    )
    db.execute_sql("INSERT INTO catalog_version (id, epoch, version) VALUES (1, %s, 0)"
                   .replace("%s", db.param), [str(uuid.uuid4())])
    bump = "UPDATE catalog_version SET version = version + 1 WHERE id = 1"
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(
            "CREATE FUNCTION bump_catalog_version() RETURNS trigger AS $$ BEGIN "
            f"{bump}; RETURN NULL; END $$ LANGUAGE plpgsql"
        )
        pg_changed = PRODUCT_CHANGED.replace("IS NOT", "IS DISTINCT FROM")
        for table in ("product", "category"):
            db.execute_sql(
                f"CREATE TRIGGER {table}_version_insert_delete AFTER INSERT OR DELETE ON {table}"
                " FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version()"
            )
        db.execute_sql(
            "CREATE TRIGGER category_version_update AFTER UPDATE ON category"
            " FOR EACH STATEMENT EXECUTE FUNCTION bump_catalog_version()"
        )
        db.execute_sql(
            f"CREATE TRIGGER product_version_update AFTER UPDATE ON product FOR EACH ROW"
            f" WHEN ({pg_changed}) EXECUTE FUNCTION bump_catalog_version()"
        )
        return
    for table in ("product", "category"):
        for event in ("INSERT", "DELETE"):
            db.execute_sql(
                f"CREATE TRIGGER {table}_version_{event.lower()} AFTER {event} ON {table}"
                f" BEGIN {bump}; END"
            )
    db.execute_sql(f"CREATE TRIGGER category_version_update AFTER UPDATE ON category BEGIN {bump}; END")
    db.execute_sql(
        f"CREATE TRIGGER product_version_update AFTER UPDATE ON product WHEN {PRODUCT_CHANGED}"
        f" BEGIN {bump}; END"
    )
