"""Benchmark: contents on 50,000 school NAS (`make bench-contents`, QUICK=1 for a run of a minute or two).

Builds a database with 50,000 schools, each with an enrolled NAS, 20 collections and their releases and
subscriptions (bench/contents_data.py, raw bulk inserts), then measures. One JSON line per case:

  {"bench":"contents","db":"sqlite"|"postgresql","size":…,"nodes":…,"case":…,…}

- checkin (PostgreSQL only): a real gunicorn serving Préau (DEBUG off) and a load generator on 127.0.0.1
  (bench/contents_load.py) sending every NAS's check-in with its own node id, credential, next seq and held
  versions: sustained check-ins/s, p50/p95/p99 ms, errors by status, the workers' configuration, the CPU of
  the generator and of the server; then the same load against a trivial WSGI application under the same
  gunicorn (bench/contents_baseline.py), the ceiling, and Préau's share of it (`vs_baseline`);
- dashboard: the freshness dashboard /contenus/fraicheur/ as an admin (every school) and as a commune's
  staff (its schools): the first computation of 3 pages (cold_ms_min/max, queries_cold), then p50/p95 ms
  and SQL queries of 10-20 requests while the data does not change (the page is reused while
  freshness.data_fingerprint is unchanged); also on a small database (500 NAS) to show that the number of
  queries does not grow with the data;
- tour_bundle: a tour of 30 schools at mixed versions of 3 really published collections (some NAS empty),
  its bundle built by the real engine (preau.contents.tours.build_bundle): seconds, bytes, and the sum of
  the 30 bundles each school would need alone (`sum_per_school_bytes`, `ratio` = bundle / sum).
A case whose prerequisite is missing prints {"case":…,"skipped":…}. Targets are printed, not asserted:
>= 500 check-ins/s without error, dashboard p95 <= 200 ms with a bounded number of queries, tour bundle
smaller than the sum of the per-school bundles.

SQLite in a temporary directory, always; PostgreSQL in a dedicated database, preau_bench_contents, created
and dropped on the server of DATABASE_URL (postgres://…), else of postgres://postgres@127.0.0.1:5432/postgres
when it answers; when no PostgreSQL answers, the check-in case is skipped with the reason. The parent, the
child's helpers and the JSON lines come from bench/harness.py, as for bench/fleet.py and bench/helpdesk.py.

    .venv/bin/python bench/contents.py [--quick] [--db sqlite|postgresql] [--only case,…] [--keep]
                                       [--workers N] [--threads N] [--concurrency N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import harness  # noqa: E402
from harness import log, stats_ms  # noqa: E402

CASES = ["dashboard", "checkin", "tour_bundle"]
# (label, nodes, cases, check-ins sent, tour schools)
FULL = [("small", 500, ["dashboard"], 0, 0), ("full", 50_000, CASES, 50_000, 30)]
QUICK = [("small", 200, ["dashboard"], 0, 0), ("quick", 2_000, CASES, 2_000, 6)]
TARGETS = {"checkin_per_s": 500, "checkin_errors": 0, "dashboard_p95_ms": 200, "tour_bundle_ratio_below": 1}
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"

emit = harness.emitter("contents")


# ============================================================================ parent: one child per (db, size)


def _pg_url() -> tuple[str | None, str]:
    """(URL of a PostgreSQL server that answers, or None; the reason when none)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(harness.PG_SCHEMES):
        url = DEFAULT_PG
    try:
        harness.pg(url, "SELECT 1", connect_timeout=5)
    except Exception as e:  # psycopg missing, server down, refused…
        host = urlsplit(url).hostname, urlsplit(url).port
        return None, f"PostgreSQL unreachable at {host[0]}:{host[1]} ({type(e).__name__}: {str(e)[:200]})"
    return url, ""


def parent(args) -> int:
    pg_url, why = (None, "not asked (--db sqlite)") if args.db == "sqlite" else _pg_url()
    dbs = [args.db] if args.db else ["sqlite", "postgresql"]
    only = set(args.only.split(",")) if args.only else None
    if pg_url is None and "postgresql" in dbs:
        if args.db == "postgresql":
            log(why)
            return 2
        dbs.remove("postgresql")
    if pg_url is None and (only is None or "checkin" in only):
        emit(case="checkin", skipped=f"needs PostgreSQL: {why}")

    def plan(db, size):
        label, nodes, cases, checkins, tour_schools = size
        child_args = ["--nodes", str(nodes), "--checkins", str(checkins), "--tour-schools", str(tour_schools),
                      "--workers", str(args.workers), "--threads", str(args.threads), "--concurrency",
                      str(args.concurrency)] + (["--quick"] if args.quick else [])
        return label, [c for c in cases if c != "checkin" or db == "postgresql"], child_args, f"{nodes:,} NAS"

    # REDIS_URL unset: each gunicorn worker its own local-memory cache, as without Redis
    return harness.run_children("contents", __file__, args, QUICK if args.quick else FULL, plan, targets=TARGETS,
                                dbs=dbs, pg_url=pg_url, unset=("REDIS_URL",), pg_timeout=5)


# ============================================================================ child: build, then measure


class Child(harness.Runner):
    bench = "contents"
    counted = "nodes"
    log_errors = True

    # ------------------------------------------------------------------ dashboard

    def dashboard(self):
        from django.test.utils import CaptureQueriesContext
        from django.urls import reverse

        url = reverse("contents:freshness")

        def get(client, u):
            with CaptureQueriesContext(self.connection) as ctx:
                t = time.perf_counter()
                r = client.get(u)
                elapsed = time.perf_counter() - t
            if r.status_code != 200:
                raise RuntimeError(f"GET {u}: HTTP {r.status_code}")
            return elapsed, len(ctx.captured_queries), r

        for who, user_id in (("admin", self.info["admin"]), ("commune", self.info["mairie"])):
            client = self.client(user_id)
            urls = [url, url + "?collection=c04", url + "?collection=c05"]
            client.get(url + "?collection=c01")  # warm-up: templates, the database's pages, the session
            # Cold: the page computed from the data (the first request after the data changed); then the same
            # pages while the data does not change (freshness.data_fingerprint unchanged: reused).
            cold = [get(client, u) for u in urls]
            times = []
            rounds = 10 if self.args.quick or self.info["nodes"] <= 500 else 20
            for i in range(rounds):
                times.append(get(client, urls[i % len(urls)])[0])
            counts = [get(client, u)[1] for u in urls]
            self.emit("dashboard", user=who, **stats_ms(times), queries=max(counts), queries_min=min(counts),
                      cold_ms_max=round(max(c[0] for c in cold) * 1000, 1),
                      cold_ms_min=round(min(c[0] for c in cold) * 1000, 1),
                      queries_cold=max(c[1] for c in cold), html_kb=round(len(cold[0][2].content) / 1024))

    # ------------------------------------------------------------------ check-in

    def checkin(self):
        from contents_load import Agents, Gunicorn, run_load

        from preau.contents.models import Delivery

        workers, threads, concurrency = self.args.workers, self.args.threads, self.args.concurrency
        n = self.args.checkins
        current = self.info["current"]

        def check_preau(body: bytes) -> str:
            try:
                answer = json.loads(body)
                offers = answer["collections"]
            except (ValueError, KeyError) as e:
                return f"not an offer: {e}: {body[:200]!r}"
            wrong = [c for c, o in offers.items() if current.get(c) != o.get("version")]
            if wrong:
                return f"wrong versions offered: {wrong}"
            return "" if answer.get("mode") == "online" else f"mode {answer.get('mode')!r}, expected online"

        def check_none(body: bytes) -> str:
            return ""

        def backends() -> list[int]:
            """The PostgreSQL processes serving the benchmark's database (the workers' persistent connections)."""
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                               "AND pid <> pg_backend_pid()")
                return [row[0] for row in cursor.fetchall()]

        lines = {}
        env = dict(os.environ, DB_CONN_MAX_AGE=os.environ.get("DB_CONN_MAX_AGE", "600"))
        for name, app, chdir, check in (("preau", "preau.wsgi", str(ROOT), check_preau),
                                        ("baseline", "contents_baseline:application", str(ROOT / "bench"),
                                         check_none)):
            server = Gunicorn(app, env, workers=workers, threads=threads, chdir=chdir, log=log)
            try:
                server.wait_ready("/contenus/agent/checkin/" if name == "preau" else "/")
                agents = Agents(self.info["agents"], current, seed=11 if name == "preau" else 12)
                warm = min(200, n // 10)
                run_load(server.port, agents, warm, concurrency, check)  # warm-up: imports, connections
                agents.delivered = 0
                deliveries_before = Delivery.objects.count()
                log(f"  {name}: {n:,} check-ins, {concurrency} sockets, {server.config}")
                result = run_load(server.port, agents, n, concurrency, check, server, db_pids=backends)
            finally:
                server.stop()
            ok = result["statuses"].get(200, 0) - result["statuses"].get("bad_body", 0)
            errors = {str(k): v for k, v in result["statuses"].items() if k != 200}
            lines[name] = {
                "per_s": round(len(result["times"]) / result["wall"], 1), **stats_ms(result["times"], p99=True),
                "ok": ok, "errors": sum(errors.values()), "errors_by_status": errors,
                "problems": result["problems"], "seconds": round(result["wall"], 1),
                "connections": result["connections"], "deliveries_reported": agents.delivered,
                "generator_cpu_s": result["generator_cpu_s"], "generator_cpu_pct": result["generator_cpu_pct"],
                "server_cpu_s": result["server_cpu_s"], "db_cpu_s": result["db_cpu_s"],
                "machine_busy_pct": result["machine_busy_pct"],
            }
            # CPU per check-in (gunicorn + PostgreSQL) and what 2 idle cores would serve at that cost
            cpu_ms = 1000 * (result["server_cpu_s"] + (result["db_cpu_s"] or 0)) / max(len(result["times"]), 1)
            lines[name]["cpu_ms_per_request"] = round(cpu_ms, 2)
            lines[name]["capacity_per_s_2_cores"] = round(2000 / cpu_ms) if cpu_ms else None
            if name == "preau":
                recorded = Delivery.objects.count() - deliveries_before
        self.emit("checkin", server="preau", **lines["preau"], workers=server.config, concurrency=concurrency,
                  db_conn_max_age=int(env["DB_CONN_MAX_AGE"]), baseline_per_s=lines["baseline"]["per_s"],
                  vs_baseline=round(lines["preau"]["per_s"] / max(lines["baseline"]["per_s"], 0.1), 2),
                  deliveries_recorded=recorded)
        self.emit("checkin", server="baseline", **lines["baseline"], workers=server.config, concurrency=concurrency)

    # ------------------------------------------------------------------ tour bundle

    def tour_bundle(self):
        from contents_tour import run_tour_bundle

        self.emit("tour_bundle", **run_tour_bundle(self.info, self.args.tour_schools, Path(self.args.tmp),
                                                   quick=self.args.quick, log=log))


def child(args) -> int:
    migrate_s = harness.migrate()
    from contents_data import generate
    from django.db import connection

    info = generate(args.nodes, log=log)
    emit(db=connection.vendor, size=args.label, phase="generate", migrate_s=round(migrate_s, 1),
         **{k: v for k, v in info.items() if k not in ("agents", "current", "admin", "mairie")})
    # the order of CASES: the tour publishes collections for every school
    return Child(args, info).run(args.cases.split(","))


def main() -> int:
    ap = harness.arguments(__doc__, CASES, "2,000 NAS, 6 tour schools (a minute or two)")
    # The production configuration (docs/deployment.md): gthread workers, NAS connections kept alive.
    ap.add_argument("--workers", type=int, default=3, help="gunicorn workers of the check-in case (3)")
    ap.add_argument("--threads", type=int, default=4, help="threads per worker (4; 1: sync workers)")
    ap.add_argument("--concurrency", type=int, default=32, help="keep-alive sockets of the load generator (32)")
    ap.add_argument("--nodes", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--checkins", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--tour-schools", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    return child(args) if args.child else parent(args)


if __name__ == "__main__":
    sys.exit(main())
