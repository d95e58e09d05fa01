"""Benchmark: the fleet at the scale of a region (`make bench-fleet`, QUICK=1 for a one-minute run).

Builds a database with 1,000,000 assets and 300,000 classes (3,000 communes, 30,000 schools,
~690,000 slots, one timeline event per asset) by raw bulk inserts (bench/fleet_data.py), then
times, through django.test.Client, what people do with it. One JSON line per case:

  {"bench":"fleet","db":"sqlite"|"postgresql","assets":…,"case":…,"p50_ms":…,"p95_ms":…,"queries":…,"n":…}

- asset_list: the filtered asset list, 13 filter combinations as an admin and 6 as a commune's
  staff; also run on a 10,000-asset database to show that the number of SQL queries
  does not grow with the data;
- asset_page: one asset's page, random tags;
- school_equipment: the school page (with its equipment section) of schools of 30 classes;
- csv_import: a 100,000-row CSV through the fleet importer (rows_per_s);
- agent_intake: agent inventories (GLPI Agent JSON, FusionInventory XML) of known machines
  (matched by MAC address) and of unknown ones.
A case whose code is not there prints {"case":…,"skipped":…}. Targets are printed, not asserted:
pages p95 <= 200 ms with query counts that do not grow, import >= 2,000 rows/s, intake <= 100 ms.

SQLite in a temporary directory, always; PostgreSQL too when DATABASE_URL is a postgres:// URL
(a dedicated database, preau_bench_fleet, created and dropped on that server). The parent, the child's
helpers and the JSON lines come from bench/harness.py.

    .venv/bin/python bench/fleet.py [--quick] [--db sqlite|postgresql] [--only case,…] [--keep]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import harness  # noqa: E402
from harness import log, percentile, stats_ms  # noqa: E402

CASES = ["asset_list", "asset_page", "school_equipment", "csv_import", "agent_intake"]
PAGE_CASES = ["asset_list", "asset_page", "school_equipment"]
# (label, assets, classes, cases, csv rows, intake submissions)
FULL = [("small", 10_000, 3_000, PAGE_CASES, 0, 0), ("full", 1_000_000, 300_000, CASES, 100_000, 50)]
QUICK = [("small", 2_000, 600, PAGE_CASES, 0, 0), ("quick", 20_000, 6_000, CASES, 5_000, 50)]
TARGETS = {"page_p95_ms": 200, "import_rows_per_s": 2000, "intake_p95_ms": 100}

emit = harness.emitter("fleet")


# ============================================================================ parent: one child per (db, size)


def parent(args) -> int:
    def plan(db, size):
        label, assets, classes, cases, csv_rows, intakes = size
        return label, cases, ["--assets", str(assets), "--classes", str(classes), "--csv-rows", str(csv_rows),
                              "--intakes", str(intakes)], f"{assets:,} assets, {classes:,} classes"

    return harness.run_children("fleet", __file__, args, QUICK if args.quick else FULL, plan, targets=TARGETS)


# ============================================================================ child: build, then measure


class Child(harness.Runner):
    bench = "fleet"
    counted = "assets"

    def __init__(self, args, info: dict):
        super().__init__(args, info)
        self.intake_rounds = 0

    # ------------------------------------------------------------------ cases

    def asset_list(self):
        from django.urls import NoReverseMatch, reverse

        from preau.fleet.models import Site
        from preau.territory.models import Commune, School

        try:
            base = reverse("fleet:assets")
        except NoReverseMatch:
            return self.emit("asset_list", skipped="not built yet (no fleet:assets route)")
        commune = Commune.objects.get(pk=1)  # the commune user's commune
        other = Commune.objects.order_by("-pk").first()
        school = School.objects.filter(commune=commune).order_by("pk").first()
        depot = Site.objects.filter(kind="depot").order_by("pk").values_list("pk", flat=True).first()
        combos = {
            "none": "",
            "category": "?category=thin_client",
            "status": "?status=failed",
            "category+status+commune": f"?category=projector&status=deployed&commune={other.insee}",
            "school": f"?school={school.uai}",
            "search": "?q=OptiPlex",
            "search_rare": "?q=H0012345",
            "age+category": "?age_min=10&category=desktop",
            "ordering": "?ordering=-purchased",
            "status+page": "?status=deployed&page=50",
            # Added after the profiling of December 2026 (docs/fleet-bench.md): a word naming one catalogue
            # model, a status whose devices are the newest (all at the depot), the depot itself.
            "search_model": "?q=Wyse",
            "status_rare": "?status=in_repair",
            "site": f"?site={depot}",
        }
        mine = {
            "none": "",
            "category": "?category=thin_client",
            "commune+status": f"?commune={commune.insee}&status=deployed",
            "school": f"?school={school.uai}",
            "search": "?q=Wyse",
            "search_rare": "?q=H0000345",
        }
        for who, user, filters in (("admin", self.info["admin"], combos), ("commune", self.info["mairie"], mine)):
            client = self.client(user)
            urls = [base + q for q in filters.values()]
            times = self.timed(client, urls, max(30, 3 * len(urls)))
            counts = {name: self.queries(client, base + q) for name, q in filters.items()}
            by_filter = {}
            for name, q in filters.items():
                t = self.timed(client, [base + q], 3)
                by_filter[name] = round(percentile(t, 0.5) * 1000, 1)
            self.emit("asset_list", user=who, **stats_ms(times), queries=max(counts.values()),
                      queries_by_filter=counts, p50_ms_by_filter=by_filter)

    def asset_page(self):
        import random

        from django.urls import NoReverseMatch, reverse

        from preau.fleet.models import Asset

        try:
            reverse("fleet:asset", args=["SEM-0000001"])
        except NoReverseMatch:
            return self.emit("asset_page", skipped="not built yet (no fleet:asset route)")
        rng = random.Random(1)
        last = Asset.objects.order_by("-pk").values_list("pk", flat=True).first()
        ids = [rng.randint(1, last) for _ in range(40)]
        tags = list(Asset.objects.filter(pk__in=ids).values_list("tag", flat=True))
        urls = [reverse("fleet:asset", args=[t]) for t in tags]
        client = self.client(self.info["admin"])
        times = self.timed(client, urls, 30)
        counts = [self.queries(client, u) for u in urls[:10]]
        self.emit("asset_page", user="admin", **stats_ms(times), queries=max(counts),
                  queries_min=min(counts))

    def school_equipment(self):
        from django.urls import reverse

        from preau.territory.models import School

        uais = self.info["big_schools"][:30]
        urls = [reverse("territory:school", args=[u]) for u in uais]
        client = self.client(self.info["admin"])
        times = self.timed(client, urls, 30)
        counts = [self.queries(client, u) for u in urls[:5]]
        html = self.get(client, urls[0]).content.decode()
        classes = School.objects.get(uai=uais[0]).classes.count()
        self.emit("school_equipment", user="admin", **stats_ms(times), queries=max(counts), classes=classes,
                  equipment_shown="SEM-" in html)

    def csv_import(self):
        import importlib

        found = None
        for name in ("preau.fleet.importer", "preau.fleet.importers"):
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            if hasattr(module, "import_assets"):
                found = module
                break
        if found is None:
            return self.emit("csv_import", skipped="not built yet (no preau.fleet.importer(s).import_assets)")
        from fleet_cases import run_csv_import

        self.emit("csv_import", **run_csv_import(found, self.args.csv_rows, Path(self.args.tmp), self.info))

    def agent_intake(self):
        import importlib

        try:
            importlib.import_module("preau.fleet.agent.intake")
        except ImportError:
            return self.emit("agent_intake", skipped="not built yet (no preau.fleet.agent.intake)")
        from fleet_cases import run_agent_intake

        self.intake_rounds += 1  # fresh machines each round (SQLite runs the case twice)
        for line in run_agent_intake(self.args.intakes, self.info, round_no=self.intake_rounds - 1):
            self.emit("agent_intake", **line)


def child(args) -> int:
    migrate_s = harness.migrate()
    from django.db import connection
    from fleet_data import Size, generate

    sqlite = connection.vendor == "sqlite"
    info = generate(Size(args.assets, args.classes), log=log, analyze=not sqlite)
    emit(db=connection.vendor, size=args.label, phase="generate", migrate_s=round(migrate_s, 1),
         **{k: v for k, v in info.items() if k not in ("big_schools", "admin", "mairie")})
    runner = Child(args, info)
    cases = args.cases.split(",")
    # The reads twice on SQLite (without statistics, then after ANALYZE: Runner.passes), the import last.
    rc = runner.passes([c for c in cases if c != "csv_import"], analyze_pass=not args.no_analyze_pass)
    return runner.run([c for c in cases if c == "csv_import"]) or rc


def main() -> int:
    ap = harness.arguments(__doc__, CASES, "20,000 assets / 6,000 classes (about a minute)", analyze_pass=True)
    ap.add_argument("--assets", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--classes", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--csv-rows", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--intakes", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    return child(args) if args.child else parent(args)


if __name__ == "__main__":
    sys.exit(main())
