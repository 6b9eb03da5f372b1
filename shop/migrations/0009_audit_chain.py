"""The audit trail becomes a hash chain: each entry carries the hash of the one before it
(see shop/audit/chain.py), a one-row table holds the chain's head, and the entries
already there are chained in id order. Indexes for the audit log's filters."""
from peewee import *

from shop.audit import chain

BATCH = 2000


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class AuditChain(Base):
        last_id = IntegerField()
        last_hash = CharField()
        entries = IntegerField()

    # Nullable: SQLite then adds the column without rebuilding the table.
    migrator.migrate(
        migrator.add_column("audit_entry", "hash", CharField(null=True)),
        migrator.add_index("audit_entry", ("actor", "at", "id"), False),
        migrator.add_index("audit_entry", ("action", "at", "id"), False),
        migrator.add_index("audit_entry", ("object_type", "at", "id"), False),
    )
    db.create_tables([AuditChain])

    previous, last_id, count = chain.GENESIS, 0, 0
    param = db.param
    while True:
        rows = db.execute_sql(
            f'SELECT id, {", ".join(chain.HASHED)} FROM audit_entry WHERE id > {param} ORDER BY id LIMIT {param}',
            (last_id, BATCH)).fetchall()
        if not rows:
            break
        hashes = []
        for row in rows:
            previous = chain.entry_hash(previous, row[0], chain.canonical_time(row[1]), row[2:])
            hashes.append((previous, row[0]))
        db.cursor().executemany(f"UPDATE audit_entry SET hash = {param} WHERE id = {param}", hashes)
        last_id, count = rows[-1][0], count + len(rows)
    db.execute_sql(
        f"INSERT INTO audit_chain (id, last_id, last_hash, entries) VALUES ({param}, {param}, {param}, {param})",
        (chain.HEAD_ID, last_id, previous, count))
