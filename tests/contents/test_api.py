"""The contents JSON API: each endpoint allowed and denied (401 anonymous, 403 without the right, 404 out of scope),
writes through the services (audit entries, nothing written on a refusal), publishing from a server folder and from
an uploaded archive (202 + job, then the real engine), the enrolment code shown once, bounded list queries."""

import io
import zipfile

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from preau.contents import services
from preau.contents.models import Collection, Delivery, NasNode, Release, Subscription, Tour
from preau.core import jobs
from preau.core.models import AuditEntry, Job

pytestmark = pytest.mark.django_db
SA1, SA2, SB1 = "0429901J", "0429903L", "0429902K"


@pytest.fixture(autouse=True)
def _store(settings, tmp_path, monkeypatch):
    settings.PREAU_CONTENT_STORE = str(tmp_path / "store")
    settings.PREAU_CONTENT_KEY = str(tmp_path / "keys" / "publisher.key")
    settings.PREAU_CONTENT_IMPORT_ROOT = str(tmp_path / "incoming")
    settings.PREAU_CONTENT_UPLOADS = str(tmp_path / "uploads")
    monkeypatch.setenv("PREAU_JOBS_INLINE", "0")  # jobs are run explicitly below
    yield
    cache.clear()


@pytest.fixture
def as_user():
    def _as(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return _as


@pytest.fixture
def world(cast, tmp_path):
    """cycle2 v1 (published from a real tree) and v2; NAS at sa1 (enrolled, holds v1, one delivery) and sb1
    (never enrolled)."""
    src = tmp_path / "incoming" / "cycle2"
    (src / "lecture").mkdir(parents=True)
    (src / "lecture" / "conte.txt").write_text("Il était une fois… " * 100)
    collection = services.do_create_collection(cast.admin, slug="cycle2", name="Ressources cycle 2")
    v1 = services.publish(cast.admin, collection, src, notes="rentrée")
    (src / "calcul.txt").write_text("2 + 2 = 4\n")
    services.publish(cast.admin, collection, src, notes="calcul")
    node = NasNode.objects.create(school=cast.sa1, node_id="nas-0429901j", mode="online", enrolled_at="2026-09-01T08:00Z",
                                  last_checkin_at="2026-09-02T08:00Z", held={"cycle2": 1})
    Delivery.objects.create(node=node, release=v1, via=Delivery.Via.ONLINE, delivered_at="2026-09-01T09:00Z")
    NasNode.objects.create(school=cast.sb1, node_id="nas-0429902k")
    return collection


def rows(response) -> list:
    assert response.status_code == 200, response.content
    return response.json()["results"]


# ---------------------------------------------------------------- anonymous and roles without access


@pytest.mark.parametrize("url", ["/api/v1/contents/collections/", "/api/v1/contents/collections/cycle2/",
                                 "/api/v1/contents/releases/", "/api/v1/contents/subscriptions/",
                                 "/api/v1/contents/nodes/", f"/api/v1/contents/nodes/{SA1}/", "/api/v1/contents/tours/"])
def test_anonymous_401_workshop_403(cast, world, as_user, url):
    assert as_user(None).get(url).status_code == 401
    assert as_user(cast.workshop).get(url).status_code == 403


# ---------------------------------------------------------------- collections and releases


def test_collections_read(cast, world, as_user):
    for user in (cast.admin, cast.technician, cast.committee):
        (row,) = rows(as_user(user).get("/api/v1/contents/collections/"))
        assert row == {**row, "slug": "cycle2", "current_version": 2, "release_count": 2, "subscription_count": 1}
    detail = as_user(cast.committee).get("/api/v1/contents/collections/cycle2/").json()
    assert [r["version"] for r in detail["releases"]] == [2, 1] and detail["releases"][1]["notes"] == "rentrée"
    assert detail["subscriptions"][0]["scope"] == "all"
    assert as_user(cast.committee).get("/api/v1/contents/collections/absent/").status_code == 404
    for user in (cast.commune_a_staff, cast.advisor_c1, cast.director_sa1, cast.teacher_sa1):
        assert as_user(user).get("/api/v1/contents/collections/").status_code == 403
        assert as_user(user).get("/api/v1/contents/collections/cycle2/").status_code == 403


def test_collection_create(cast, world, as_user):
    body = {"slug": "image-2026", "name": "Image client léger 2026"}
    answer = as_user(cast.technician).post("/api/v1/contents/collections/", body, format="json")
    assert answer.status_code == 201 and answer.json()["subscriptions"][0]["scope"] == "all"
    assert AuditEntry.objects.filter(object_type__icontains="collection", action=AuditEntry.Action.CREATE).exists()
    again = as_user(cast.technician).post("/api/v1/contents/collections/", body, format="json")
    assert again.status_code == 400 and "existe déjà" in again.json()["detail"]
    unknown = as_user(cast.admin).post("/api/v1/contents/collections/", {**body, "slug": "x", "color": 1},
                                       format="json")
    assert unknown.status_code == 400 and "color" in unknown.json()
    for user in (cast.committee, cast.director_sa1):
        assert as_user(user).post("/api/v1/contents/collections/", {"slug": "y", "name": "Y"},
                                  format="json").status_code == 403
    assert set(Collection.objects.values_list("slug", flat=True)) == {"cycle2", "image-2026"}


def test_releases_and_withdraw(cast, world, as_user):
    assert [(r["collection"], r["version"]) for r in rows(as_user(cast.committee).get(
        "/api/v1/contents/releases/?collection=cycle2"))] == [("cycle2", 2), ("cycle2", 1)]
    v2 = Release.objects.get(version=2)
    url = f"/api/v1/contents/releases/{v2.pk}/withdraw/"
    assert as_user(cast.committee).post(url, {"reason": "erreur"}, format="json").status_code == 403
    assert as_user(cast.director_sa1).post(url, {"reason": "erreur"}, format="json").status_code == 403
    assert as_user(cast.admin).post(url, {}, format="json").status_code == 400
    answer = as_user(cast.admin).post(url, {"reason": "fichier erroné"}, format="json")
    assert answer.status_code == 200 and answer.json()["withdraw_reason"] == "fichier erroné"
    again = as_user(cast.admin).post(url, {"reason": "encore"}, format="json")
    assert again.status_code == 400 and "déjà retirée" in again.json()["detail"]
    assert rows(as_user(cast.admin).get("/api/v1/contents/collections/"))[0]["current_version"] == 1
    assert [r["version"] for r in rows(as_user(cast.admin).get("/api/v1/contents/releases/?withdrawn=true"))] == [2]
    assert as_user(cast.admin).get(f"/api/v1/contents/releases/{v2.pk}/").json()["withdrawn_at"]
    assert as_user(cast.admin).get("/api/v1/contents/releases/999999/").status_code == 404
    assert as_user(cast.teacher_sa1).get(f"/api/v1/contents/releases/{v2.pk}/").status_code == 403


# ---------------------------------------------------------------- publishing (202 + job)


def test_publish_from_server_folder(cast, world, as_user, tmp_path):
    (tmp_path / "incoming" / "cycle2" / "nouveau.txt").write_text("nouveau\n")
    answer = as_user(cast.technician).post("/api/v1/contents/collections/cycle2/publish/",
                                           {"src_dir": "cycle2", "notes": "v3"}, format="json")
    assert answer.status_code == 202, answer.content
    job = Job.objects.get(pk=answer.json()["job"])
    assert answer.json()["url"].endswith(f"/taches/{job.pk}/") and answer.json()["status"] == "queued"
    assert as_user(cast.technician).get(answer.json()["api_url"]).json()["status"] == "queued"
    assert jobs.run(job.pk).status == Job.Status.DONE
    assert Release.objects.get(version=3).notes == "v3"
    followed = as_user(cast.technician).get(f"/api/v1/contents/jobs/{job.pk}/").json()
    assert followed["status"] == "done" and followed["result"]["version"] == 3 and followed["error"] == ""
    assert as_user(cast.admin).get(f"/api/v1/contents/jobs/{job.pk}/").status_code == 200
    assert as_user(cast.committee).get(f"/api/v1/contents/jobs/{job.pk}/").status_code == 403
    assert as_user(None).get(f"/api/v1/contents/jobs/{job.pk}/").status_code == 401
    other = jobs.enqueue("contents.tour_bundle", {"tour": 0}, user=cast.technician)
    other.kind = "territory.import"
    other.save()
    assert as_user(cast.technician).get(f"/api/v1/contents/jobs/{other.pk}/").status_code == 404
    for src in ("/etc", "../ailleurs"):
        refused = as_user(cast.admin).post("/api/v1/contents/collections/cycle2/publish/", {"src_dir": src},
                                           format="json")
        assert refused.status_code == 400 and "hors du dossier autorisé" in refused.json()["src_dir"][0]
    neither = as_user(cast.admin).post("/api/v1/contents/collections/cycle2/publish/", {}, format="json")
    assert neither.status_code == 400 and "soit un dossier" in str(neither.json())
    assert Job.objects.filter(kind="contents.publish").count() == 1


def _zip(entries: dict) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    buf.seek(0)
    buf.name = "envoi.zip"
    return buf


def test_publish_from_upload(cast, world, as_user, tmp_path):
    answer = as_user(cast.admin).post("/api/v1/contents/collections/cycle2/publish/",
                                      {"archive": _zip({"a/b.txt": b"bonjour"}), "notes": "envoi"},
                                      format="multipart")
    assert answer.status_code == 202, answer.content
    job = Job.objects.get(pk=answer.json()["job"])
    assert job.params["archive"] == "envoi.zip" and (tmp_path / "uploads" / job.params["upload"]).is_dir()
    assert jobs.run(job.pk).status == Job.Status.DONE
    assert as_user(cast.admin).get(answer.json()["api_url"]).json()["result"]["changed"] is True
    release = Release.objects.get(version=3)
    assert (release.notes, release.files, release.total_bytes) == ("envoi", 1, 7)
    assert list((tmp_path / "uploads").iterdir()) == []


def test_publish_upload_refused(cast, world, as_user, tmp_path):
    bad = as_user(cast.admin).post("/api/v1/contents/collections/cycle2/publish/",
                                   {"archive": _zip({"../x.txt": b"x"})}, format="multipart")
    assert bad.status_code == 400 and "« ../x.txt » : « .. » refusé" in bad.json()["archive"][0]
    for user in (cast.committee, cast.director_sa1):
        denied = as_user(user).post("/api/v1/contents/collections/cycle2/publish/",
                                    {"archive": _zip({"a.txt": b"a"})}, format="multipart")
        assert denied.status_code == 403
    assert as_user(cast.admin).post("/api/v1/contents/collections/absent/publish/",
                                    {"archive": _zip({"a.txt": b"a"})}, format="multipart").status_code == 404
    assert not Job.objects.exists() and Release.objects.count() == 2
    assert not (tmp_path / "uploads").exists() or list((tmp_path / "uploads").iterdir()) == []


def test_publish_upload_with_session_denied_leaves_nothing(cast, world, tmp_path, monkeypatch):
    """A session client: the CSRF check reads the body before the rights are checked; the upload is removed."""
    from django.test import Client

    from preau.contents import uploads

    made = []
    real = uploads.new_folder
    monkeypatch.setattr(uploads, "new_folder", lambda: made.append(1) or real())
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.committee)
    token = "a" * 32
    client.cookies["csrftoken"] = token
    denied = client.post("/api/v1/contents/collections/cycle2/publish/",
                         {"archive": _zip({"a.txt": b"a"}), "csrfmiddlewaretoken": token})
    assert denied.status_code == 403 and made == [1]  # the body was read (into an upload folder)…
    assert not (tmp_path / "uploads").exists() or list((tmp_path / "uploads").iterdir()) == []


# ---------------------------------------------------------------- subscriptions


def test_subscriptions(cast, world, as_user):
    assert [s["label"] for s in rows(as_user(cast.committee).get("/api/v1/contents/subscriptions/"))] == [
        "toutes les écoles"]
    body = {"collection": "cycle2", "scope": "commune", "commune": "42207"}
    assert as_user(cast.committee).post("/api/v1/contents/subscriptions/", body, format="json").status_code == 403
    assert as_user(cast.director_sa1).get("/api/v1/contents/subscriptions/").status_code == 403
    created = as_user(cast.technician).post("/api/v1/contents/subscriptions/", body, format="json")
    assert created.status_code == 201 and created.json()["commune"] == "42207"
    twice = as_user(cast.technician).post("/api/v1/contents/subscriptions/", body, format="json")
    assert twice.status_code == 400 and "existe déjà" in twice.json()["detail"]
    missing = as_user(cast.admin).post("/api/v1/contents/subscriptions/", {"collection": "cycle2", "scope": "school"},
                                       format="json")
    assert missing.status_code == 400 and "school" in missing.json()
    unknown = as_user(cast.admin).post("/api/v1/contents/subscriptions/",
                                       {"collection": "cycle2", "scope": "school", "school": "0000000A"}, format="json")
    assert unknown.status_code == 400 and "École inconnue" in unknown.json()["school"][0]
    pk = created.json()["id"]
    assert as_user(cast.committee).delete(f"/api/v1/contents/subscriptions/{pk}/").status_code == 403
    assert as_user(cast.admin).delete(f"/api/v1/contents/subscriptions/{pk}/").status_code == 204
    assert as_user(cast.admin).delete(f"/api/v1/contents/subscriptions/{pk}/").status_code == 404
    assert Subscription.objects.count() == 1


# ---------------------------------------------------------------- NAS nodes


def test_nodes_scope_and_filters(cast, world, as_user):
    assert {r["node_id"] for r in rows(as_user(cast.committee).get("/api/v1/contents/nodes/"))} == {
        "nas-0429901j", "nas-0429902k"}
    for user in (cast.commune_a_staff, cast.advisor_c1, cast.director_sa1, cast.teacher_sa1):
        assert [r["node_id"] for r in rows(as_user(user).get("/api/v1/contents/nodes/"))] == ["nas-0429901j"]
    assert [r["node_id"] for r in rows(as_user(cast.director_sb1).get("/api/v1/contents/nodes/"))] == ["nas-0429902k"]
    admin = as_user(cast.admin)
    assert [r["node_id"] for r in rows(admin.get("/api/v1/contents/nodes/?status=never"))] == ["nas-0429902k"]
    assert [r["node_id"] for r in rows(admin.get("/api/v1/contents/nodes/?status=silent"))] == ["nas-0429901j"]
    assert [r["node_id"] for r in rows(admin.get("/api/v1/contents/nodes/?commune=42207"))] == ["nas-0429902k"]
    assert [r["node_id"] for r in rows(admin.get(f"/api/v1/contents/nodes/?school={SA1.lower()}"))] == ["nas-0429901j"]
    assert [r["node_id"] for r in rows(admin.get("/api/v1/contents/nodes/?mode=online"))] == ["nas-0429901j"]
    (sa1,) = rows(admin.get("/api/v1/contents/nodes/?mode=online"))
    assert sa1["held"] == [{"collection": "cycle2", "version": 1, "current": 2, "state": "late"}]
    assert sa1["active"] is True and sa1["silent_days"] >= 7 and sa1["commune"] == "42218"


def test_node_detail(cast, world, as_user):
    detail = as_user(cast.teacher_sa1).get(f"/api/v1/contents/nodes/{SA1}/")
    assert detail.status_code == 200
    body = detail.json()
    assert body["collections"] == ["cycle2"] and body["deliveries"][0] == {
        **body["deliveries"][0], "collection": "cycle2", "version": 1, "via": "online"}
    assert as_user(cast.teacher_sa1).get(f"/api/v1/contents/nodes/{SB1}/").status_code == 404  # out of scope
    assert as_user(cast.admin).get(f"/api/v1/contents/nodes/{SA2}/").status_code == 404  # no NAS


def test_node_mode_and_revoke(cast, world, as_user):
    url = f"/api/v1/contents/nodes/{SA1}"
    for user in (cast.committee, cast.director_sa1, cast.commune_a_staff):
        assert as_user(user).post(f"{url}/mode/", {"mode": "offline"}, format="json").status_code == 403
        assert as_user(user).post(f"{url}/revoke/", {"reason": "volé"}, format="json").status_code == 403
    assert as_user(cast.director_sb1).post(f"{url}/mode/", {"mode": "offline"}, format="json").status_code == 404
    assert as_user(cast.admin).post(f"{url}/mode/", {"mode": "partout"}, format="json").status_code == 400
    answer = as_user(cast.technician).post(f"{url}/mode/", {"mode": "offline"}, format="json")
    assert answer.status_code == 200 and answer.json()["mode"] == "offline"
    assert as_user(cast.admin).post(f"{url}/revoke/", {}, format="json").status_code == 400
    assert NasNode.objects.get(school=cast.sa1).revoked_at is None
    answer = as_user(cast.admin).post(f"{url}/revoke/", {"reason": "NAS volé"}, format="json")
    assert answer.status_code == 200 and answer.json()["active"] is False
    again = as_user(cast.admin).post(f"{url}/revoke/", {"reason": "encore"}, format="json")
    assert again.status_code == 400 and "déjà révoqué" in again.json()["detail"]
    never = as_user(cast.admin).post(f"/api/v1/contents/nodes/{SB1}/revoke/", {"reason": "x"}, format="json")
    assert never.status_code == 400 and "pas enrôlé" in never.json()["detail"]


def test_enrolment_code_once(cast, world, as_user):
    url = f"/api/v1/contents/nodes/{SA2}/enrolment-code/"  # sa2 has no NAS yet: created
    assert as_user(cast.committee).post(url).status_code == 403
    assert as_user(cast.director_sa1).post(url).status_code == 404  # another school: out of scope
    assert as_user(cast.director_sa1).post(f"/api/v1/contents/nodes/{SA1}/enrolment-code/").status_code == 403
    assert not NasNode.objects.filter(school=cast.sa2).exists()
    answer = as_user(cast.admin).post(url)
    assert answer.status_code == 201 and answer["Cache-Control"] == "no-store"
    body = answer.json()
    assert body["node_id"] == "nas-0429903l" and body["command"].endswith(f"--code {body['code']}")
    node = NasNode.objects.get(school=cast.sa2)
    assert node.enrolment_code_hash == services.digest(body["code"]) and body["code"] not in str(
        as_user(cast.admin).get(f"/api/v1/contents/nodes/{SA2}/").json())
    second = as_user(cast.admin).post(url).json()["code"]
    assert second != body["code"]
    with pytest.raises(services.AgentRefused):
        services.enrol(body["code"])  # the first code was cancelled by the second
    assert services.enrol(second)["node_id"] == "nas-0429903l"


def test_node_list_query_count(cast, world, as_user):
    from preau.territory.models import School

    client = as_user(cast.admin)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            rows(client.get("/api/v1/contents/nodes/"))
        return len(ctx.captured_queries)

    before = count()
    for i in range(10):
        school = School.objects.create(uai=f"04299{i:02d}X", name=f"École {i}", commune=cast.commune_b)
        NasNode.objects.create(school=school, node_id=f"nas-{i}", held={"cycle2": 2})
    assert count() == before


# ---------------------------------------------------------------- tours


def test_tours(cast, world, as_user):
    NasNode.objects.filter(school=cast.sb1).update(mode="offline")
    body = {"name": "T1", "uais": [SB1, SA1]}
    for user in (cast.committee, cast.director_sa1):
        assert as_user(user).post("/api/v1/contents/tours/", body, format="json").status_code == 403
    created = as_user(cast.technician).post("/api/v1/contents/tours/", body, format="json")
    assert created.status_code == 201, created.content
    stops = created.json()["stops"]
    assert {s["school"]["uai"] for s in stops} == {SA1, SB1} and stops[0]["order"] == 1
    assert stops[[s["school"]["uai"] for s in stops].index(SA1)]["needs"] == {"cycle2": {"held": 1, "target": 2}}
    bad = as_user(cast.admin).post("/api/v1/contents/tours/", {"name": "T2", "uais": [SA2]}, format="json")
    assert bad.status_code == 400 and "pas de NAS" in bad.json()["detail"]
    assert Tour.objects.count() == 1
    (row,) = rows(as_user(cast.committee).get("/api/v1/contents/tours/"))
    assert (row["name"], row["stop_count"], row["state"]) == ("T1", 2, "planned")
    assert as_user(cast.committee).get(f"/api/v1/contents/tours/{row['id']}/").json()["name"] == "T1"
    assert as_user(cast.admin).get("/api/v1/contents/tours/99999/").status_code == 404
    assert as_user(cast.director_sa1).get(f"/api/v1/contents/tours/{row['id']}/").status_code == 403
    assert rows(as_user(cast.admin).get("/api/v1/contents/tours/?state=done")) == []
