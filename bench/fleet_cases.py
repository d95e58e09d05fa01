"""The fleet benchmark's cases that drive other modules' code: the CSV importer and the agent intake.

Imported by bench/fleet.py only when that code exists (a case whose code is missing is skipped).
"""

from __future__ import annotations

import json
import random
import time

from django.db.models import Count
from harness import percentile, stats_ms

# ---------------------------------------------------------------------------- agent intake


def _glpi_json(deviceid: str, tag: str, serial: str, uuid: str, mac: str, host: str) -> bytes:
    return json.dumps({
        "action": "inventory", "deviceid": deviceid, "itemtype": "Computer", "tag": tag,
        "content": {
            "versionclient": "GLPI-Agent_v1.11",
            "hardware": {"name": host, "uuid": uuid, "memory": 8192, "chassis_type": "Desktop"},
            "bios": {"ssn": serial, "smanufacturer": "Dell Inc.", "smodel": "OptiPlex 3070"},
            "operatingsystem": {"full_name": "Debian GNU/Linux 12 (bookworm)", "arch": "x86_64",
                                "fqdn": f"{host}.ecole.local"},
            "cpus": [{"name": "Intel(R) Core(TM) i3-9100T CPU @ 3.10GHz", "arch": "x86_64", "core": 4}],
            "memories": [{"capacity": 4096}, {"capacity": 4096}],
            "storages": [{"name": "sda", "type": "disk", "interface": "SATA", "disksize": 256060}],
            "networks": [
                {"description": "enp1s0", "macaddr": mac, "type": "ethernet", "virtualdev": False},
                {"description": "lo", "macaddr": "00:00:00:00:00:00", "virtualdev": True},
                {"description": "docker0", "macaddr": "02:42:ac:11:00:01", "virtualdev": True},
            ],
        },
    }).encode()


def _fusion_xml(deviceid: str, tag: str, serial: str, uuid: str, mac: str, host: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8" ?>
<REQUEST>
  <CONTENT>
    <ACCOUNTINFO><KEYNAME>TAG</KEYNAME><KEYVALUE>{tag}</KEYVALUE></ACCOUNTINFO>
    <BIOS><SSN>{serial}</SSN><SMANUFACTURER>Hewlett-Packard</SMANUFACTURER><SMODEL>HP Compaq Elite 8300</SMODEL></BIOS>
    <CPUS><NAME>Intel(R) Core(TM) i5-3470 CPU @ 3.20GHz</NAME><ARCH>x86_64</ARCH></CPUS>
    <HARDWARE><NAME>{host}</NAME><UUID>{uuid}</UUID><MEMORY>4096</MEMORY><CHASSIS_TYPE>Desktop</CHASSIS_TYPE></HARDWARE>
    <MEMORIES><CAPACITY>4096</CAPACITY></MEMORIES>
    <NETWORKS><DESCRIPTION>eth0</DESCRIPTION><MACADDR>{mac}</MACADDR><VIRTUALDEV>0</VIRTUALDEV></NETWORKS>
    <NETWORKS><DESCRIPTION>lo</DESCRIPTION><MACADDR>00:00:00:00:00:00</MACADDR><VIRTUALDEV>1</VIRTUALDEV></NETWORKS>
    <OPERATINGSYSTEM><FULL_NAME>Microsoft Windows 10 Professionnel</FULL_NAME><ARCH>64-bit</ARCH></OPERATINGSYSTEM>
    <STORAGES><NAME>sda</NAME><TYPE>disk</TYPE><DISKSIZE>500107</DISKSIZE></STORAGES>
    <VERSIONCLIENT>FusionInventory-Agent_v2.6</VERSIONCLIENT>
  </CONTENT>
  <DEVICEID>{deviceid}</DEVICEID>
  <QUERY>INVENTORY</QUERY>
</REQUEST>
""".encode()


def run_agent_intake(count: int, info: dict, round_no: int = 0) -> list[dict]:
    """Known machines (matched by MAC: the agent sends a placeholder serial and no UUID) and unknown ones,
    half GLPI Agent JSON, half FusionInventory XML, zlib-compressed as the agents send them, POSTed to the
    agent endpoint (/parc/agent/): timed from the request to the committed AgentSubmission.

    round_no: each round (SQLite: before and after ANALYZE) sends machines never seen before, so that
    both rounds measure a first inventory (a second one of the same machine writes less)."""
    import zlib

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from preau.fleet.models import AgentSubmission, NetworkInterface

    url = reverse("fleet:agent")
    client = Client(REMOTE_ADDR="10.42.0.7")
    rng = random.Random(3)
    last = NetworkInterface.objects.order_by("-asset_id").values_list("asset_id", flat=True).first()
    ids = rng.sample(range(1, last + 1), min(2000, last))
    known = list(NetworkInterface.objects.filter(asset_id__in=ids, asset__status="deployed",
                                                 asset__school__isnull=False).order_by("asset_id")
                 .values_list("mac", "asset__school__uai", "asset__tag", "asset__hostname"))
    rng.shuffle(known)
    per_round = count + 2
    if len(known) >= per_round * (round_no + 1):
        known = known[per_round * round_no:per_round * (round_no + 1)]
    results = []
    for kind in ("known", "unknown"):
        times: dict[str, list[float]] = {"glpi_json": [], "fusion_xml": []}
        queries: list[int] = []
        before = dict(AgentSubmission.objects.values_list("outcome").annotate(n=Count("pk")))
        for i in range(count + 2):
            fmt = "glpi_json" if i % 2 == 0 else "fusion_xml"
            if kind == "known":
                mac, uai, tag, host = known[i % len(known)]
                serial, uuid, host = "To be filled by O.E.M.", "00000000-0000-0000-0000-000000000000", host or tag
            else:
                n = 10_000_000 + 100_000 * round_no + i
                mac = f"0a:1b:{n >> 24 & 255:02x}:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"
                uai = known[i % len(known)][1]
                serial, uuid, host = f"NEW{n}", f"4c4c4544-0000-1000-8000-{n:012x}", f"NOUVEAU-{round_no}-{i}"
            deviceid = f"{host}-2026-03-0{2 + round_no}-08-00-{i:02d}"
            build = _glpi_json if fmt == "glpi_json" else _fusion_xml
            body = zlib.compress(build(deviceid, uai, serial, uuid, mac, host))
            content_type = "application/x-compress-zlib" if fmt == "glpi_json" else "application/x-compress"
            with CaptureQueriesContext(connection) as ctx:
                t = time.perf_counter()
                response = client.post(url, body, content_type=content_type)
                elapsed = time.perf_counter() - t
            if response.status_code != 200:
                raise RuntimeError(f"POST {url}: HTTP {response.status_code} {response.content[:200]!r}")
            if i >= 2:  # the first two warm up
                times[fmt].append(elapsed)
                queries.append(len(ctx.captured_queries))
        after = dict(AgentSubmission.objects.values_list("outcome").annotate(n=Count("pk")))
        outcomes = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
        every = times["glpi_json"] + times["fusion_xml"]
        results.append({"machine": kind, **stats_ms(every),
                        "p50_ms_by_format": {f: round(percentile(t, 0.5) * 1000, 1) for f, t in times.items()},
                        "queries": max(queries), "queries_min": min(queries), "outcomes": outcomes,
                        "note": "POST /parc/agent/, zlib body, parse + match + write"})
    return results


# ---------------------------------------------------------------------------- CSV import


def run_csv_import(module, rows: int, tmp, info: dict) -> dict:
    """A French CSV of `rows` lines: 80 % new devices (deployed in a class of a known school, or in stock
    at the depot), 20 % existing ones (new machine name); imported, then imported again unchanged."""
    import csv

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from preau.fleet.demo import CATALOGUE
    from preau.fleet.models import Asset, Category
    from preau.territory.models import SchoolClass, current_school_year

    rng = random.Random(5)
    labels = dict(Category.choices)
    specs = [s for s in CATALOGUE if s.category in ("thin_client", "projector", "screen", "tablet", "desktop")]
    last_school = info["schools"]
    school_ids = rng.sample(range(1, last_school + 1), min(800, last_school))
    classes = list(SchoolClass.objects.filter(school_id__in=school_ids, year=current_school_year())
                   .values_list("school__uai", "name"))
    last = Asset.objects.order_by("-pk").values_list("pk", flat=True).first()
    existing = list(Asset.objects.filter(pk__in=rng.sample(range(1, last + 1), min(rows // 5, last)))
                    .values_list("tag", flat=True)) if rows else []
    path = tmp / "appareils.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["Numéro d'inventaire", "Numéro de série", "Catégorie", "Fabricant", "Modèle", "Statut",
                    "UAI école", "Classe", "Site", "Date d'achat", "Coût (€)", "Nom de machine"])
        for i in range(rows - len(existing)):
            spec = rng.choice(specs)
            bought = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{min(spec.year + rng.randint(0, 3), 2025)}"
            cost = f"{spec.price},{rng.randint(0, 99):02d}" if spec.price else ""
            if rng.random() < 0.85:
                uai, klass = rng.choice(classes)
                place, status = (uai, klass, ""), "déployé"
            else:
                place, status = ("", "", "Dépôt"), "en stock"
            w.writerow([f"IMP-{i + 1:07d}", f"IMPSN{i + 1:09d}", labels[spec.category], spec.maker, spec.name,
                        status, *place, bought, cost, f"IMP{i + 1:07d}" if spec.category != "projector" else ""])
        for tag in existing:
            w.writerow([tag, "", "", "", "", "", "", "", "", "", "", f"RENOMME-{tag}"])
    results = {}
    for run in ("first", "rerun"):
        with CaptureQueriesContext(connection) as ctx:
            t = time.perf_counter()
            report = module.import_assets(path, user=None, create_models=False)
            seconds = time.perf_counter() - t
        results[run] = {"seconds": round(seconds, 1), "rows_per_s": round(rows / seconds),
                        "created": report.created, "updated": report.updated, "unchanged": report.unchanged,
                        "queries": len(ctx.captured_queries),
                        # the importer ends with ANALYZE of the tables it wrote (preau.core.maintenance)
                        "analyze_s": round(sum(float(q["time"]) for q in ctx.captured_queries
                                               if q["sql"].lstrip().upper().startswith("ANALYZE")), 2)}
    first = results["first"]
    return {"rows": rows, "rows_per_s": first["rows_per_s"], "seconds": first["seconds"],
            "created": first["created"], "updated": first["updated"], "queries": first["queries"],
            "analyze_s": first["analyze_s"],
            "rerun": results["rerun"], "file_mb": round(path.stat().st_size / 1e6, 1)}
