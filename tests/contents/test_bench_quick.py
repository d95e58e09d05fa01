"""`make bench-contents QUICK=1` as a test: the dashboard and tour bundle cases on SQLite, and on PostgreSQL
(127.0.0.1:5432, or DATABASE_URL when it is a postgres:// URL) also the check-in load against a real gunicorn.
Without a PostgreSQL server the check-in case is reported as skipped, with the reason. Timings are printed by
the bench, not asserted (the machine is shared): what is asserted is that every case ran, without any error
answer, that deliveries were counted once, that the dashboard's query count does not grow from 200 to 2,000
NAS, and that the tour bundle is smaller than the per-school bundles put together."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_quick_contents_bench():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    if not env.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        env.pop("DATABASE_URL", None)  # the bench then tries postgres://postgres@127.0.0.1:5432
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "contents.py"), "--quick"], capture_output=True,
                            text=True, env=env, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert lines and all(line["bench"] == "contents" for line in lines)
    assert lines[-1]["targets"] == {"checkin_per_s": 500, "checkin_errors": 0, "dashboard_p95_ms": 200,
                                    "tour_bundle_ratio_below": 1}
    cases = [line for line in lines if "case" in line]
    assert not [c for c in cases if "error" in c]
    skipped = [c for c in cases if "skipped" in c]
    assert all(c["case"] == "checkin" and "PostgreSQL" in c["skipped"] for c in skipped), skipped
    dbs = ["sqlite"] + ([] if skipped else ["postgresql"])

    generated = {(line["db"], line["size"]): line for line in lines if line.get("phase") == "generate"}
    for db in dbs:
        assert generated[(db, "small")]["nodes"] == 200 and generated[(db, "quick")]["nodes"] == 2_000

    def pick(db, size, case, **match):
        found = [c for c in cases if c.get("db") == db and c.get("size") == size and c["case"] == case
                 and all(c.get(k) == v for k, v in match.items())]
        assert len(found) == 1, (db, size, case, match, found)
        return found[0]

    for db in dbs:
        for user in ("admin", "commune"):
            small, quick = pick(db, "small", "dashboard", user=user), pick(db, "quick", "dashboard", user=user)
            assert quick["n"] == small["n"] == 10
            assert 0 < quick["p50_ms"] <= quick["p95_ms"] and quick["cold_ms_max"] > 0
            # bounded: the same number of queries at 200 and at 2,000 NAS, computed or reused
            assert quick["queries"] == small["queries"] and quick["queries_cold"] == small["queries_cold"], \
                (db, user, small, quick)
            assert quick["queries"] <= quick["queries_cold"] <= 12

        tour = pick(db, "quick", "tour_bundle")
        assert tour["schools"] == 6 and tour["empty_schools"] == 2 and tour["needs_kinds"] >= 3
        assert 0 < tour["bundle_bytes"] < tour["sum_per_school_bytes"] and tour["ratio"] < 1
        assert tour["per_school_bytes_max"] <= tour["bundle_bytes"]  # no school alone needs more than the tour

    if skipped:
        print(f"check-in case skipped: {skipped[0]['skipped']}")
        return
    preau, baseline = pick("postgresql", "quick", "checkin", server="preau"), \
        pick("postgresql", "quick", "checkin", server="baseline")
    for line in (preau, baseline):
        assert line["n"] == line["ok"] == 2_000, line
        assert line["errors"] == 0 and line["errors_by_status"] == {} and line["problems"] == []
        assert line["per_s"] > 0 and 0 < line["p50_ms"] <= line["p95_ms"] <= line["p99_ms"]
    assert preau["deliveries_reported"] > 0
    assert preau["deliveries_recorded"] == preau["deliveries_reported"]  # each new version counted once
    assert preau["workers"]["workers"] >= 1 and preau["generator_cpu_s"] > 0
    assert 0 < preau["vs_baseline"] and preau["baseline_per_s"] == baseline["per_s"]
