"""Writes to the territory, one function per action (do_*): validation, transaction, audit entry.

Views, the API, management commands and importers go through here; importers
use the bulk helpers in preau.territory.importers.base, which write the same
audit entries in bulk.
"""

from django.db import transaction

from preau.core import audit
from preau.core.models import AuditEntry

from .models import Commune, Connectivity, School, SchoolClass, stratum_for


@transaction.atomic
def do_update_connectivity(user, school: School, **fields) -> Connectivity:
    conn, created = Connectivity.objects.get_or_create(school=school)
    before = None if created else audit.snapshot(conn)
    fields.setdefault("source", "manual")
    for name, value in fields.items():
        setattr(conn, name, value)
    conn.full_clean()
    conn.save()
    audit.record(user, AuditEntry.Action.CREATE if created else AuditEntry.Action.UPDATE, conn,
                 before, audit.snapshot(conn))
    return conn


@transaction.atomic
def do_update_school(user, school: School, **fields) -> School:
    before = audit.snapshot(school)
    for name, value in fields.items():
        setattr(school, name, value)
    school.full_clean()
    school.save()
    audit.record(user, AuditEntry.Action.UPDATE, school, before, audit.snapshot(school))
    return school


@transaction.atomic
def do_create_class(user, school: School, **fields) -> SchoolClass:
    klass = SchoolClass(school=school, **fields)
    klass.full_clean()
    klass.save()
    audit.record(user, AuditEntry.Action.CREATE, klass, None, audit.snapshot(klass))
    return klass


@transaction.atomic
def do_delete_class(user, klass: SchoolClass) -> None:
    before = audit.snapshot(klass)
    audit.record(user, AuditEntry.Action.DELETE, klass, before, None)
    klass.delete()


@transaction.atomic
def do_update_commune(user, commune: Commune, **fields) -> Commune:
    before = audit.snapshot(commune)
    for name, value in fields.items():
        setattr(commune, name, value)
    commune.stratum = stratum_for(commune.population)
    commune.full_clean()
    commune.save()
    audit.record(user, AuditEntry.Action.UPDATE, commune, before, audit.snapshot(commune))
    return commune
