"""One row per recorded write. Entries name their actor by id and email as they were at
the time, so they outlive the account. The trail is append-only: entries are written by
`service.record` alone (which chains them, see `chain`), and never changed or deleted;
the model refuses to write them any other way."""
from __future__ import annotations

from peewee import CharField, DateTimeField, IntegerField

from shop.db import BaseModel, JSONField, now


class AppendOnly(TypeError):
    """An attempt to write audit entries other than through `service.record`."""


def _refuse(*_args, **_kwargs):
    raise AppendOnly("Audit entries are written by shop.audit.service.record only, and never changed.")


class AuditEntry(BaseModel):
    at = DateTimeField(default=now, index=True)
    actor_id = IntegerField(null=True)
    actor = CharField()
    address = CharField(default="")
    action = CharField()  # "create", "update", "delete", "import", …
    object_type = CharField()  # "product", "category", "product_image", …
    object_id = CharField()
    object_label = CharField(default="")
    changes = JSONField(default=dict)  # {field: [before, after]}
    hash = CharField(null=True)  # SHA-256 over the previous entry's hash and this entry

    class Meta:
        indexes = (
            (("object_type", "object_id", "at"), False),
            # The audit log's filters, each in the order of its list (newest first).
            (("actor", "at", "id"), False),
            (("action", "at", "id"), False),
            (("object_type", "at", "id"), False),
        )

    insert = insert_many = insert_from = replace = replace_many = update = delete = classmethod(_refuse)
    save = delete_instance = _refuse


class AuditChain(BaseModel):
    """The chain's head: one row, the last entry's id and hash and how many entries there are."""

    last_id = IntegerField()
    last_hash = CharField()
    entries = IntegerField()
