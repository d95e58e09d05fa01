"""The one way services record changes in the audit log.

Services call `snapshot(obj)` before a change and `record(...)` after it.
Importers write many rows at once and call `record_many` with one entry per
changed object, in bulk.
"""

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from django.db import models

from .models import AuditEntry


def jsonable(value):
    """A value as it goes into the audit log's JSON (dates as ISO strings, decimals as strings)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def snapshot(obj: models.Model, fields: Iterable[str] | None = None) -> dict:
    """A JSON-able dict of the concrete fields of obj (foreign keys by their id)."""
    out = {}
    for field in obj._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        if field.primary_key or getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue  # timestamps say when, which the entry already records
        out[field.attname] = jsonable(getattr(obj, field.attname))
    return out


def diff(before: dict | None, after: dict | None) -> tuple[dict | None, dict | None]:
    """Keep only the keys that changed (both sides), for compact update entries."""
    if before is None or after is None:
        return before, after
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def entry(user, action: str, obj: models.Model, before=None, after=None, note: str = "") -> AuditEntry:
    if action == AuditEntry.Action.UPDATE:
        before, after = diff(before, after)
    return AuditEntry(
        user=user if getattr(user, "is_authenticated", False) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        before=before,
        after=after,
        note=note[:300],
    )


def record(user, action: str, obj: models.Model, before=None, after=None, note: str = "") -> AuditEntry:
    e = entry(user, action, obj, before, after, note)
    e.save()
    return e


def record_many(entries: list[AuditEntry]) -> None:
    AuditEntry.objects.bulk_create(entries, batch_size=2000)


def history(obj: models.Model):
    return AuditEntry.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk)).select_related("user")
