"""Bank statements: the uploaded statements with their credits and what applying them did,
and every credit once imported, under an identity that no later statement can pay again."""
from peewee import *


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Order(Base):
        class Meta:
            table_name = "order"

    class BankStatement(Base):
        filename = CharField()
        format = CharField()
        account = CharField(default="")
        credits = TextField()
        credit_count = IntegerField(default=0)
        credit_cents = BigIntegerField(default=0)
        ignored = IntegerField(default=0)
        state = CharField(default="ready", index=True)
        key = CharField(default="")
        counts = TextField(null=True)
        paid_count = IntegerField(default=0)
        paid_cents = BigIntegerField(default=0)
        result = TextField(null=True)
        created_by = CharField(default="")
        created_at = DateTimeField(index=True)
        applied_by = CharField(default="")
        applied_at = DateTimeField(null=True)

    class BankCredit(Base):
        identity = CharField(unique=True)
        statement = ForeignKeyField(BankStatement, on_delete="CASCADE")
        booked_on = DateField(null=True)
        amount_cents = IntegerField()
        currency = CharField(default="EUR")
        reference = TextField(default="")
        name = CharField(default="")
        order = ForeignKeyField(Order, null=True, on_delete="SET NULL")
        outcome = CharField()
        reason = CharField(default="")
        created_at = DateTimeField()

    db.create_tables([BankStatement, BankCredit])
