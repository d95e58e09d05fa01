"""Benchmark: national import into a fresh SQLite database (`make bench-import`).

Imports every current commune of communes.json (type `commune-actuelle`, 34,969) with the
EPCIs of epci.json, then the 32,091 écoles of the DEPP file fr-en-ips_ecoles.csv, twice: the
first run into an empty database, the re-run with nothing changed. Prints one JSON line per
run, then a ratio line. Targets: >= 5,000 rows/s on the first run, re-run >= 3x faster.

    .venv/bin/python bench/import_national.py [--data ../shared/data/territory] [--keep]
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "territory"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of communes.json, epci.json, "
                                                                       "fr-en-ips_ecoles.csv")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database")
    args = parser.parse_args()
    communes, epcis, schools = (args.data / n for n in ("communes.json", "epci.json", "fr-en-ips_ecoles.csv"))
    for f in (communes, epcis, schools):
        if not f.is_file():
            print(f"missing {f}", file=sys.stderr)
            return 2

    tmp = Path(tempfile.mkdtemp(prefix="preau-bench-"))
    os.environ["PREAU_DATA_DIR"] = str(tmp)
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "preau.settings"
    # Production-like: DEBUG off, so Django does not keep every SQL statement in memory.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("PREAU_SECRET_KEY", "bench-only-" + os.urandom(16).hex())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from preau.territory.importers import CLI_MAX_FILE_BYTES, import_schools, import_territory
    from preau.territory.models import Commune, School

    call_command("migrate", verbosity=0, interactive=False)
    times = {}
    try:
        for run in ("first", "rerun"):
            t0, c0 = time.perf_counter(), time.process_time()
            territory = import_territory(None, epcis, communes, max_bytes=CLI_MAX_FILE_BYTES)
            (school_report,) = import_schools([schools], max_bytes=CLI_MAX_FILE_BYTES)
            seconds = time.perf_counter() - t0
            cpu = time.process_time() - c0
            times[run] = seconds
            rows = (territory.created + territory.updated + territory.unchanged
                    + school_report.created + school_report.updated + school_report.unchanged
                    + school_report.skipped)
            print(json.dumps({
                "bench": "import_national", "run": run,
                "communes": Commune.objects.count(), "schools": School.objects.count(),
                "rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
                "cpu_seconds": round(cpu, 2),
                "created": territory.created + school_report.created,
                "updated": territory.updated + school_report.updated,
                "unchanged": territory.unchanged + school_report.unchanged,
                "skipped_schools": school_report.skipped, "notes": school_report.notes,
            }, ensure_ascii=False), flush=True)
        ratio = times["first"] / times["rerun"]
        print(json.dumps({"bench": "import_national", "rerun_speedup": round(ratio, 2),
                          "target_rows_per_s": 5000, "target_speedup": 3}), flush=True)
    finally:
        if args.keep:
            print(f"database kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
