"""Operator tours with the real engine in temporary folders: plan, one bundle for schools at different versions
(job, cancel-safe), apply on two NAS, ingest the signed receipts (deliveries once, held versions, refusals),
and the pages (managers act, committees read, others refused)."""

import io
import json
import os
import tarfile
import time
from pathlib import Path

import preau_nas
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from preau_nas.keys import Keypair, open_envelope, seal

from preau.contents import jobs as contents_jobs
from preau.contents import services, tours
from preau.contents.models import Delivery, NasNode, Tour
from preau.core import jobs
from preau.core.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _store(settings, tmp_path, monkeypatch):
    settings.PREAU_CONTENT_STORE = str(tmp_path / "store")
    settings.PREAU_CONTENT_KEY = str(tmp_path / "keys" / "publisher.key")
    settings.PREAU_TOUR_BUNDLES = str(tmp_path / "bundles")
    monkeypatch.setenv("PREAU_JOBS_INLINE", "0")


def _files(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class World:
    pass


@pytest.fixture
def world(cast, tmp_path):
    """cycle2 v1 and v2 published; sb1's NAS holds v1 (really: a bundle applied), sa2's NAS is empty; sa1's NAS
    (fibre, online) exists but is not on the tour. Every NAS has its own key, known to the platform."""
    w = World()
    w.src = tmp_path / "src"
    (w.src / "lecture").mkdir(parents=True)
    (w.src / "lecture" / "conte.txt").write_text("Il était une fois… " * 500)
    (w.src / "image.bin").write_bytes(bytes(range(256)) * 3000)
    w.collection = services.do_create_collection(cast.admin, slug="cycle2", name="Ressources cycle 2")
    w.v1 = services.publish(cast.admin, w.collection, w.src)
    trusted = [services.publisher_public_key()]
    w.roots, w.nodes = {}, {}
    for key, school, mode in (("sb1", cast.sb1, "offline"), ("sa2", cast.sa2, "offline"), ("sa1", cast.sa1, "online")):
        root = tmp_path / "nas" / key
        node_id = services.node_id_for(school)
        preau_nas.init_node(root, node_id, trusted, collections=["cycle2"])
        w.roots[key] = root
        w.nodes[key] = NasNode.objects.create(school=school, node_id=node_id, mode=mode,
                                              public_key=preau_nas.Node(root).keypair().public)
    first = tmp_path / "v1-bundle"
    preau_nas.bundle.build(services.store_path(), first, services.publisher_key_path())
    preau_nas.bundle.apply(w.roots["sb1"], first)
    NasNode.objects.filter(pk=w.nodes["sb1"].pk).update(held={"cycle2": 1})
    w.v1_tree = _files(w.src)
    (w.src / "lecture" / "calcul.txt").write_text("2 + 2 = 4\n" * 100)
    (w.src / "image.bin").write_bytes(bytes(range(256)) * 3000 + b"fin")
    w.v2 = services.publish(cast.admin, w.collection, w.src)
    assert w.v2.version == 2
    return w


def _build(tour: Tour) -> Tour:
    seen = []
    result = contents_jobs.run_tour_bundle({"tour": tour.pk}, lambda d, t, m: seen.append((d, t)), None)
    assert seen and seen[-1][0] == seen[-1][1] > 0 and result["collections"] == {"cycle2": 2}
    tour.refresh_from_db()
    return tour


def test_plan_proposes_late_offline_schools_in_order(cast, world):
    cast.sa2.lat, cast.sa2.lon = 45.44, 4.39
    cast.sa2.save()
    assert tours.propose(cast.commune_a) == [cast.sa2]  # sa1 is online (and has fibre)
    NasNode.objects.filter(pk=world.nodes["sa1"].pk).update(mode="auto")
    assert tours.propose(cast.commune_a) == [cast.sa2]  # auto with fibre: still online
    tour = tours.do_plan_tour(cast.technician, name="T1", uais="0429902K\n0429903L")
    stops = list(tour.stops.order_by("order"))
    assert [s.school for s in stops] == [cast.sb1, cast.sa2]
    assert stops[0].needs == {"cycle2": {"held": 1, "target": 2}}
    assert stops[1].needs == {"cycle2": {"held": None, "target": 2}}
    with pytest.raises(services.ContentsError, match="inconnu"):
        tours.do_plan_tour(cast.technician, name="T2", uais="0429999Z")
    with pytest.raises(services.ContentsError, match="existe déjà"):
        tours.do_plan_tour(cast.technician, name="T1", uais="0429902K")
    assert Tour.objects.count() == 1


def test_nearest_neighbour_order():
    class P:
        def __init__(self, name, lat, lon):
            self.name, self.lat, self.lon = name, lat, lon

    a, far, near, nowhere = P("a", 45.0, 4.0), P("far", 45.5, 4.0), P("near", 45.01, 4.0), P("x", None, None)
    assert [p.name for p in tours.order_stops([a, far, nowhere, near])] == ["a", "near", "far", "x"]


def test_tour_bundle_apply_and_receipts(cast, world, tmp_path):
    tour = tours.do_plan_tour(cast.technician, name="Tournée A", uais="0429902K 0429903L")
    assert tours.from_versions(tour)[1] == {"cycle2": [world.v1.manifest, None]}
    tour = _build(tour)
    assert tour.state == Tour.State.BUNDLE_READY and tour.bundle_id
    bundle = Path(tour.bundle_path)
    assert (bundle / "preau-bundle.json").exists()
    assert [p.name for p in Path(tours.bundles_root()).iterdir()] == [bundle.name]  # no temporary folder left
    for key in ("sb1", "sa2"):
        preau_nas.bundle.apply(world.roots[key], bundle)
        tree = Path(preau_nas.Node(world.roots[key]).current_tree("cycle2"))
        assert _files(tree) == _files(world.src)  # byte-identical to the published v2
    # a NAS not on the tour applies the disk too; and a forged receipt claims to be sb1
    preau_nas.bundle.apply(world.roots["sa1"], bundle)
    honest = next((bundle / "receipts").glob("nas-0429902k-*.json"))
    payload, _rid, _signer = open_envelope(honest.read_bytes(), None, "r")
    payload["time"] = "2099-01-01T00:00:00Z"
    forged, _ = seal(payload, Keypair.generate())
    (bundle / "receipts" / "zz-forged.json").write_bytes(forged)

    report = tours.ingest_dir(cast.technician, tour, bundle)
    assert sorted(a["node"] for a in report["accepted"]) == ["nas-0429902k", "nas-0429903l"]
    refused = {r["file"]: r["error"] for r in report["rejected"]}
    assert "falsifié" in refused["zz-forged.json"]
    assert any(f.startswith("nas-0429901j") and "hors tournée" in e for f, e in refused.items())
    assert report["new_deliveries"] == 2
    for key in ("sb1", "sa2"):
        node = NasNode.objects.get(pk=world.nodes[key].pk)
        assert node.held == {"cycle2": 2}
        assert Delivery.objects.get(node=node, release=world.v2).tour == "Tournée A"
    assert not Delivery.objects.filter(node=world.nodes["sa1"]).exists()
    tour.refresh_from_db()
    assert tour.state == Tour.State.DONE

    again = tours.ingest_dir(cast.technician, tour, bundle)  # nothing counted twice
    assert again["new_deliveries"] == 0 and Delivery.objects.filter(via="tour").count() == 2

    # the command: finds the tour by the disk's bundle id
    out = io.StringIO()
    call_command("receipts_ingest", str(bundle), stdout=out, stderr=io.StringIO())
    assert "Tournée A : 2 accusés acceptés, 2 refusés, 0 livraison nouvelle." in out.getvalue()


def test_receipt_for_another_bundle_refused(cast, world, tmp_path):
    tour = _build(tours.do_plan_tour(cast.technician, name="T", uais="0429903L"))
    other = tmp_path / "other"
    preau_nas.bundle.build(services.store_path(), other, services.publisher_key_path(),
                           from_versions={"cycle2": [None, world.v1.manifest]})  # another disk, same content
    preau_nas.bundle.apply(world.roots["sa2"], other)
    receipt = next((other / "receipts").glob("*.json"))
    with pytest.raises(services.ContentsError, match="aucune tournée"):
        tours.tour_for_bundle(other)
    copy = Path(tour.bundle_path) / "receipts" / receipt.name
    copy.write_bytes(receipt.read_bytes())
    report = tours.ingest_dir(cast.technician, tour, tour.bundle_path)
    assert report["accepted"] == [] and "autre disque" in report["rejected"][0]["error"]
    assert not Delivery.objects.exists()
    assert NasNode.objects.get(pk=world.nodes["sa2"].pk).held == {}


def test_cancelled_build_leaves_no_bundle(cast, world):
    tour = tours.do_plan_tour(cast.technician, name="T", uais="0429903L")

    def cancel(done, total, message):
        if done:
            raise jobs.Cancelled()

    with pytest.raises(jobs.Cancelled):
        contents_jobs.run_tour_bundle({"tour": tour.pk}, cancel, None)
    tour.refresh_from_db()
    assert tour.state == Tour.State.PLANNED and not tour.bundle_path and not tour.bundle_id
    assert list(Path(tours.bundles_root()).iterdir()) == []


def test_pages_managers_act_committee_reads(cast, login, world, tmp_path):
    client = login(cast.technician)
    answer = client.post(reverse("contents:tours"), {"name": "Tournée B", "planned_on": "2026-12-10",
                                                     "commune": cast.commune_a.insee})
    tour = Tour.objects.get(name="Tournée B")
    assert answer.status_code == 302 and answer["Location"] == reverse("contents:tour", args=[tour.pk])
    assert [s.school for s in tour.stops.all()] == [cast.sa2]
    bad = client.post(reverse("contents:tours"), {"name": "X", "uais": "0429999Z"})
    assert bad.status_code == 400 and "UAI inconnu" in bad.content.decode()

    answer = client.post(reverse("contents:tour-build", args=[tour.pk]))
    job = Job.objects.get(kind="contents.tour_bundle")
    assert answer["Location"] == reverse("core:job", args=[job.pk])
    assert jobs.run(job.pk).status == Job.Status.DONE
    tour.refresh_from_db()
    assert tour.job == job and tour.state == Tour.State.BUNDLE_READY
    job_page = client.get(reverse("core:job", args=[job.pk])).content.decode()
    assert reverse("contents:tour", args=[tour.pk]) in job_page and tour.bundle_id in job_page

    download = client.get(reverse("contents:tour-download", args=[tour.pk]))
    assert download.status_code == 200
    archive = tarfile.open(fileobj=io.BytesIO(b"".join(download.streaming_content)))
    names = archive.getnames()
    assert "preau-Tournée B/preau-bundle.json" in names and "preau-Tournée B/index.bin" in names
    assert archive.getmember("preau-Tournée B/receipts").isdir()
    signed = archive.extractfile("preau-Tournée B/preau-bundle.json").read()
    assert signed == (Path(tour.bundle_path) / "preau-bundle.json").read_bytes()

    sheet = client.get(reverse("contents:tour-sheet", args=[tour.pk])).content.decode()
    assert "École Sainte-Marie" in sheet and tour.bundle_id in sheet and "cycle2" in sheet

    archive.extractall(tmp_path / "usb", filter="data")  # the downloaded disk, as the technician carries it
    usb = tmp_path / "usb" / "preau-Tournée B"
    preau_nas.bundle.apply(world.roots["sa2"], usb)
    assert _files(Path(preau_nas.Node(world.roots["sa2"]).current_tree("cycle2"))) == _files(world.src)
    receipt = next((usb / "receipts").glob("*.json"))
    upload = [SimpleUploadedFile(receipt.name, receipt.read_bytes(), "application/json")]
    answer = client.post(reverse("contents:tour-receipts", args=[tour.pk]), {"receipts": upload})
    assert answer.status_code == 302
    assert Delivery.objects.get(node=world.nodes["sa2"], release=world.v2).via == "tour"
    tour.refresh_from_db()
    assert tour.state == Tour.State.DONE
    page = client.get(reverse("contents:tour", args=[tour.pk])).content.decode()
    assert f"accusé {receipt.name} accepté" in page and "Aucune livraison relevée" not in page
    rebuild = client.post(reverse("contents:tour-build", args=[tour.pk]))  # NAS applied it: no new disk
    assert rebuild.status_code == 400 and "déjà appliqué" in rebuild.content.decode()
    refused = client.post(reverse("contents:tour-receipts", args=[tour.pk]),
                          {"receipts": [SimpleUploadedFile("notes.txt", b"x")]})
    assert refused.status_code == 400 and "notes.txt" in refused.content.decode()

    reader = login(cast.committee)
    for name in ("contents:tour", "contents:tour-sheet"):
        assert reader.get(reverse(name, args=[tour.pk])).status_code == 200
    page = reader.get(reverse("contents:tours"))
    assert page.status_code == 200 and "Prévoir une tournée" not in page.content.decode()
    assert reader.post(reverse("contents:tours"), {"name": "C", "uais": "0429903L"}).status_code == 403
    assert reader.post(reverse("contents:tour-build", args=[tour.pk])).status_code == 403
    assert reader.get(reverse("contents:tour-download", args=[tour.pk])).status_code == 403
    assert reader.post(reverse("contents:tour-receipts", args=[tour.pk]),
                       {"receipts": upload}).status_code == 403
    assert Job.objects.count() == 1 and not Tour.objects.filter(name="C").exists()
    assert reader.get(reverse("contents:tour", args=[tour.pk + 99])).status_code == 404

    director = login(cast.director_sa1)
    assert director.get(reverse("contents:tours")).status_code == 403
    assert director.get(reverse("contents:tour", args=[tour.pk])).status_code == 403
    assert json.loads(json.dumps(tour.last_ingest or {})) == (tour.last_ingest or {})


def test_withdrawn_release_is_not_carried(cast, world):
    services.do_withdraw_release(cast.admin, world.v2, "erreur")
    tour = tours.do_plan_tour(cast.technician, name="T", uais="0429902K 0429903L")
    assert [s.needs for s in tour.stops.order_by("order")] == [{}, {"cycle2": {"held": None, "target": 1}}]
    result = contents_jobs.run_tour_bundle({"tour": tour.pk}, lambda d, t, m: None, None)
    assert result["collections"] == {"cycle2": 1}
    tour.refresh_from_db()
    preau_nas.bundle.apply(world.roots["sa2"], tour.bundle_path)
    assert _files(Path(preau_nas.Node(world.roots["sa2"]).current_tree("cycle2"))) == world.v1_tree


def test_command_refuses_a_folder_that_is_not_a_tour_disk(cast, world, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="pas un disque de tournée"):
        call_command("receipts_ingest", str(tmp_path / "nothing"))
    with pytest.raises(CommandError, match="Tournée inconnue"):
        call_command("receipts_ingest", str(tmp_path), "--tour", "absente")


def test_a_disk_shared_by_two_tours_needs_the_tour_named(cast, world):
    """Two tours with the same schools and versions, built in the same second, get the same signed disk id:
    the disk alone does not say which tour it was, so the command asks for --tour instead of guessing."""
    first = _build(tours.do_plan_tour(cast.technician, name="Tournée A", uais="0429903L"))
    second = tours.do_plan_tour(cast.technician, name="Tournée B", uais="0429903L")
    Tour.objects.filter(pk=second.pk).update(bundle_id=first.bundle_id, bundle_path=first.bundle_path,
                                             state=Tour.State.BUNDLE_READY)
    with pytest.raises(services.ContentsError, match="plusieurs tournées.*Tournée A, Tournée B.*--tour"):
        tours.tour_for_bundle(first.bundle_path)
    assert tours.ingest_dir(cast.technician, first, first.bundle_path)["accepted"] == []


def test_a_build_killed_outright_leaves_a_folder_the_next_build_removes(cast, world):
    root = tours.bundles_root()
    root.mkdir(parents=True, exist_ok=True)
    stale, live = root / ".building-killed", root / ".building-live"
    for folder in (stale, live):
        (folder / "bundle").mkdir(parents=True)
    old = time.time() - tours.STALE_BUILD_SECONDS - 60
    os.utime(stale, (old, old))
    _build(tours.do_plan_tour(cast.technician, name="Après coupure", uais="0429903L"))
    assert not stale.exists() and live.exists()  # a recent one may be another build in progress
