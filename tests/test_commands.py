"""The `preau` console script and its non-import commands: stats, demo, worker."""

import io
import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from preau.accounts.models import Role, User
from preau.core import jobs
from preau.core.models import Job
from preau.territory.models import Circonscription, Commune, Epci, School, SchoolClass

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_stats_json_counts_the_territory_and_users(cast):
    data = json.loads(run("stats", "--json"))
    assert data["territory"]["communes"] == 2
    assert data["territory"]["schools"] == 3
    assert data["territory"]["public"] == 2 and data["territory"]["private"] == 1
    assert data["territory"]["classes"] == 4
    assert data["territory"]["fibre"] == 1 and data["territory"]["connectivity_unknown"] == 1
    assert data["users"] == User.objects.count()
    assert "schools" in run("stats")


def test_demo_is_realistic_and_deterministic(settings, tmp_path):
    settings.PREAU_CONTENT_STORE = str(tmp_path / "store")  # the demo contents are published for real
    settings.PREAU_CONTENT_KEY = str(tmp_path / "publisher.key")
    out = run("demo")
    assert "Comptes de démonstration" in out
    communes, schools, classes = Commune.objects.count(), School.objects.count(), SchoolClass.objects.count()
    assert 45 <= communes <= 55
    assert 250 <= schools <= 350
    assert 1500 <= classes <= 2100
    populations = sorted(Commune.objects.values_list("population", flat=True))
    assert populations[0] >= 300 and populations[0] < 500 and populations[-1] == 170_000
    assert {u.role for u in User.objects.all()} == set(Role.values)
    fingerprint = sorted(School.objects.values_list("uai", "name", "kind", "sector"))
    with pytest.raises(CommandError):
        run("demo")  # never on top of an existing territory
    assert "déjà" in run("demo", "--if-empty")
    # Deterministic: the same seed builds the same territory again (after emptying the assistance, the fleet
    # and the contents).
    from preau.contents import models as contents
    from preau.fleet import models as fleet
    from preau.helpdesk import models as helpdesk

    for model in (helpdesk.Ticket, helpdesk.Article):
        model.objects.all().delete()

    for model in (contents.Tour, contents.Delivery, contents.NasNode, contents.Subscription, contents.Release,
                  contents.Collection):
        model.objects.all().delete()
    for model in (fleet.AssetEvent, fleet.AgentSubmission, fleet.RoomAudit, fleet.RecyclingRecord,
                  fleet.ErasureCertificate, fleet.BatchItem, fleet.RequalificationBatch, fleet.NetworkInterface,
                  fleet.Slot, fleet.Asset, fleet.DeviceModel, fleet.Site):
        model.objects.all().delete()
    SchoolClass.objects.all().delete()
    School.objects.all().delete()
    User.objects.all().delete()
    Commune.objects.all().delete()
    Epci.objects.all().delete()
    Circonscription.objects.all().delete()
    run("demo")
    assert sorted(School.objects.values_list("uai", "name", "kind", "sector")) == fingerprint


def test_worker_runs_queued_jobs(cast, monkeypatch, tmp_path):
    monkeypatch.setenv("PREAU_JOBS_INLINE", "0")
    bad = tmp_path / "vide.csv"
    bad.write_text("")
    job = jobs.enqueue("territory.import", {"kind": "fibre", "paths": [str(bad)], "names": ["vide.csv"]},
                       user=cast.admin)
    out = run("worker", "--once")
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "vide.csv" in job.error
    assert str(job) in out
    assert jobs.claim() is None  # nothing left to claim


def test_console_script_maps_hyphens_to_commands():
    result = subprocess.run([sys.executable, "-m", "preau.cli", "import-fibre", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0
    assert "ARCEP" in result.stdout or "arcep" in result.stdout.lower()


def test_analyze_refreshes_planner_statistics(cast, capsys):
    from django.core.management import call_command
    from django.db import connection

    call_command("analyze")
    assert "ANALYZE" in capsys.readouterr().out
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'territory_school'")
            assert cursor.fetchone()[0] > 0
