"""`make bench-helpdesk QUICK=1` as a test: every case runs on SQLite without error, and the pages' query
counts are bounded and the same at 5,000 and at 20,000 requests. Timings are printed by the bench, not asserted
(the machine is shared)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
# Most queries a page may run (what the pages ran when the bench was written, December 2026).
BOUNDS = {"queue": 7, "mine": 6, "school": 7, "ticket": 12, "figures": 7, "figures_first_view": 32}


def test_quick_helpdesk_bench_runs_every_case_with_bounded_query_counts():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "helpdesk.py"), "--quick", "--db", "sqlite",
                             "--no-analyze-pass"], capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert lines and all(line["bench"] == "helpdesk" for line in lines)
    assert lines[-1]["targets"] == {"page_p95_ms": 200}
    cases = [line for line in lines if "case" in line]
    assert not [c for c in cases if "error" in c or "skipped" in c]

    generated = {line["size"]: line for line in lines if line.get("phase") == "generate"}
    assert generated["small"]["tickets"] == 5_000 and generated["quick"]["tickets"] == 20_000
    quick = generated["quick"]
    assert 70_000 <= quick["comments"] <= 90_000  # 4 a request on average, 10 requests with 200
    assert quick["events"] >= quick["tickets"] and 0 < quick["open"] < quick["tickets"]
    assert quick["big_commune_schools"] > 10  # commune 1 holds more schools than the others

    def key(c):
        return c["case"], c.get("user")

    by_size: dict = {"small": {}, "quick": {}}
    for c in cases:
        assert key(c) not in by_size[c["size"]], c
        by_size[c["size"]][key(c)] = c
    pages = set(by_size["small"]) - {("figures_refresh", None)}
    assert pages == set(by_size["quick"]) - {("export", "technician"), ("figures_refresh", None)}
    assert {case for case, _user in pages} == set(BOUNDS)
    for page in sorted(pages):
        small, big = by_size["small"][page], by_size["quick"][page]
        assert 0 < big["p50_ms"] <= big["p95_ms"] and big["n"] == small["n"] >= 6
        assert big["queries"] == small["queries"] <= BOUNDS[page[0]], (page, small, big)
    for user in ("agglomeration", "commune", "circonscription", "workshop"):
        queue = by_size["quick"][("queue", user)]
        assert queue["n"] >= 30 and set(queue["queries_by_filter"]) >= {"none", "breached"}

    for size in ("small", "quick"):
        ticket = by_size[size][("ticket", "technician")]
        # the technician of the agglomeration sees every comment of the request, internal notes included
        assert ticket["comments"] == ticket["shown"] == 200
        assert ticket["queries"] == ticket["queries_min"]
        first, stored = by_size[size][("figures_first_view", "admin")], by_size[size][("figures", "admin")]
        assert first["queries"] > stored["queries"]  # the page reads the figures computed ahead of time
        refresh = by_size[size][("figures_refresh", None)]
        # every live scope (the agglomeration, commune 1's staff, circonscription 1's advisor) x its years + all
        assert refresh["scopes"] == 3 and refresh["computed"] == refresh["scopes"] * (refresh["years"] + 1)

    export = by_size["quick"][("export", "technician")]
    assert export["format"] == "csv" and 0 < export["open"]["rows"] < export["all"]["rows"] <= 20_000
    assert export["open"]["queries"] == export["all"]["queries"] <= 4
