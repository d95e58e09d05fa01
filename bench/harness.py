"""The harness shared by bench/fleet.py, bench/contents.py and bench/helpdesk.py.

Each of these benchmarks is a parent process that runs one child process per (database, size)
(`run_children`: a temporary directory, the child's environment, SQLite in that directory or a dedicated
PostgreSQL database created and dropped) and prints one JSON line per result, `{"bench": "<name>", …}`
(`emitter`). The child sets Django up and migrates (`migrate`), builds its data, then runs its cases
(`Runner`: Django test client, timing and query-count helpers; `Runner.run`: a broken case prints an
`{"error": …}` line and the child ends with 1; `Runner.passes`: PostgreSQL with statistics, SQLite first
without then after ANALYZE). `percentile` and `stats_ms` turn timings into p50/p95 (p99) milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PG_SCHEMES = ("postgres://", "postgresql://")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def emitter(bench: str) -> Callable[..., None]:
    """`emit(**fields)`: one JSON line `{"bench": bench, **fields}` on stdout."""

    def emit(**fields):
        print(json.dumps({"bench": bench, **fields}, ensure_ascii=False), flush=True)

    return emit


def arguments(doc: str, cases: list[str], quick_help: str, analyze_pass: bool = False) -> argparse.ArgumentParser:
    """The options every benchmark has (and the hidden ones of its child); the bench adds its own."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--db", choices=["sqlite", "postgresql"], help="only this database")
    ap.add_argument("--only", help="comma-separated cases: " + ", ".join(cases))
    ap.add_argument("--keep", action="store_true", help="keep the temporary databases")
    if analyze_pass:
        ap.add_argument("--no-analyze-pass", action="store_true",
                        help="SQLite: skip the second pass after ANALYZE (shorter, for tests)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--label", help=argparse.SUPPRESS)
    ap.add_argument("--cases", help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    return ap


# ============================================================================ parent: one child per (db, size)


def pg_admin_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def pg(url: str, sql: str, connect_timeout: int | None = None) -> None:
    """Runs `sql` outside a transaction (CREATE/DROP DATABASE) on the server of `url`."""
    import psycopg

    extra = {"connect_timeout": connect_timeout} if connect_timeout else {}
    with psycopg.connect(pg_admin_url(url), autocommit=True, **extra) as conn:
        conn.execute(sql)


def env_databases(choice: str | None) -> tuple[list[str], str] | None:
    """(the databases to run, DATABASE_URL): SQLite, and PostgreSQL when DATABASE_URL is a postgres:// URL;
    None (after saying why) when --db postgresql is asked without one."""
    url = os.environ.get("DATABASE_URL", "")
    is_pg = url.startswith(PG_SCHEMES)
    dbs = [choice] if choice else ["sqlite"] + (["postgresql"] if is_pg else [])
    if "postgresql" in dbs and not is_pg:
        log("--db postgresql needs DATABASE_URL=postgres://…")
        return None
    return dbs, url


def run_children(bench: str, script: str, args, sizes: Iterable,
                 plan: Callable[[str, tuple], tuple[str, list[str], list[str], str]], *, targets: dict,
                 dbs: list[str] | None = None, pg_url: str | None = None, unset: tuple[str, ...] = (),
                 pg_timeout: int | None = None) -> int:
    """For each database and size, `plan(db, size)` gives the size's label, its cases, the child's other
    arguments and what the size holds (said on stderr); the cases not in --only are left out, a size left
    without any is not run. The child runs as `script --child --db <db> --label … --cases … <arguments>
    --tmp <dir>` (and --no-analyze-pass when asked) in a fresh temporary directory (its PREAU_DATA_DIR,
    with the SQLite database), on PostgreSQL in a dedicated database preau_bench_<bench> created and dropped
    on the server of `pg_url`; `unset`: variables removed from the child's environment. Both are removed
    afterwards unless --keep. `dbs` None: those of `env_databases` (2 when --db postgresql cannot be).
    Prints the targets last; returns the worst exit code."""
    if dbs is None:
        found = env_databases(args.db)
        if found is None:
            return 2
        dbs, pg_url = found
    emit = emitter(bench)
    pg_name = f"preau_bench_{bench}"
    only = set(args.only.split(",")) if args.only else None
    rc = 0
    for db in dbs:
        for size in sizes:
            label, cases, child_args, what = plan(db, size)
            cases = [c for c in cases if only is None or c in only]
            if not cases:
                continue
            tmp = Path(tempfile.mkdtemp(prefix=f"preau-bench-{bench}-"))
            (tmp / "static").mkdir()  # DEBUG off: WhiteNoise wants STATIC_ROOT to exist
            env = dict(os.environ, PREAU_DATA_DIR=str(tmp), DJANGO_SETTINGS_MODULE="preau.settings", DEBUG="0",
                       PREAU_SECRET_KEY="bench-only-" + os.urandom(16).hex(), PREAU_JOBS_INLINE="1")
            for name in unset:
                env.pop(name, None)
            if db == "sqlite":
                env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
            else:
                pg(pg_url, f"DROP DATABASE IF EXISTS {pg_name}", pg_timeout)
                pg(pg_url, f"CREATE DATABASE {pg_name}", pg_timeout)
                env["DATABASE_URL"] = urlunsplit(urlsplit(pg_url)._replace(path=f"/{pg_name}"))
            cmd = [sys.executable, script, "--child", "--db", db, "--label", label, "--cases", ",".join(cases),
                   *child_args, "--tmp", str(tmp)]
            if getattr(args, "no_analyze_pass", False):
                cmd.append("--no-analyze-pass")
            log(f"== {db}, {label}: {what}: {', '.join(cases)}")
            try:
                rc = subprocess.call(cmd, env=env) or rc
            finally:
                if args.keep:
                    log(f"kept: {tmp}" + (f" and database {pg_name}" if db == "postgresql" else ""))
                else:
                    shutil.rmtree(tmp, ignore_errors=True)
                    if db == "postgresql":
                        pg(pg_url, f"DROP DATABASE IF EXISTS {pg_name}", pg_timeout)
    emit(targets=targets)
    return rc


# ============================================================================ child: build, then measure


def migrate() -> float:
    """Sets Django up and migrates the child's database; the seconds the migrations took."""
    import django

    django.setup()
    from django.core.management import call_command

    t = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    return time.perf_counter() - t


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return 0.0
    k = (len(s) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def stats_ms(times: list[float], p99: bool = False) -> dict:
    out = {"p50_ms": round(percentile(times, 0.5) * 1000, 1), "p95_ms": round(percentile(times, 0.95) * 1000, 1)}
    if p99:
        out["p99_ms"] = round(percentile(times, 0.99) * 1000, 1)
    out["n"] = len(times)
    return out


class Runner:
    """A child's cases (its methods, by name) and what they share. Every line says the bench, the database,
    the size's label and `counted` (the info key that measures the size: assets, nodes, tickets)."""

    bench = ""
    counted = ""
    log_errors = False  # also say a broken case on stderr

    def __init__(self, args, info: dict):
        from django.db import connection

        self.args = args
        self.info = info
        self.connection = connection
        self.base = {"db": connection.vendor, "size": args.label, self.counted: info[self.counted]}
        self._emit = emitter(self.bench)

    def emit(self, case: str, **fields):
        self._emit(**self.base, case=case, **fields)

    def run(self, names: list[str]) -> int:
        """Runs these cases; 1 when one of them broke (its error printed as its line), else 0."""
        rc = 0
        for case in names:
            try:
                getattr(self, case)()
            except Exception as e:  # one broken case must not hide the others
                rc = 1
                if self.log_errors:
                    log(f"{case}: {type(e).__name__}: {e}")
                self.emit(case, error=f"{type(e).__name__}: {e}"[:500])
        return rc

    def passes(self, cases: list[str], analyze_pass: bool) -> int:
        """PostgreSQL: with statistics (autovacuum, and Préau's own ANALYZE after its imports). SQLite: first
        without statistics (a database filled by other means than Préau's importers, no nightly `preau
        analyze`), then, unless not `analyze_pass`, after ANALYZE: the normal state, what Préau's imports,
        demo and cron leave."""
        from fleet_data import run_analyze

        sqlite = self.connection.vendor == "sqlite"
        self.base["analyzed"] = not sqlite
        rc = self.run(cases)
        if sqlite and cases and analyze_pass:
            seconds = run_analyze(self.connection)
            self.base["analyzed"] = True
            self._emit(db="sqlite", size=self.args.label, phase="analyze", seconds=seconds)
            rc = self.run(cases) or rc
        return rc

    # ------------------------------------------------------------------ Django test client

    def client(self, user_id: int):
        from django.test import Client

        from preau.accounts.models import User

        c = Client()
        c.force_login(User.objects.get(pk=user_id))
        return c

    def get(self, client, url: str, expect=200):
        r = client.get(url)
        if r.status_code != expect:
            raise RuntimeError(f"GET {url}: HTTP {r.status_code}")
        return r

    def queries(self, client, url: str) -> int:
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(self.connection) as ctx:
            self.get(client, url)
        return len(ctx.captured_queries)

    def timed(self, client, urls: list[str], rounds: int) -> list[float]:
        for url in urls[:3]:
            self.get(client, url)  # warm-up: templates, caches, the database's pages
        times = []
        for i in range(rounds):
            url = urls[i % len(urls)]
            t = time.perf_counter()
            self.get(client, url)
            times.append(time.perf_counter() - t)
        return times
