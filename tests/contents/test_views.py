"""Contents pages: collections, publishing (server folder → job), withdrawing, subscriptions, NAS list and
page (enrolment code, revocation, mode). Each view: allowed and denied."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from preau.contents import services
from preau.contents.models import Collection, Delivery, NasNode, Release, Subscription
from preau.core.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _store(settings, tmp_path, monkeypatch):
    settings.PREAU_CONTENT_STORE = str(tmp_path / "store")
    settings.PREAU_CONTENT_KEY = str(tmp_path / "keys" / "publisher.key")
    settings.PREAU_CONTENT_IMPORT_ROOT = str(tmp_path / "incoming")
    monkeypatch.setenv("PREAU_JOBS_INLINE", "0")  # jobs are run explicitly below


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "incoming" / "cycle2-rentree"
    (root / "lecture").mkdir(parents=True)
    (root / "lecture" / "conte.txt").write_text("Il était une fois… " * 100)
    (root / "image.bin").write_bytes(bytes(range(256)) * 50)
    return root


@pytest.fixture
def collection(cast, tree):
    c = services.do_create_collection(cast.admin, slug="cycle2", name="Ressources cycle 2")
    services.publish(cast.admin, c, tree, notes="rentrée")
    return c


def test_collections_list_and_create(cast, login, collection):
    client = login(cast.technician)
    page = client.get(reverse("contents:collections"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Ressources cycle 2" in html and "v1" in html and "Nouvelle collection" in html
    answer = client.post(reverse("contents:collections"), {"slug": "image-2026", "name": "Image client léger 2026"})
    assert answer.status_code == 302 and answer["Location"] == reverse("contents:collection", args=["image-2026"])
    assert Collection.objects.get(slug="image-2026").subscriptions.get().scope == Subscription.Scope.ALL
    again = client.post(reverse("contents:collections"), {"slug": "image-2026", "name": "Encore"})
    assert again.status_code == 400 and "existe déjà" in again.content.decode()
    assert Collection.objects.count() == 2


def test_collections_committee_reads_others_refused(cast, login, collection):
    page = login(cast.committee).get(reverse("contents:collections"))
    assert page.status_code == 200 and "Nouvelle collection" not in page.content.decode()
    assert login(cast.committee).post(reverse("contents:collections"),
                                      {"slug": "x", "name": "X"}).status_code == 403
    assert not Collection.objects.filter(slug="x").exists()
    for user in (cast.commune_a_staff, cast.director_sa1, cast.workshop):
        assert login(user).get(reverse("contents:collections")).status_code == 403
        assert login(user).get(reverse("contents:collection", args=["cycle2"])).status_code == 403


def test_collection_page(cast, login, collection):
    page = login(cast.committee).get(reverse("contents:collection", args=["cycle2"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "rentrée" in html and "Publier une version" not in html and "toutes les écoles" in html
    assert login(cast.admin).get(reverse("contents:collection", args=["absent"])).status_code == 404


def test_publish_enqueues_the_job(cast, login, collection, tree):
    (tree / "lecture" / "calcul.txt").write_text("2 + 2 = 4\n")
    client = login(cast.technician)
    answer = client.post(reverse("contents:publish", args=["cycle2"]),
                         {"src_dir": "cycle2-rentree", "notes": "ajout du calcul"})
    job = Job.objects.get(kind="contents.publish")
    assert answer.status_code == 302 and answer["Location"] == reverse("core:job", args=[job.pk])
    assert job.params["src_dir"] == str(tree.resolve()) and job.params["collection"] == collection.pk
    from preau.core import jobs

    jobs.run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.error
    assert Release.objects.get(collection=collection, version=2).notes == "ajout du calcul"
    page = client.get(reverse("core:job", args=[job.pk]))
    assert "Version 2" in page.content.decode()


def test_publish_refuses_paths_outside_the_root(cast, login, collection, tmp_path):
    outside = tmp_path / "ailleurs"
    outside.mkdir()
    client = login(cast.admin)
    for src in (str(outside), "../ailleurs", "/etc"):
        answer = client.post(reverse("contents:publish", args=["cycle2"]), {"src_dir": src})
        assert answer.status_code == 400 and "hors du dossier autorisé" in answer.content.decode()
    answer = client.post(reverse("contents:publish", args=["cycle2"]), {"src_dir": "absent"})
    assert answer.status_code == 400 and "n&#x27;existe pas" in answer.content.decode()
    assert not Job.objects.exists()


def test_publish_denied(cast, login, collection):
    assert login(cast.committee).post(reverse("contents:publish", args=["cycle2"]),
                                      {"src_dir": "cycle2-rentree"}).status_code == 403
    assert login(cast.director_sa1).post(reverse("contents:publish", args=["cycle2"]),
                                         {"src_dir": "cycle2-rentree"}).status_code == 403
    assert not Job.objects.exists()


def test_withdraw(cast, login, collection):
    url = reverse("contents:withdraw", args=["cycle2", 1])
    assert login(cast.committee).post(url, {"reason": "erreur"}).status_code == 403
    client = login(cast.admin)
    answer = client.post(url, {"reason": ""})
    assert answer.status_code == 400 and "motif" in answer.content.decode()
    assert Release.objects.get().withdrawn_at is None
    assert client.post(url, {"reason": "fichier corrompu"}).status_code == 302
    assert Release.objects.get().withdraw_reason == "fichier corrompu"
    assert client.post(url, {"reason": "encore"}).status_code == 400  # already withdrawn
    assert client.post(reverse("contents:withdraw", args=["cycle2", 9]), {"reason": "x"}).status_code == 404


def test_subscriptions_add_and_remove(cast, login, collection):
    url = reverse("contents:subscription-add", args=["cycle2"])
    assert login(cast.committee).post(url, {"scope": "commune", "commune": "42218"}).status_code == 403
    client = login(cast.technician)
    assert client.post(url, {"scope": "commune", "commune": "42218"}).status_code == 302
    assert client.post(url, {"scope": "kind", "school_kind": "maternelle"}).status_code == 302
    page = client.get(reverse("contents:collection", args=["cycle2"])).content.decode()
    assert "les écoles de type « maternelle »" in page
    assert client.post(url, {"scope": "school", "school": "0429902k"}).status_code == 302
    bad = client.post(url, {"scope": "commune", "commune": "99999"})
    assert bad.status_code == 400 and "99999" in bad.content.decode()
    dup = client.post(url, {"scope": "commune", "commune": "42218"})
    assert dup.status_code == 400 and "existe déjà" in dup.content.decode()
    assert collection.subscriptions.count() == 4
    everyone = collection.subscriptions.get(scope="all")
    remove = reverse("contents:subscription-remove", args=["cycle2", everyone.pk])
    assert login(cast.committee).post(remove).status_code == 403
    assert login(cast.technician).post(remove).status_code == 302
    assert list(services.collections_for_school(cast.sa2)) == [collection]  # through commune A
    assert set(collection.subscriptions.values_list("scope", flat=True)) == {"commune", "kind", "school"}


@pytest.fixture
def nodes(cast, collection):
    now = timezone.now()
    release = collection.releases.get()
    fresh = NasNode.objects.create(school=cast.sa1, node_id="nas-0429901j", enrolled_at=now - timedelta(days=30),
                                   last_checkin_at=now - timedelta(hours=1), held={"cycle2": 1},
                                   disk_free_bytes=5 * 10**9)
    Delivery.objects.create(node=fresh, release=release, via="online", delivered_at=now - timedelta(days=2))
    silent = NasNode.objects.create(school=cast.sb1, node_id="nas-0429902k", enrolled_at=now - timedelta(days=60),
                                    last_checkin_at=now - timedelta(days=12), held={}, last_error="disque plein")
    return fresh, silent


def test_nodes_list_scope_and_filters(cast, login, nodes):
    html = login(cast.admin).get(reverse("contents:nodes")).content.decode()
    assert "nas-0429901j" in html and "nas-0429902k" in html and "silencieux depuis 12 jours" in html
    html = login(cast.committee).get(reverse("contents:nodes"), {"status": "silent"}).content.decode()
    assert "nas-0429902k" in html and "nas-0429901j" not in html
    html = login(cast.admin).get(reverse("contents:nodes"), {"commune": "42218"}).content.decode()
    assert "nas-0429901j" in html and "nas-0429902k" not in html
    html = login(cast.commune_a_staff).get(reverse("contents:nodes")).content.decode()
    assert "nas-0429901j" in html and "nas-0429902k" not in html
    html = login(cast.director_sb1).get(reverse("contents:nodes")).content.decode()
    assert "nas-0429902k" in html and "nas-0429901j" not in html
    assert login(cast.workshop).get(reverse("contents:nodes")).status_code == 403


def test_node_page_scope(cast, login, nodes):
    page = login(cast.teacher_sa1).get(reverse("contents:node", args=["0429901J"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "nas-0429901j" in html and "Ressources cycle 2" in html and "Nouveau code" not in html
    assert login(cast.teacher_sa1).get(reverse("contents:node", args=["0429902K"])).status_code == 404
    assert login(cast.workshop).get(reverse("contents:node", args=["0429901J"])).status_code == 403
    html = login(cast.admin).get(reverse("contents:node", args=["0429903L"])).content.decode()
    assert "pas encore de NAS" in html and "Nouveau code" in html


def test_enrolment_code_shown_once(cast, login, nodes):
    url = reverse("contents:node-code", args=["0429903L"])
    assert login(cast.director_sa1).post(reverse("contents:node-code", args=["0429901J"])).status_code == 403
    assert login(cast.committee).post(url).status_code == 403
    assert not NasNode.objects.filter(school=cast.sa2).exists()
    answer = login(cast.technician).post(url)
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    html = answer.content.decode()
    code = html.split('<code id="enrolment-code">')[1].split("</code>")[0]
    assert f"preau-nas enrol --server http://testserver --code {code}" in html
    assert services.enrol(code)["node_id"] == "nas-0429903l"
    assert code not in login(cast.technician).get(reverse("contents:node", args=["0429903L"])).content.decode()


def test_revoke_and_mode(cast, login, nodes):
    fresh, _silent = nodes
    revoke = reverse("contents:node-revoke", args=["0429901J"])
    assert login(cast.commune_a_staff).post(revoke, {"reason": "vol"}).status_code == 403
    assert login(cast.admin).post(revoke, {"reason": ""}).status_code == 400
    fresh.refresh_from_db()
    assert fresh.revoked_at is None
    assert login(cast.admin).post(revoke, {"reason": "NAS volé"}).status_code == 302
    fresh.refresh_from_db()
    assert fresh.revoked_at is not None
    assert login(cast.admin).post(revoke, {"reason": "encore"}).status_code == 400
    mode = reverse("contents:node-mode", args=["0429901J"])
    assert login(cast.director_sa1).post(mode, {"mode": "offline"}).status_code == 403
    assert login(cast.technician).post(mode, {"mode": "bogus"}).status_code == 400
    assert login(cast.technician).post(mode, {"mode": "offline"}).status_code == 302
    fresh.refresh_from_db()
    assert fresh.mode == "offline"
    assert login(cast.technician).post(reverse("contents:node-mode", args=["0429903L"]),
                                       {"mode": "online"}).status_code == 400  # no NAS yet


def test_navigation_entry(cast, login):
    """"Contenus" leads to the freshness of the user's schools; workshops have no such entry."""
    for user in (cast.committee, cast.director_sa1):
        labels = dict((label, url) for url, label in login(user).get(reverse("home")).context["nav_items"])
        assert labels["Contenus"] == reverse("contents:freshness")
    labels = [label for _url, label in login(cast.workshop).get(reverse("home")).context["nav_items"]]
    assert "Contenus" not in labels
