"""One row per recorded write. Entries name their actor by id and email as they were at
the time, so they outlive the account."""
from __future__ import annotations

from peewee import CharField, DateTimeField, IntegerField

from shop.db import BaseModel, JSONField, now


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

    class Meta:
        indexes = ((("object_type", "object_id", "at"), False),)
