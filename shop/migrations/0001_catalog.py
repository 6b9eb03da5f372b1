"""Catalogue: categories, products, images, price history and the search index."""
import datetime

from peewee import *


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Category(Base):
        slug = CharField(unique=True)
        name = CharField()
        parent = ForeignKeyField("self", null=True, on_delete="RESTRICT")
        position = IntegerField(default=0)
        description = TextField(default="")

        class Meta:
            indexes = ((("parent", "position"), False),)

    class Product(Base):
        sku = CharField(unique=True)
        slug = CharField(unique=True)
        name = CharField()
        description = TextField(default="")
        category = ForeignKeyField(Category, on_delete="RESTRICT")
        price_cents = IntegerField(constraints=[Check("price_cents >= 0")])
        vat_rate = IntegerField(default=19, constraints=[Check("vat_rate IN (19, 7)")])
        stock = IntegerField(default=0, constraints=[Check("stock >= 0")])
        active = BooleanField(default=True)
        featured = BooleanField(default=False)
        image = CharField(default="")
        content_quantity = DecimalField(max_digits=12, decimal_places=3, null=True)
        content_unit = CharField(null=True)
        manufacturer = TextField(default="")
        responsible_person = TextField(default="")
        product_identifier = CharField(default="")
        warnings = TextField(default="")
        created_at = DateTimeField(default=datetime.datetime.now)
        updated_at = DateTimeField(default=datetime.datetime.now)

        class Meta:
            indexes = (
                (("active", "category", "price_cents"), False),
                (("active", "category", "featured", "created_at"), False),
                (("active", "category", "created_at"), False),
                (("active", "category", "name"), False),
                (("active", "featured", "created_at"), False),
                (("active", "created_at"), False),
                (("active", "price_cents"), False),
                (("active", "name"), False),
            )

    class ProductImage(Base):
        product = ForeignKeyField(Product, on_delete="CASCADE")
        filename = CharField()
        alt = CharField(default="")
        position = IntegerField(default=0)

        class Meta:
            indexes = ((("product", "position"), False),)

    class PriceChange(Base):
        product = ForeignKeyField(Product, on_delete="CASCADE")
        price_cents = IntegerField()
        changed_at = DateTimeField(default=datetime.datetime.now)

        class Meta:
            indexes = ((("product", "changed_at"), False),)

    db.create_tables([Category, Product, ProductImage, PriceChange])

    if isinstance(db, PostgresqlDatabase):
        db.execute_sql(
            "CREATE TABLE product_search ("
            " product_id INTEGER PRIMARY KEY REFERENCES product (id) ON DELETE CASCADE,"
            " document TSVECTOR NOT NULL)"
        )
        db.execute_sql("CREATE INDEX product_search_document ON product_search USING GIN (document)")
    else:
        db.execute_sql(
            "CREATE VIRTUAL TABLE product_search USING fts5("
            "name, body, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
        )
        # FTS5 rows are keyed by the product id; drop them with their product.
        db.execute_sql(
            "CREATE TRIGGER product_search_delete AFTER DELETE ON product BEGIN"
            " DELETE FROM product_search WHERE rowid = old.id; END"
        )
