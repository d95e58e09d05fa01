"""Benchmark: the assistance (helpdesk) at the scale of a large territory (`make bench-helpdesk`, QUICK=1: small).

Builds a database with 500,000 help requests and about 2,000,000 comments over four school years and a term
(bench/helpdesk_data.py, on the territory of bench/fleet_data.py: 3,000 schools, 30,000 classes), then times,
through django.test.Client (middleware, views, templates, DEBUG=0), the pages people use. One JSON line per
case:

  {"bench":"helpdesk","db":…,"size":…,"tickets":…,"case":…,"user":…,"p50_ms":…,"p95_ms":…,"queries":…,"n":…}

- queue: the party's queue (/assistance/file/) of the agglomeration (filters: none, a deep page, status,
  a closed status, category, breached, breached + category, commune), of the big commune's staff, of the
  advisor and of the workshop; ordered by resolution deadline (the page's only order);
- mine: "my requests" of a technician (assignee of a tenth of the agglomeration's requests) and of a
  director (page 1, a deep page, open ones);
- school: a school's requests, seen by a technician and by its director;
- ticket: the request page of requests with 200 comments (a technician of the agglomeration);
- figures_refresh: the background work of `preau helpdesk-figures` (every live scope's school years and every
  year together, computed ahead of time): seconds, and the slowest computation per kind of year;
- figures: the figures page for the whole territory (current school year, last full year, every year, one
  commune) and a commune's staff, as served: from the stored figures ("source": "stored");
- figures_first_view: the first view of a commune filter nobody asked for (computed then, stored after);
- export: the agglomeration's queue as CSV, open and every status (streamed; time, rows, queries).
Every page case also runs on a small database: the query counts must be the same. Targets are printed,
not asserted: pages p95 <= 200 ms with query counts that do not grow.

SQLite in a temporary directory, always; PostgreSQL too when DATABASE_URL is a postgres:// URL (a dedicated
database, preau_bench_helpdesk, created and dropped on that server). The parent, the child's helpers and
the JSON lines come from bench/harness.py, as for bench/fleet.py.

    .venv/bin/python bench/helpdesk.py [--quick] [--db sqlite|postgresql] [--only case,…] [--keep]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import harness  # noqa: E402
from harness import log, percentile, stats_ms  # noqa: E402

CASES = ["queue", "mine", "school", "ticket", "figures", "export"]
PAGE_CASES = ["queue", "mine", "school", "ticket", "figures"]
# (label, tickets, comments, classes, assets, cases)
FULL = [("small", 5_000, 20_000, 3_000, 8_000, PAGE_CASES),
        ("full", 500_000, 2_000_000, 30_000, 80_000, CASES)]
QUICK = [("small", 5_000, 20_000, 1_000, 2_500, PAGE_CASES),
         ("quick", 20_000, 80_000, 3_000, 8_000, CASES)]
TARGETS = {"page_p95_ms": 200}

emit = harness.emitter("helpdesk")


# ============================================================================ parent: one child per (db, size)


def parent(args) -> int:
    def plan(db, size):
        label, tickets, comments, classes, assets, cases = size
        return label, cases, ["--tickets", str(tickets), "--comments", str(comments), "--classes", str(classes),
                              "--assets", str(assets)], f"{tickets:,} requests, {comments:,} comments"

    # REDIS_URL unset: the dashboard counts' cache in the process's memory, not a shared server
    return harness.run_children("helpdesk", __file__, args, QUICK if args.quick else FULL, plan, targets=TARGETS,
                                unset=("REDIS_URL",))


# ============================================================================ child: build, then measure


class HelpdeskChild(harness.Runner):
    """The helpdesk's cases, on harness.Runner's client, timing and query-count helpers."""

    bench = "helpdesk"
    counted = "tickets"

    def combos(self, case: str, who: str, user: int, urls: dict[str, str], rounds: int = 0, **extra):
        """Rounds over the combinations (p50/p95), then each one's queries and p50."""
        client = self.client(user)
        times = self.timed(client, list(urls.values()), rounds or max(30, 3 * len(urls)))
        counts = {name: self.queries(client, url) for name, url in urls.items()}
        by_filter = {}
        for name, url in urls.items():
            by_filter[name] = round(percentile(self.timed(client, [url], 3), 0.5) * 1000, 1)
        self.emit(case, user=who, **stats_ms(times), queries=max(counts.values()), queries_by_filter=counts,
                  p50_ms_by_filter=by_filter, **extra)

    # ------------------------------------------------------------------ cases

    def queue(self):
        from django.urls import reverse

        base = reverse("helpdesk:queue")
        info = self.info
        agglo = {
            "none": "",
            "page_deep": "?page=40",
            "status": "?status=in_progress",
            "status_closed": "?status=closed",
            "category": "?category=1",
            "breached": "?breached=on",
            "breached+category": "?breached=on&category=2",
            "commune": f"?commune={info['big_commune']}",
        }
        self.combos("queue", "agglomeration", info["technician"], {k: base + q for k, q in agglo.items()})
        commune = {"none": "", "page_deep": "?page=5", "status": "?status=assigned", "category": "?category=10",
                   "breached": "?breached=on", "all": "?status=all"}
        self.combos("queue", "commune", info["mairie"], {k: base + q for k, q in commune.items()})
        small = {"none": "", "all": "?status=all", "breached": "?breached=on"}
        self.combos("queue", "circonscription", info["advisor"], {k: base + q for k, q in small.items()})
        self.combos("queue", "workshop", info["workshop"], {k: base + q for k, q in small.items()})

    def mine(self):
        from django.urls import reverse

        base = reverse("helpdesk:mine")
        urls = {"none": base, "page_deep": base + "?page=20", "open": base + "?status=open"}
        self.combos("mine", "technician", self.info["technician"], urls)
        self.combos("mine", "director", self.info["director"], urls)

    def school(self):
        from django.urls import reverse

        base = reverse("helpdesk:school", args=[self.info["school_uai"]])
        urls = {"none": base, "page_deep": base + "?page=3", "open": base + "?status=open"}
        self.combos("school", "technician", self.info["technician"], urls)
        self.combos("school", "director", self.info["director"], urls)

    def ticket(self):
        from django.urls import reverse
        from django.utils.html import escape
        from helpdesk_data import INTERNAL, PUBLIC

        from preau.helpdesk.models import Comment

        urls = [reverse("helpdesk:ticket", args=[pk]) for pk in self.info["heavy"]]
        client = self.client(self.info["technician"])
        times = self.timed(client, urls, 30)
        counts = [self.queries(client, u) for u in urls[:5]]
        comments = Comment.objects.filter(ticket_id=self.info["heavy"][0]).count()
        html = self.get(client, urls[0]).content.decode()
        self.emit("ticket", user="technician", **stats_ms(times), queries=max(counts), queries_min=min(counts),
                  comments=comments, shown=sum(html.count(escape(body)) for body in PUBLIC + INTERNAL))

    def figures(self):
        """The figures page as served: read from the figures computed ahead of time (snapshots.py). First the
        background work (`preau helpdesk-figures`: every live scope's school years), timed; then the page
        from the stored figures; then the first view of a commune filter nobody asked for (computed then)."""
        from django.db.models import Count, Max
        from django.test.utils import CaptureQueriesContext
        from django.urls import reverse
        from django.utils import timezone

        from preau.helpdesk import snapshots
        from preau.helpdesk.figures import school_year_of
        from preau.helpdesk.models import FigureSnapshot
        from preau.territory.models import Commune

        FigureSnapshot.objects.all().delete()  # the SQLite pass after ANALYZE computes them again
        t = time.perf_counter()
        counts = snapshots.refresh_all()
        seconds = time.perf_counter() - t
        current = school_year_of(timezone.localdate())
        kinds = {"current_year": {"year": current}, "past_years": {"year__gt": 0, "year__lt": current},
                 "all_years": {"year": 0}}
        slowest = {name: FigureSnapshot.objects.filter(**q).aggregate(ms=Max("duration_ms"))["ms"]
                   for name, q in kinds.items()}
        self.emit("figures_refresh", seconds=round(seconds, 1), computed=counts["computed"],
                  scopes=len(snapshots.live_scopes()), years=len(snapshots.school_years()),
                  slowest_ms_by_year=slowest)

        base = reverse("helpdesk:figures")
        last = current - 1
        big = self.info["big_commune"]
        admin = {"current_year": base, "last_year": base + f"?annee={last}", "all_years": base + "?annee=tout",
                 "commune": base + f"?commune={big}"}
        mine = {"current_year": base, "last_year": base + f"?annee={last}", "all_years": base + "?annee=tout"}
        self.combos("figures", "admin", self.info["admin"], admin, source="stored")
        self.combos("figures", "commune", self.info["mairie"], mine, source="stored")

        # The first view of a commune filter: computed on demand, once (then stored). The big commune (its
        # stored figures dropped) and the five communes with the most schools after it.
        client = self.client(self.info["admin"])
        times, queries = [], []
        communes = list(Commune.objects.annotate(n=Count("schools")).filter(n__gt=0).order_by("-n", "insee")
                        .values_list("pk", "insee")[:6])
        FigureSnapshot.objects.filter(commune_id__in=[pk for pk, _insee in communes]).delete()
        for _pk, insee in communes:
            with CaptureQueriesContext(self.connection) as ctx:
                t = time.perf_counter()
                self.get(client, base + f"?commune={insee}")
                times.append(time.perf_counter() - t)
            queries.append(len(ctx.captured_queries))
        self.emit("figures_first_view", user="admin", **stats_ms(times), queries=max(queries),
                  queries_min=min(queries), filter="commune, current year", communes=len(communes))

    def export(self):
        from django.test.utils import CaptureQueriesContext
        from django.urls import reverse

        client = self.client(self.info["technician"])
        url = reverse("helpdesk:queue-export", args=["csv"])
        results = {}
        for name, query in (("open", ""), ("all", "?status=all")):
            with CaptureQueriesContext(self.connection) as ctx:
                t = time.perf_counter()
                response = self.get(client, url + query)
                body = b"".join(response.streaming_content) if response.streaming else response.content
                seconds = time.perf_counter() - t
            rows = body.count(b"\n") - 1
            results[name] = {"seconds": round(seconds, 2), "rows": rows, "rows_per_s": round(rows / seconds),
                             "queries": len(ctx.captured_queries), "mb": round(len(body) / 1e6, 1)}
        self.emit("export", user="technician", format="csv", **results)


def child(args) -> int:
    migrate_s = harness.migrate()
    from django.db import connection
    from helpdesk_data import HelpdeskSize, generate_helpdesk

    sqlite = connection.vendor == "sqlite"
    info = generate_helpdesk(HelpdeskSize(args.tickets, args.comments, args.classes, args.assets), log=log,
                             analyze=not sqlite)
    shown = ("communes", "schools", "classes", "assets", "tickets", "comments", "events", "open",
             "big_commune_schools", "rows", "timings")
    emit(db=connection.vendor, size=args.label, phase="generate", migrate_s=round(migrate_s, 1),
         **{k: info[k] for k in shown})
    # As bench/fleet.py: PostgreSQL with statistics; SQLite first without, then after ANALYZE (the normal
    # state: Préau's imports, demo and nightly `preau analyze` leave statistics).
    return HelpdeskChild(args, info).passes(args.cases.split(","), analyze_pass=not args.no_analyze_pass)


def main() -> int:
    ap = harness.arguments(__doc__, CASES, "20,000 requests / 80,000 comments (about a minute)",
                           analyze_pass=True)
    for name in ("tickets", "comments", "classes", "assets"):
        ap.add_argument(f"--{name}", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    return child(args) if args.child else parent(args)


if __name__ == "__main__":
    sys.exit(main())
