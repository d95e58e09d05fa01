"""Web upload of open-data files: the same importer code, run as a job with progress; admin only."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from preau.core import jobs
from preau.core.models import Job
from preau.territory.models import School, SchoolClass

pytestmark = pytest.mark.django_db


def upload(client, name: str, content: bytes, kind="schools", **extra):
    return client.post(reverse("territory:imports"),
                       {"kind": kind, "files": SimpleUploadedFile(name, content, "text/csv"), **extra})


def test_import_upload_denied_to_non_admins(login, cast):
    for who in ["technician", "committee", "commune_a_staff", "advisor_c1", "director_sa1", "workshop"]:
        client = login(getattr(cast, who))
        assert client.get(reverse("territory:imports")).status_code == 403
        assert upload(client, "x.csv", b"uai;nom\n").status_code == 403
    assert Job.objects.count() == 0


def test_import_upload_runs_a_job_with_the_effectifs_file(login, cast, shared_data, monkeypatch, settings, tmp_path):
    monkeypatch.setenv("PREAU_JOBS_INLINE", "0")
    settings.DATA_DIR = tmp_path
    client = login(cast.admin)
    assert client.get(reverse("territory:imports")).status_code == 200
    content = (shared_data / "formats" / "fr-en-ecoles-effectifs-nb_classes.sample.csv").read_bytes()
    response = upload(client, "effectifs.csv", content)
    assert response.status_code == 302
    job = Job.objects.get()
    assert response["Location"] == reverse("core:job", args=[job.pk])
    assert job.status == "queued"
    jobs.run(job.pk)
    job.refresh_from_db()
    assert job.status == "done", job.error
    assert SchoolClass.objects.filter(school__uai="0429901J", year=2025).count() == 9
    html = client.get(reverse("core:job", args=[job.pk])).content.decode()
    assert "effectifs.csv" in html and 'value="100"' in html
    assert not any(tmp_path.glob("uploads/*/*")), "uploaded files are removed after the job"
    # Another user cannot see the job.
    assert login(cast.director_sa1).get(reverse("core:job", args=[job.pk])).status_code == 403


def test_bad_upload_fails_with_file_line_and_nothing_written(login, cast, monkeypatch, settings, tmp_path):
    monkeypatch.setenv("PREAU_JOBS_INLINE", "0")
    settings.DATA_DIR = tmp_path
    before = School.objects.count()
    content = (b"uai,nom,niveau_deduit_du_nom,secteur,code_postal,commune,code_insee,rattachement_insee,lat,lon,ips,"
               b"ips_2021_2022\n0420111X,Ecole,elementaire,Public,42130,Arthun,42009,nom,45.7,4.0,,103.1\n")
    client = login(cast.admin)
    upload(client, "mes-ecoles.csv", content, include_all="on")
    job = jobs.run(Job.objects.get().pk)
    assert job.status == "failed"
    assert "mes-ecoles.csv" in job.error and "ligne 2" in job.error
    assert School.objects.count() == before
    html = client.get(reverse("core:job", args=[job.pk])).content.decode()
    assert "rien n&#x27;a été enregistré" in html or "rien n'a été enregistré" in html


def test_upload_size_limit(login, cast, settings):
    settings.PREAU_UPLOAD_MAX_BYTES = 1024
    response = upload(login(cast.admin), "big.csv", b"x" * 4096)
    assert response.status_code == 400
    assert "big.csv" in response.content.decode() and "limite" in response.content.decode()
    assert Job.objects.count() == 0


def test_job_cancel(login, cast, monkeypatch):
    monkeypatch.setenv("PREAU_JOBS_INLINE", "0")
    job = jobs.enqueue("territory.import", {"kind": "fibre", "paths": [], "names": []}, user=cast.admin)
    client = login(cast.admin)
    assert client.post(reverse("core:job-cancel", args=[job.pk])).status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert jobs.run(job.pk) is None
    assert login(cast.workshop).post(reverse("core:job-cancel", args=[job.pk])).status_code == 403


def test_job_progress_fragment_for_htmx(login, cast, monkeypatch):
    monkeypatch.setenv("PREAU_JOBS_INLINE", "0")
    job = jobs.enqueue("territory.import", {"kind": "fibre", "paths": [], "names": []}, user=cast.admin)
    html = login(cast.admin).get(reverse("core:job", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert html.startswith("<section") and 'hx-trigger="every 1s"' in html
