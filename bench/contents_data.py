"""Data generator of the contents benchmark (bench/contents.py): a territory with one enrolled NAS per school,
collections with their releases and subscriptions, each NAS holding a mix of versions.

`generate(nodes, collections)` fills an empty, migrated database (the Django default connection) by raw bulk
inserts (bench/fleet_data.Writer: executemany on SQLite, COPY on PostgreSQL), ids given explicitly:
- `nodes` schools (kinds mixed: primaire, élémentaire, maternelle) in nodes/20 communes, each school with its
  NAS: enrolled 30 days ago, credential "bench-<n>" (stored as SHA-256 like services.enrol does);
  1 in 200 revoked, 3 in 100 silent (last check-in 10 days ago), 2 in 100 reporting an error;
- `collections` collections c01…, 3 to 6 releases each (the 2nd of every fifth collection withdrawn), with
  fake manifest ids (the dashboard and the check-in answer only read the rows, not the store);
- subscriptions: 60 % of the collections reach every school, the others a kind of school, or a few communes;
- what each NAS holds of the collections it receives: 70 % the current release, 15 % one behind, 8 % older,
  7 % nothing; one delivery row per held version.
Deterministic for a seed. Returns counts, the users' ids and, for the check-in generator, the NAS
credentials and held versions (written by the caller to a file).
"""

from __future__ import annotations

import datetime
import hashlib
import random
import time

KINDS = ["primaire", "primaire", "elementaire", "maternelle"]


def credential(n: int) -> str:
    return f"bench-{n:07d}-Zq8xv4"


def manifest_id(collection: int, version: int) -> str:
    return hashlib.sha256(f"bench-manifest-{collection}-{version}".encode()).hexdigest()


def generate(nodes: int, collections: int = 20, seed: int = 2026, log=print) -> dict:
    from django.core.management.color import no_style
    from django.db import connection
    from django.utils import timezone
    from fleet_data import Writer, _insee, _uai

    from preau.accounts.models import Role, User
    from preau.contents.models import Collection, Delivery, NasNode, Release, Subscription
    from preau.territory.models import Commune, Connectivity, Epci, School

    rng = random.Random(seed)
    w = Writer(connection)
    now = timezone.now()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def step(name, model, fields, rows):
        t = time.perf_counter()
        n = w.insert(model, fields, rows)
        timings[name] = round(time.perf_counter() - t, 2)
        log(f"  {name}: {n:,} rows in {timings[name]} s")
        return n

    n_communes = max(nodes // 20, 1)
    step("epci", Epci, ["id", "siren", "name", "kind", "population"], [(1, "200000001", "Bench", "ME", None)])
    step("communes", Commune,
         ["id", "insee", "name", "department", "population", "stratum", "siren", "postal_codes", "former_codes",
          "epci", "fibre_network", "fibre_operator", "fibre_premises", "fibre_housing", "fibre_period",
          "boundary", "lat", "lon"],
         ((i + 1, _insee(i), f"Commune {i + 1}", _insee(i)[:2], 5000, "s4", "", "", "", 1, "rip", "", None, None,
           "", None, 45 + i / 10000, 4 + i / 10000) for i in range(n_communes)))
    kinds = [KINDS[i % len(KINDS)] for i in range(nodes)]
    step("schools", School,
         ["id", "uai", "name", "kind", "sector", "contract", "address", "postal_code", "commune", "circonscription",
          "lat", "lon", "pupils", "ips", "phone", "email", "website", "opened_on", "closed_on", "source"],
         ((i + 1, _uai(i), f"École {i + 1}", kinds[i], "public", "", "1 rue de l'École", "42000", i % n_communes + 1,
           None, 45.0 + (i % 300) / 1000, 4.0 + (i // 300 % 300) / 1000, 200, None, "", "", "", None, None, "bench")
          for i in range(nodes)))

    # Collections, releases (versions ascending; the 2nd of every fifth collection withdrawn), subscriptions.
    step("collections", Collection, ["id", "slug", "name", "description", "created_at"],
         [(c, f"c{c:02d}", f"Collection {c:02d}", "", now) for c in range(1, collections + 1)])
    versions: dict[int, list[int]] = {}
    release_ids: dict[tuple[int, int], int] = {}
    release_rows = []
    for c in range(1, collections + 1):
        top = 3 + c % 4
        for v in range(1, top + 1):
            withdrawn = c % 5 == 0 and v == 2
            release_rows.append((len(release_rows) + 1, c, v, manifest_id(c, v), "", 1 << 20, 1 << 18, 10,
                                 now - datetime.timedelta(days=10 * (top - v) + 1), None,
                                 now if withdrawn else None, "bench" if withdrawn else ""))
            release_ids[(c, v)] = len(release_rows)
            if not withdrawn:
                versions.setdefault(c, []).append(v)
    step("releases", Release, ["id", "collection", "version", "manifest", "notes", "total_bytes", "new_bytes",
                               "files", "published_at", "published_by", "withdrawn_at", "withdraw_reason"],
         release_rows)
    subs = []  # (id, collection, scope, commune, school_kind, school)
    for c in range(1, collections + 1):
        if c % 5 in (1, 2, 3):
            subs.append((len(subs) + 1, c, "all", None, "", None))
        elif c % 5 == 4:
            subs.append((len(subs) + 1, c, "kind", None, "maternelle" if c % 2 else "elementaire", None))
        else:
            for commune in range(c % 7 + 1, n_communes + 1, 7):
                subs.append((len(subs) + 1, c, "commune", commune, "", None))
    step("subscriptions", Subscription, ["id", "collection", "scope", "commune", "school_kind", "school"], subs)

    def receives(i: int, c: int) -> bool:
        if c % 5 in (1, 2, 3):
            return True
        if c % 5 == 4:
            return kinds[i] == ("maternelle" if c % 2 else "elementaire")
        commune = i % n_communes + 1  # subscribed communes: c % 7 + 1, then every 7th
        return commune >= c % 7 + 1 and (commune - (c % 7 + 1)) % 7 == 0

    # Nodes and what they hold.
    agents = []  # (node_id, credential, held) for the check-in generator: active NAS only
    node_rows, delivery_rows = [], []
    enrolled = now - datetime.timedelta(days=30)
    for i in range(nodes):
        held = {}
        for c in range(1, collections + 1):
            if not receives(i, c):
                continue
            vs = versions[c]
            roll = rng.random()
            if roll < 0.70:
                v = vs[-1]
            elif roll < 0.85 and len(vs) > 1:
                v = vs[-2]
            elif roll < 0.93:
                v = vs[0]
            else:
                continue
            held[f"c{c:02d}"] = v
            delivery_rows.append((len(delivery_rows) + 1, i + 1, release_ids[(c, v)], "online", "", enrolled))
        revoked = i % 200 == 199
        silent = i % 100 in (13, 47, 81)
        error = "disque plein" if i % 50 == 21 else ""
        last = now - datetime.timedelta(days=10 if silent else 0, minutes=rng.randint(1, 900))
        seq = 1 + rng.randint(0, 5000)
        node_rows.append((i + 1, i + 1, f"nas-{_uai(i).lower()}", "auto", "", None,
                          "" if revoked else hashlib.sha256(credential(i).encode()).hexdigest(), "", enrolled,
                          now if revoked else None, last, seq, "1.0.0", 200 << 30, error, held))
        if not revoked:
            agents.append((f"nas-{_uai(i).lower()}", credential(i), seq, held))
    step("nodes", NasNode, ["id", "school", "node_id", "mode", "enrolment_code_hash", "enrolment_expires_at",
                            "credential_hash", "public_key", "enrolled_at", "revoked_at", "last_checkin_at",
                            "last_checkin_seq", "agent_version", "disk_free_bytes", "last_error", "held"], node_rows)
    step("deliveries", Delivery, ["id", "node", "release", "via", "tour", "delivered_at"], delivery_rows)
    # Every school on fibre: its NAS (mode auto) is online and pulls by itself, the case the check-in load
    # measures (an offline NAS's check-in is the same work minus the deliveries).
    step("connectivity", Connectivity, ["school", "access", "network", "operator", "source", "updated_at"],
         [(i + 1, "fibre", "", "", "manual", now) for i in range(nodes)])

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Epci, Commune, School, Collection, Release,
                                                                  Subscription, NasNode, Delivery]):
            cursor.execute(sql)

    admin = User.objects.create(username="bench-admin", role=Role.ADMIN, is_staff=True)
    mairie = User.objects.create(username="bench-mairie", role=Role.COMMUNE)
    mairie.communes.add(Commune.objects.get(pk=1))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    timings["total"] = round(time.perf_counter() - t0, 2)
    current = {f"c{c:02d}": vs[-1] for c, vs in versions.items()}
    return {"nodes": nodes, "collections": collections, "communes": n_communes, "deliveries": len(delivery_rows),
            "subscriptions": len(subs), "rows": w.rows, "timings": timings, "admin": admin.pk, "mairie": mairie.pk,
            "agents": agents, "current": current}
