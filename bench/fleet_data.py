"""Data generator of the fleet benchmark (bench/fleet.py): a territory and its fleet, by raw bulk inserts.

`generate(size, seed)` fills an empty, migrated database (the Django default connection)
with `size.communes` communes, ten schools per commune (one in a hundred with 30 classes),
`size.classes` classes, two slots per class (the teacher's thin client or PC, a projector or
a screen) and three per school (NAS, switch, Wi-Fi), then `size.assets` assets: the slots'
devices (most filled, some failed, some missing), printers and tablets at the schools, stock,
repairs and retired devices at the depot. One "created" timeline event per asset and one
network interface per computer and NAS. Ids are given explicitly so that rows can point at
each other without reading anything back; sequences are reset at the end.

SQLite: executemany on the raw sqlite3 connection, committed every CHUNK rows.
PostgreSQL: COPY … FROM STDIN (psycopg 3). Deterministic for a seed.
"""

from __future__ import annotations

import datetime
import json
import random
import time
from dataclasses import dataclass

CHUNK = 50_000


@dataclass(frozen=True)
class Size:
    assets: int
    classes: int

    @property
    def schools(self) -> int:
        return max(self.classes // 10, 1)

    @property
    def communes(self) -> int:
        return max(self.schools // 10, 1)


class Writer:
    """Inserts rows (tuples in the order of `fields`) into a model's table, fast, per backend."""

    def __init__(self, connection):
        self.connection = connection
        self.vendor = connection.vendor
        self.rows = 0

    def value(self, v):
        if self.vendor == "sqlite":
            if isinstance(v, datetime.datetime):
                return v.astimezone(datetime.UTC).replace(tzinfo=None).isoformat(" ")
            if isinstance(v, datetime.date):
                return v.isoformat()
        if isinstance(v, dict | list):
            return json.dumps(v)
        return v

    def insert(self, model, fields: list[str], rows) -> int:
        table = model._meta.db_table
        columns = [model._meta.get_field(f).column for f in fields]
        qn = self.connection.ops.quote_name
        n = 0
        if self.vendor == "postgresql":
            sql = f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
            with self.connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row([self.value(v) for v in row])
                    n += 1
        else:
            self.connection.ensure_connection()
            raw = self.connection.connection
            sql = f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) VALUES ({', '.join('?' * len(columns))})"
            chunk = []
            for row in rows:
                chunk.append([self.value(v) for v in row])
                if len(chunk) >= CHUNK:
                    raw.execute("BEGIN")
                    raw.executemany(sql, chunk)
                    raw.execute("COMMIT")
                    n += len(chunk)
                    chunk = []
            if chunk:
                raw.execute("BEGIN")
                raw.executemany(sql, chunk)
                raw.execute("COMMIT")
                n += len(chunk)
        self.rows += n
        return n


def run_analyze(connection) -> float:
    t = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return round(time.perf_counter() - t, 2)


def _uai(n: int) -> str:
    from preau.territory.codes import uai_check_letter

    digits = f"{1 + n // 10000:03d}{n % 10000:04d}"
    return digits + uai_check_letter(digits)


def _insee(n: int) -> str:
    dept = 1 + n // 900
    dept += dept >= 20  # no 20 (Corsica is 2A / 2B)
    return f"{dept:02d}{100 + n % 900:03d}"


def generate(size: Size, seed: int = 2016, log=print, analyze: bool = True) -> dict:
    """Fill the database; returns counts, the ids the benchmark needs, and timings.

    analyze: gather the planner's statistics at the end (PostgreSQL's autovacuum does it by itself;
    a SQLite database has none until someone runs ANALYZE or PRAGMA optimize)."""
    from django.core.management.color import no_style
    from django.db import connection
    from django.utils import timezone

    from preau.accounts.models import Role, User
    from preau.fleet.demo import CATALOGUE
    from preau.fleet.lifecycle import Status
    from preau.fleet.models import (
        Asset,
        AssetEvent,
        Category,
        DeviceModel,
        NetworkInterface,
        Site,
        Slot,
    )
    from preau.territory.models import (
        Circonscription,
        Commune,
        Connectivity,
        Epci,
        School,
        SchoolClass,
        current_school_year,
    )

    C, S = Category, Status
    rng = random.Random(seed)
    w = Writer(connection)
    now = timezone.now()
    year = current_school_year()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def step(name, model, fields, rows):
        t = time.perf_counter()
        n = w.insert(model, fields, rows)
        timings[name] = round(time.perf_counter() - t, 2)
        log(f"  {name}: {n:,} rows in {timings[name]} s")
        return n

    # ------------------------------------------------------------------ territory
    step("epci", Epci, ["id", "siren", "name", "kind", "population"], [(1, "200000001", "Bench", "ME", None)])
    n_communes, n_schools = size.communes, size.schools
    step("communes", Commune,
         ["id", "insee", "name", "department", "population", "stratum", "siren", "postal_codes", "former_codes",
          "epci", "fibre_network", "fibre_operator", "fibre_premises", "fibre_housing", "fibre_period",
          "boundary", "lat", "lon"],
         ((i + 1, _insee(i), f"Commune {i + 1}", _insee(i)[:2], 5000, "s4", "", "", "", 1, "rip", "", None, None,
           "", None, 45 + i / 10000, 4 + i / 10000) for i in range(n_communes)))
    n_circs = max(n_schools // 100, 1)
    step("circonscriptions", Circonscription, ["id", "name", "department"],
         ((i + 1, f"Circonscription {i + 1}", "42") for i in range(n_circs)))
    # Classes per school: one school in a hundred has 30 classes, the others share the rest.
    big_schools = {i for i in range(n_schools) if i % 100 == 7}
    remaining = size.classes - 30 * len(big_schools)
    others = n_schools - len(big_schools)
    per_school = []
    for i in range(n_schools):
        if i in big_schools:
            per_school.append(30)
        else:
            k = max(1, round(remaining / max(others, 1) + rng.uniform(-4, 4)))
            others -= 1
            k = min(k, max(remaining - others, 1), 25)
            remaining -= k
            per_school.append(k)
    step("schools", School,
         ["id", "uai", "name", "kind", "sector", "contract", "address", "postal_code", "commune", "circonscription",
          "lat", "lon", "pupils", "ips", "phone", "email", "website", "opened_on", "closed_on", "source"],
         ((i + 1, _uai(i), f"École {i + 1}", "primaire", "public", "", "1 rue de l'École", "42000",
           i % n_communes + 1, i % n_circs + 1, 45.0, 4.0, per_school[i] * 24, None, "", "", "", None, None, "bench")
          for i in range(n_schools)))
    step("connectivity", Connectivity,
         ["school", "access", "network", "operator", "bandwidth_mbps", "connected_on", "planned_on", "source",
          "updated_at"],
         ((i + 1, "fibre" if i % 3 else "adsl", "rip", "", 100, None, None, "manual", now) for i in range(n_schools)))
    class_rows, class_school = [], []
    for i, k in enumerate(per_school):
        for c in range(k):
            class_rows.append((len(class_rows) + 1, i + 1, year, f"Classe {c + 1}", "CP", 24))
            class_school.append(i + 1)
    step("classes", SchoolClass, ["id", "school", "year", "name", "level", "pupils"], class_rows)
    n_classes = len(class_rows)
    class_rows.clear()

    # ------------------------------------------------------------------ catalogue, sites, users
    models: dict[str, list[tuple[int, object]]] = {}
    step("models", DeviceModel,
         ["id", "category", "maker", "name", "cpu", "cpu_64bit", "ram_mb", "disk_gb", "netboot", "released_year",
          "notes"],
         ((i + 1, s.category, s.maker, s.name, s.cpu, s.cpu_64bit, s.ram_mb, s.disk_gb, s.netboot, s.year, "")
          for i, s in enumerate(CATALOGUE)))
    for i, spec in enumerate(CATALOGUE):
        models.setdefault(spec.category, []).append((i + 1, spec))
    depot = 1
    step("sites", Site, ["id", "name", "kind", "address"],
         [(1, "Dépôt", "depot", ""), (2, "Atelier A", "workshop", ""), (3, "Atelier B", "workshop", "")])

    # ------------------------------------------------------------------ slots and assets
    asset_fields = ["id", "tag", "serial", "model", "category", "status", "origin", "school", "school_class", "site",
                    "purchased_on", "warranty_until", "cost", "hostname", "system_uuid", "cpu", "cpu_64bit",
                    "ram_mb", "disk_gb", "netboot", "os", "last_inventory_at", "notes", "created_at", "updated_at"]
    slots: list[tuple] = []
    events: list[tuple] = []
    interfaces: list[tuple] = []
    counter = [0]
    weights = {c: [spec.weight for _, spec in lst] for c, lst in models.items()}
    date_cache: dict[tuple[int, int], tuple] = {}

    def dates(y: int, m: int):
        key = (y, m)
        if key not in date_cache:
            d = datetime.date(y, m, 15)
            date_cache[key] = (d, d.replace(year=y + 4))
        return date_cache[key]

    def asset(category, status, school=None, klass=None, site=None):
        counter[0] += 1
        n = counter[0]
        model_id, spec = rng.choices(models[category], weights[category])[0]
        bought, warranty = dates(min(spec.year + rng.randint(0, 3), now.year), rng.randint(1, 12))
        computer = category in (C.DESKTOP, C.THIN_CLIENT, C.LAPTOP, C.NAS)
        host = f"H{n:07d}" if computer else ""
        # About half the deployed computers already report through an agent: SMBIOS UUID, last inventory.
        inventoried = computer and status in (S.DEPLOYED, S.FAILED) and n % 2 == 0
        uuid = f"4c4c4544-{n >> 16 & 0xffff:04x}-{n & 0xffff:04x}-8000-{n:012x}" if inventoried else ""
        if computer and status != S.RECYCLED:
            interfaces.append((n, n, f"02:00:{n >> 24 & 255:02x}:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}",
                               "eth0"))
        events.append((n, n, now, None, "created", "", status, "", None, "", None, {}))
        return (n, f"SEM-{n:07d}", f"SN{n:09d}", model_id, category, status, "purchased", school, klass, site,
                bought, warranty, spec.price or None, host, uuid, "", None, None, None, None, "", now if inventoried else None,
                "", now, now)

    total = size.assets
    depot_share = max(total // 30, 1)
    expected = 2 * n_classes * 0.95 + n_schools * (3 * 0.95 + 0.5)
    tablets_per_school = max(0.0, (total - depot_share - expected) / n_schools)
    budget = total - depot_share

    def school_assets():
        class_index = 0
        for s in range(n_schools):
            school = s + 1
            progress = rng.random()
            for _ in range(per_school[s]):
                class_index += 1
                for category, label in (
                        (C.THIN_CLIENT if rng.random() < progress else C.DESKTOP, "Poste enseignant"),
                        (C.SCREEN if rng.random() < 0.2 else C.PROJECTOR, "Affichage interactif")):
                    roll = rng.random()
                    asset_id = None
                    if roll >= 0.05 and counter[0] < budget:
                        a = asset(category, S.FAILED if roll < 0.08 else S.DEPLOYED, school, class_index)
                        asset_id = a[0]
                        yield a
                    slots.append((len(slots) + 1, school, class_index, category, f"{label} (Classe)", asset_id))
            for category, label in ((C.NAS, "NAS de l'école"), (C.SWITCH, "Commutateur réseau"),
                                    (C.ACCESS_POINT, "Borne Wi-Fi")):
                asset_id = None
                if rng.random() >= 0.05 and counter[0] < budget:
                    a = asset(category, S.DEPLOYED, school)
                    asset_id = a[0]
                    yield a
                slots.append((len(slots) + 1, school, None, category, label, asset_id))
            if rng.random() < 0.5 and counter[0] < budget:
                yield asset(C.PRINTER, S.DEPLOYED, school)
            for _ in range(int(tablets_per_school + rng.random())):
                if counter[0] >= budget:
                    break
                yield asset(C.TABLET, S.DEPLOYED, school)
        plan = [(C.THIN_CLIENT, S.IN_STOCK), (C.THIN_CLIENT, S.IN_STOCK), (C.PROJECTOR, S.IN_STOCK),
                (C.DESKTOP, S.IN_REPAIR), (C.DESKTOP, S.RETIRED), (C.DESKTOP, S.RETIRED), (C.DESKTOP, S.RECYCLED),
                (C.TABLET, S.IN_STOCK), (C.NAS, S.IN_STOCK), (C.PROJECTOR, S.IN_REPAIR)]
        while counter[0] < total:
            category, status = plan[counter[0] % len(plan)]
            yield asset(category, status, site=depot)

    step("assets", Asset, asset_fields, school_assets())
    n_assets = counter[0]
    step("slots", Slot, ["id", "school", "school_class", "category", "label", "asset"], slots)
    n_slots = len(slots)
    slots.clear()
    step("events", AssetEvent, ["id", "asset", "at", "user", "kind", "from_status", "to_status", "reason", "batch",
                                "ticket", "other_asset", "details"], events)
    events.clear()
    step("interfaces", NetworkInterface, ["id", "asset", "mac", "name"], interfaces)
    n_interfaces = len(interfaces)
    interfaces.clear()

    # Sequences after explicit ids (PostgreSQL); SQLite's AUTOINCREMENT follows by itself.
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [
                Epci, Commune, Circonscription, School, SchoolClass, DeviceModel, Site, Asset, Slot, AssetEvent,
                NetworkInterface]):
            cursor.execute(sql)

    # The users of the benchmark: an admin, and the staff of the busiest commune (a tenth of the schools).
    admin = User.objects.create(username="bench-admin", role=Role.ADMIN, is_staff=True)
    mairie = User.objects.create(username="bench-mairie", role=Role.COMMUNE)
    mairie.communes.add(Commune.objects.get(pk=1))

    if analyze:
        timings["analyze"] = run_analyze(connection)
    timings["total"] = round(time.perf_counter() - t0, 2)
    return {
        "communes": n_communes, "schools": n_schools, "classes": n_classes, "assets": n_assets, "slots": n_slots,
        "interfaces": n_interfaces, "rows": w.rows, "timings": timings,
        "big_schools": [_uai(i) for i in sorted(big_schools)][:50] or [_uai(0)],
        "admin": admin.pk, "mairie": mairie.pk,
    }
