"""`make bench-fleet QUICK=1` as a test: every case runs on SQLite, and the pages' query counts do not grow
from 2,000 to 20,000 assets. Timings are printed by the bench, not asserted (the machine is shared)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_quick_fleet_bench_runs_every_case_with_flat_query_counts():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "fleet.py"), "--quick", "--db", "sqlite",
                             "--no-analyze-pass"], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert lines and all(line["bench"] == "fleet" for line in lines)
    assert lines[-1]["targets"] == {"page_p95_ms": 200, "import_rows_per_s": 2000, "intake_p95_ms": 100}
    cases = [line for line in lines if "case" in line]
    assert not [c for c in cases if "error" in c or "skipped" in c]

    generated = {line["size"]: line for line in lines if line.get("phase") == "generate"}
    assert generated["small"]["assets"] == 2_000 and generated["quick"]["assets"] == 20_000
    assert generated["quick"]["classes"] == 6_000 and generated["quick"]["schools"] == 600

    def pick(size, case, **match):
        found = [c for c in cases if c["size"] == size and c["case"] == case
                 and all(c.get(k) == v for k, v in match.items())]
        assert len(found) == 1, (size, case, match, found)
        return found[0]

    for case, users in (("asset_list", ("admin", "commune")), ("asset_page", ("admin",)),
                        ("school_equipment", ("admin",))):
        for user in users:
            small, quick = pick("small", case, user=user), pick("quick", case, user=user)
            assert quick["n"] == small["n"] >= 30  # 3 rounds of the combinations, at least 30 requests
            assert 0 < quick["p50_ms"] <= quick["p95_ms"]
            assert quick["queries"] == small["queries"], (case, user, small, quick)
            if case == "asset_list":
                assert quick["queries_by_filter"] == small["queries_by_filter"]
    assert pick("quick", "school_equipment")["classes"] == 30

    known, unknown = pick("quick", "agent_intake", machine="known"), pick("quick", "agent_intake", machine="unknown")
    assert known["outcomes"] == {"matched": 52} and unknown["outcomes"] == {"queued": 52}
    assert known["n"] == unknown["n"] == 50

    imported = pick("quick", "csv_import")
    assert imported["rows"] == 5_000 and imported["created"] == 4_000 and imported["updated"] == 1_000
    assert imported["rows_per_s"] > 0
    assert imported["rerun"]["unchanged"] == 5_000 and imported["rerun"]["created"] == 0
