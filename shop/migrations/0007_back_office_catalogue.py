"""The catalogue's back office: product versions, EAN, image renditions, low-stock
thresholds, categories that can be hidden, old product addresses, the stock ledger, CSV import jobs and the audit trail.

Each product's current stock becomes its first movement (stocktaking), so stock equals
the sum of its movements from here on.
"""
from peewee import *


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Product(Base):
        class Meta:
            table_name = "product"

    class SlugRedirect(Base):
        old_slug = CharField(unique=True)
        product = ForeignKeyField(Product, on_delete="CASCADE")
        created_at = DateTimeField()

    class StockMovement(Base):
        product = ForeignKeyField(Product, on_delete="CASCADE")
        change = IntegerField()
        reason = CharField()
        note = CharField(default="")
        actor = CharField(default="")
        order_number = CharField(null=True)
        created_at = DateTimeField()

        class Meta:
            indexes = ((("product", "created_at"), False),)

    class ImportJob(Base):
        kind = CharField(default="")
        filename = CharField()
        path = CharField()
        state = CharField(default="checking", index=True)
        total_rows = IntegerField(default=0)
        done_rows = IntegerField(default=0)
        preview = TextField(null=True)
        errors = TextField(null=True)
        result = TextField(null=True)
        created_by = CharField(default="")
        created_at = DateTimeField()
        updated_at = DateTimeField()

    class AuditEntry(Base):
        at = DateTimeField(index=True)
        actor_id = IntegerField(null=True)
        actor = CharField()
        address = CharField(default="")
        action = CharField()
        object_type = CharField()
        object_id = CharField()
        object_label = CharField(default="")
        changes = TextField()

        class Meta:
            indexes = ((("object_type", "object_id", "at"), False),)

    db.create_tables([SlugRedirect, StockMovement, ImportJob, AuditEntry])
    # SQLite adds a NOT NULL column by rebuilding the table, which drops its triggers
    # (the catalogue version's); they are put back afterwards.
    triggers = [] if isinstance(db, PostgresqlDatabase) else db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('product', 'category')"
    ).fetchall()
    migrator.migrate(
        migrator.add_column("product", "ean", CharField(default="")),
        migrator.add_column("product", "image_widths", CharField(default="")),
        migrator.add_column("product", "low_stock_threshold", IntegerField(null=True)),
        migrator.add_column("product", "version", IntegerField(default=1)),
        migrator.add_column("product_image", "widths", CharField(default="")),
        migrator.add_column("category", "active", BooleanField(default=True)),
        # The back office sorts and searches the whole catalogue by these.
        migrator.add_index("product", ("name",), False),
        migrator.add_index("product", ("price_cents",), False),
        migrator.add_index("product", ("stock",), False),
        migrator.add_index("product", ("low_stock_threshold",), False),
        migrator.add_index("product", ("updated_at",), False),
        migrator.add_index("product", ("ean",), False),
    )
    for name, sql in triggers:
        db.execute_sql(f'DROP TRIGGER IF EXISTS "{name}"')
        db.execute_sql(sql)
    db.execute_sql(
        "INSERT INTO stock_movement (product_id, change, reason, note, actor, created_at)"
        " SELECT id, stock, 'stocktaking', '', '', updated_at FROM product WHERE stock <> 0"
    )
