"""Faults and bad input around the school NAS (issue 5): clear messages, nothing lost, nothing counted twice.

Already covered elsewhere, not repeated here:
- wrong credential, revoked node, replayed check-in at the HTTP level (401/403/409, nothing changed, one
  delivery): tests/contents/test_agent_http.py (test_check_in_refusals, test_check_in_answers_offers_and_refuses_replay,
  test_store_refuses_a_revoked_node); the agent's side against a fake server: nas/tests/test_enrol_checkin.py;
- a receipt from a school that was not on the tour (same deployment, same disk), a forged receipt, a receipt for
  another disk of this deployment: tests/contents/test_tours.py.

Here: receipts and disks from ANOTHER deployment (other publishing key, same UAIs), precise refusals, nothing
recorded; a tour disk cancelled halfway then rebuilt; a delivery by tour then by check-in counted once; and,
with real processes (the real server, the `preau-nas` CLI): a revoked NAS, the server killed in the middle of a
pull and restarted (the agent resumes without fetching again what it has, and serves the previous version
until the new one is installed), the app down (the `run` loop backs off, growing then capped, and the NAS
keeps serving).
"""

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import preau_nas
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from preau.contents import jobs as contents_jobs
from preau.contents import services, tours
from preau.contents.models import Delivery, NasNode, Tour
from preau.core import jobs
from preau.core.models import Job
from tests.servers import free_port, running_server

CHECKIN = "/contenus/agent/checkin/"


def _files(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(Path(root).rglob("*")) if p.is_file()}


def _mixed(n: int, seed: int) -> bytes:
    """n bytes, half incompressible, half text-like: real chunks of both kinds."""
    import random

    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(500)]
    text = b" ".join(rng.choice(words) for _ in range(n // 12))[: n // 2]
    return rng.randbytes(n - len(text)) + text


# --------------------------------------------------------------------------- Django side: tours and receipts


@pytest.fixture
def deployment(cast, tmp_path, settings, monkeypatch):
    """Our deployment: cycle2 v1 published, the NAS of sb1 and sa2 (offline, their keys known), a tour of both
    with its disk built, applied on both NAS."""
    settings.PREAU_CONTENT_STORE = str(tmp_path / "store")
    settings.PREAU_CONTENT_KEY = str(tmp_path / "keys" / "publisher.key")
    settings.PREAU_TOUR_BUNDLES = str(tmp_path / "bundles")
    monkeypatch.setenv("PREAU_JOBS_INLINE", "0")
    d = type("Deployment", (), {})()
    d.src = tmp_path / "src"
    (d.src / "lecture").mkdir(parents=True)
    (d.src / "lecture" / "conte.txt").write_text("Il était une fois… " * 800)
    (d.src / "image.bin").write_bytes(_mixed(400_000, 1))
    d.collection = services.do_create_collection(cast.admin, slug="cycle2", name="Ressources cycle 2")
    d.v1 = services.publish(cast.admin, d.collection, d.src)
    d.roots, d.nodes = {}, {}
    for key, school in (("sb1", cast.sb1), ("sa2", cast.sa2)):
        root = tmp_path / "nas" / key
        node_id = services.node_id_for(school)
        preau_nas.init_node(root, node_id, [services.publisher_public_key()], collections=["cycle2"])
        d.roots[key] = root
        d.nodes[key] = NasNode.objects.create(school=school, node_id=node_id, mode="offline",
                                              public_key=preau_nas.Node(root).keypair().public)
    d.tour = tours.do_plan_tour(cast.technician, name="Tournée du mardi", uais="0429902K 0429903L")
    contents_jobs.run_tour_bundle({"tour": d.tour.pk}, lambda *a: None, None)
    d.tour.refresh_from_db()
    return d


@pytest.fixture
def elsewhere(tmp_path, deployment):
    """Another deployment of Préau: its own publishing key and store, the same content, NAS with the same node ids
    (they come from the UAI) but their own keys; its disk applied on its NAS, receipts written on it."""
    e = type("Elsewhere", (), {})()
    store, key = tmp_path / "other" / "store", tmp_path / "other" / "publisher.key"
    e.public = preau_nas.keygen(key)
    src = tmp_path / "other" / "src"
    shutil.copytree(deployment.src, src)
    (src / "lecture" / "note.txt").write_text("Contenu propre à l'autre déploiement.\n")
    preau_nas.publish(store, "cycle2", src, key)
    e.disk = tmp_path / "other" / "disk"
    preau_nas.bundle.build(store, e.disk, key)
    for school in ("0429902k", "0429903l"):
        root = tmp_path / "other" / "nas" / school
        preau_nas.init_node(root, f"nas-{school}", [e.public], collections=["cycle2"])
        assert preau_nas.bundle.apply(root, e.disk)["ok"]
    e.receipts = sorted((e.disk / "receipts").glob("*.json"))
    assert len(e.receipts) == 2
    return e


def _nothing_recorded(d):
    assert not Delivery.objects.exists()
    assert {n.node_id: n.held for n in NasNode.objects.all()} == {n.node_id: {} for n in d.nodes.values()}
    tour = Tour.objects.get(pk=d.tour.pk)
    assert tour.state == Tour.State.BUNDLE_READY
    return tour


@pytest.mark.django_db
def test_a_disk_from_another_deployment_is_refused_whole(deployment, elsewhere):
    with pytest.raises(CommandError, match="autre clé de publication : il vient d'un autre déploiement"):
        call_command("receipts_ingest", str(elsewhere.disk), stdout=io.StringIO())
    # even when the operator names our tour: the folder is not our disk, nothing is read
    with pytest.raises(CommandError, match="autre déploiement de Préau. Aucun accusé relevé"):
        call_command("receipts_ingest", str(elsewhere.disk), "--tour", deployment.tour.name, stdout=io.StringIO())
    with pytest.raises(services.ContentsError, match="autre déploiement"):
        tours.tour_for_bundle(elsewhere.disk)
    tour = _nothing_recorded(deployment)
    assert tour.last_ingest in (None, {})


@pytest.mark.django_db
def test_receipts_from_another_deployment_are_refused_and_reported(cast, deployment, elsewhere):
    """Its receipts uploaded to our tour's page (checked against our tour's own disk): each refused with the
    reason, listed in the tour's report, nothing recorded."""
    uploads = [SimpleUploadedFile(p.name, p.read_bytes(), "application/json") for p in elsewhere.receipts]
    report = tours.ingest_uploads(cast.technician, deployment.tour, uploads)
    assert report["accepted"] == [] and report["new_deliveries"] == 0
    assert sorted(r["file"] for r in report["rejected"]) == [p.name for p in elsewhere.receipts]
    for r in report["rejected"]:
        assert "autre déploiement" in r["error"] and "nas-04299" in r["error"], r
    tour = _nothing_recorded(deployment)
    assert tour.last_ingest["rejected"] == report["rejected"]  # reported on the tour's page


@pytest.mark.django_db
def test_another_tours_disk_and_a_school_off_the_tour(cast, deployment, tmp_path):
    """Our own disk of another tour given with --tour: refused whole, naming the tour. A receipt of sa1 (not on
    the tour) on the right disk: refused, naming the school; the others accepted."""
    other = tours.do_plan_tour(cast.technician, name="Tournée du jeudi", uais="0429903L")
    time.sleep(1.1)  # same content and starting versions in the same second give the same disk id (see the report)
    contents_jobs.run_tour_bundle({"tour": other.pk}, lambda *a: None, None)
    other.refresh_from_db()
    assert other.bundle_id != deployment.tour.bundle_id
    with pytest.raises(services.ContentsError, match="disque de la tournée « Tournée du jeudi », pas celui de"):
        tours.ingest_dir(cast.technician, deployment.tour, other.bundle_path)
    _nothing_recorded(deployment)

    sa1 = tmp_path / "nas" / "sa1"
    preau_nas.init_node(sa1, services.node_id_for(cast.sa1), [services.publisher_public_key()], collections=["cycle2"])
    NasNode.objects.create(school=cast.sa1, node_id=services.node_id_for(cast.sa1), mode="online",
                           public_key=preau_nas.Node(sa1).keypair().public)
    disk = Path(deployment.tour.bundle_path)
    for root in (deployment.roots["sb1"], sa1):
        assert preau_nas.bundle.apply(root, disk)["ok"]
    report = tours.ingest_dir(cast.technician, deployment.tour, disk)
    assert [a["node"] for a in report["accepted"]] == ["nas-0429902k"]
    (refused,) = report["rejected"]
    assert refused["file"].startswith("nas-0429901j") and "école hors tournée" in refused["error"]
    assert cast.sa1.name in refused["error"]
    assert not Delivery.objects.filter(node__school=cast.sa1).exists()
    assert NasNode.objects.get(school=cast.sa1).held == {}
    assert Tour.objects.get(pk=deployment.tour.pk).state == Tour.State.ON_TOUR  # sa2 has not reported yet


@pytest.mark.django_db
def test_a_delivery_by_tour_then_by_check_in_counts_once(cast, deployment, client):
    disk = Path(deployment.tour.bundle_path)
    assert preau_nas.bundle.apply(deployment.roots["sa2"], disk)["ok"]
    assert tours.ingest_dir(cast.technician, deployment.tour, disk)["new_deliveries"] == 1
    node, code = services.do_new_enrolment_code(cast.admin, cast.sa2)
    answer = client.post("/contenus/agent/enrol/", {"code": code}, content_type="application/json").json()
    auth = f"Bearer {answer['node_id']}:{answer['credential']}"
    for seq in (1, 2):  # the NAS then reports the same version online, twice
        r = client.post(CHECKIN, {"seq": seq, "held": {"cycle2": 1}}, content_type="application/json",
                        HTTP_AUTHORIZATION=auth)
        assert r.status_code == 200
    assert Delivery.objects.filter(node=node).count() == 1
    assert Delivery.objects.get(node=node).via == Delivery.Via.TOUR
    assert tours.ingest_dir(cast.technician, deployment.tour, disk)["new_deliveries"] == 0


@pytest.mark.django_db
def test_a_tour_disk_cancelled_halfway_then_rebuilt(cast, deployment):
    """v2 published; rebuilding the tour's disk is cancelled in the middle of writing its packs: the tour keeps
    its previous complete disk (still applicable), no half disk is left; the next build (a real job) works."""
    (deployment.src / "video.bin").write_bytes(_mixed(6_000_000, 2))
    v2 = services.publish(cast.admin, deployment.collection, deployment.src)
    Tour.objects.filter(pk=deployment.tour.pk).update(state=Tour.State.PLANNED)
    tours.TourStop.objects.filter(tour=deployment.tour).update(needs={"cycle2": {"held": None, "target": 2}})
    before = Tour.objects.get(pk=deployment.tour.pk)
    old_disk = Path(before.bundle_path)
    old_files = _files(old_disk)
    root = tours.bundles_root()
    seen = {}

    def cancel_halfway(done, total, message):
        if 0 < done < total and not seen:
            building = [p for p in root.iterdir() if p.name.startswith(".building-")]
            seen["packs"] = [f.name for b in building for f in b.rglob("pack-*")]
            seen["at"] = (done, total)
            raise jobs.Cancelled()

    with pytest.raises(jobs.Cancelled):
        contents_jobs.run_tour_bundle({"tour": before.pk}, cancel_halfway, None)
    assert seen["packs"], "cancelled before any pack was opened: not halfway"
    assert 0 < seen["at"][0] < seen["at"][1]  # chunks packed so far / all: the build was cut in its middle
    after = Tour.objects.get(pk=before.pk)
    assert (after.bundle_id, after.bundle_path, after.state) == (before.bundle_id, before.bundle_path,
                                                                  Tour.State.PLANNED)
    assert sorted(p.name for p in root.iterdir()) == [old_disk.name]  # no .building-* folder, no half disk
    assert _files(old_disk) == old_files

    job = jobs.enqueue("contents.tour_bundle", {"tour": before.pk}, user=cast.technician, start=False)
    assert jobs.run(job.pk).status == Job.Status.DONE
    rebuilt = Tour.objects.get(pk=before.pk)
    assert rebuilt.state == Tour.State.BUNDLE_READY and rebuilt.bundle_id != before.bundle_id
    assert sorted(p.name for p in root.iterdir()) == [Path(rebuilt.bundle_path).name]
    assert preau_nas.bundle.apply(deployment.roots["sa2"], rebuilt.bundle_path)["ok"]
    tree = Path(preau_nas.Node(deployment.roots["sa2"]).current_tree("cycle2"))
    assert _files(tree) == _files(deployment.src) and v2.version == 2


# --------------------------------------------------------------------------- real processes

SETUP = """
from pathlib import Path
from preau.contents import services
from preau.territory.models import Commune, Connectivity, Epci, School
epci = Epci.objects.create(siren="244200770", name="Saint-Étienne Métropole", kind="ME")
commune = Commune.objects.create(insee="42218", name="Saint-Étienne", population=173000, epci=epci, department="42")
school = School.objects.create(uai="0429901J", name="École des Tilleuls", kind="primaire", commune=commune)
Connectivity.objects.create(school=school, access="fibre")  # a fibre school: its NAS pulls online
collection = services.do_create_collection(None, slug="cycle2", name="Ressources cycle 2")
services.publish(None, collection, {src!r})
node, code = services.do_new_enrolment_code(None, school)
Path({out!r}).write_text(code)
"""

PUBLISH = """
from preau.contents import services
from preau.contents.models import Collection
print(services.publish(None, Collection.objects.get(slug="cycle2"), {src!r}).version)
"""

REVOKE = """
from preau.contents import services
from preau.contents.models import NasNode
services.do_revoke(None, NasNode.objects.get(), "NAS volé")
"""

NEW_CODE = """
from preau.contents import services
from preau.territory.models import School
print(services.do_new_enrolment_code(None, School.objects.get())[1])
"""

NODE_STATE = """
import json
from preau.contents.models import Delivery, NasNode
node = NasNode.objects.get()
print(json.dumps({"held": node.held, "active": node.is_active, "last_error": node.last_error,
                  "deliveries": sorted(d.release.version for d in Delivery.objects.filter(node=node))}))
"""


def agent(*args, env=None, **kw):
    """The real NAS agent CLI (`preau-nas`, the console script of nas/)."""
    cli = Path(sys.executable).with_name("preau-nas")
    cmd = [str(cli)] if cli.exists() else [sys.executable, "-m", "preau_nas"]
    return subprocess.run([*cmd, "--progress", "never", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})}, **kw)


def agent_process(*args, env=None):
    cli = Path(sys.executable).with_name("preau-nas")
    cmd = [str(cli)] if cli.exists() else [sys.executable, "-m", "preau_nas"]
    return subprocess.Popen([*cmd, "--progress", "never", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})


def server_side(server, code: str) -> str:
    return subprocess.run([*server["cli"], "shell", "-c", code], env=server["env"], check=True, capture_output=True,
                          text=True, timeout=300).stdout.strip().splitlines()[-1]


def last_round(r) -> dict:
    return json.loads(r.stdout.strip().splitlines()[-1])


def snapshot(root: Path) -> tuple[str, dict]:
    """What the NAS serves: where `current` points, and every byte of it."""
    cur = root / "collections" / "cycle2" / "current"
    return os.readlink(cur), _files(cur)


def staged_chunks(root: Path) -> set[str]:
    """The chunk ids in the agent's staging log (records b"PC" + id(32) + u32 length + object)."""
    import struct

    path = root / "staging" / "cycle2" / "chunks.log"
    data = path.read_bytes() if path.exists() else b""
    ids, pos = set(), 0
    while pos + 38 <= len(data):
        magic, cid, n = struct.unpack_from("<2s32sI", data, pos)
        if magic != b"PC" or pos + 38 + n > len(data):
            break
        ids.add(cid.hex())
        pos += 38 + n
    return ids


@pytest.fixture
def server_setup(tmp_path):
    src = tmp_path / "src"
    (src / "cycle2").mkdir(parents=True)
    (src / "cycle2" / "lecture.txt").write_text("Il était une fois… " * 2000)
    (src / "video.bin").write_bytes(_mixed(300_000, 3))
    data = tmp_path / "server"
    data.mkdir()
    code = tmp_path / "code.txt"
    env = {"PREAU_CONTENT_STORE": str(tmp_path / "store"), "PREAU_CONTENT_KEY": str(tmp_path / "keys" / "p.key"),
           "PREAU_CONTENT_AUTH_CACHE_SECONDS": "0"}
    return {"src": src, "data": data, "env": env, "code": code, "nas": tmp_path / "nas",
            "setup": [["shell", "-c", SETUP.format(src=str(src), out=str(code))]]}


def test_a_revoked_nas_is_told_to_enrol_again_and_keeps_serving(server_setup):
    s = server_setup
    root = s["nas"]
    with running_server(s["data"], setup=s["setup"], extra_env=s["env"]) as server:
        assert agent("enrol", "--root", str(root), "--server", server["url"], "--code", s["code"].read_text()
                     ).returncode == 0
        assert last_round(agent("run", "--root", str(root), "--once"))["pulled"]["cycle2"]["status"] == "updated"
        served = snapshot(root)
        node = json.loads((root / "node.json").read_text())

        server_side(server, REVOKE)
        r = agent("run", "--root", str(root), "--once")
        assert r.returncode == 1
        result = last_round(r)
        assert not result["ok"] and result["code"] == "refused"
        assert "Identifiants du NAS refusés" in result["error"] and "preau-nas enrol" in result["error"]
        assert snapshot(root) == served  # nothing touched: the school keeps its contents
        assert "Identifiants du NAS refusés" in json.loads((root / "state" / "_agent.json").read_text()
                                                           )["last_error"]["message"]
        r = agent("checkin", "--root", str(root))
        assert r.returncode == 1 and r.stderr.startswith("preau-nas: error: ") and "révoqué" not in r.stdout
        assert "new code" in r.stderr
        # the store refuses the old credential too (no auth cache in this server), with the server's reason
        r = agent("pull", "--root", str(root), "--force")
        assert r.returncode == 1
        error = json.loads(r.stdout)["collections"]["cycle2"]["error"]
        assert "HTTP 401, refused by the server (credential refused: Identifiants du NAS refusés.)" in error
        assert snapshot(root) == served

        # enrolled again with a new code: the next round works, the version it holds is not counted again
        code = server_side(server, NEW_CODE)
        assert agent("enrol", "--root", str(root), "--server", server["url"], "--code", code).returncode == 0
        assert json.loads((root / "node.json").read_text())["credential"] != node["credential"]
        r = agent("run", "--root", str(root), "--once")
        assert r.returncode == 0, r.stdout + r.stderr
        assert last_round(r)["ok"] and last_round(r)["pulled"] == {}  # it holds the current version already
        state = json.loads(server_side(server, NODE_STATE))
        assert state["active"] and state["held"] == {"cycle2": 1} and state["deliveries"] == [1]
        assert state["last_error"] == ""  # the refusals are over: no stale error shown on the NAS page
        assert snapshot(root) == served


def test_server_killed_mid_pull_then_the_app_down(server_setup, tmp_path):
    """A big release pulled at the NAS's own bandwidth limit; the server process is SIGKILLed once part of it
    has arrived, then restarted where the NAS expects it. The failed round keeps v1 served and the chunks it got;
    the next round fetches only the rest and installs the new version. Then the app stops for good: the `run`
    loop retries with growing, capped delays (its log and state show them) and the NAS keeps serving."""
    s = server_setup
    root = s["nas"]
    port = free_port()
    with running_server(s["data"], setup=s["setup"], extra_env=s["env"], port=port) as server:
        assert agent("enrol", "--root", str(root), "--server", server["url"], "--code", s["code"].read_text()
                     ).returncode == 0
        assert last_round(agent("run", "--root", str(root), "--once"))["ok"]
        v1 = snapshot(root)
        # v2 brings 12 MB of new chunks; v3 a small change: the NAS, two versions behind, goes chunk by chunk
        (s["src"] / "video-2.bin").write_bytes(_mixed(12_000_000, 4))
        assert server_side(server, PUBLISH.format(src=str(s["src"]))) == "2"
        (s["src"] / "cycle2" / "calcul.txt").write_text("2 + 2 = 4\n")
        assert server_side(server, PUBLISH.format(src=str(s["src"]))) == "3"
        cfg = json.loads((root / "node.json").read_text())
        cfg["limit_rate"] = 3_000_000  # the NAS's own bandwidth limit (preau-nas init --limit-rate 3M)
        (root / "node.json").write_text(json.dumps(cfg))

        puller = agent_process("run", "--root", str(root), "--once")
        log = root / "staging" / "cycle2" / "chunks.log"
        deadline = time.monotonic() + 60
        while not (log.exists() and log.stat().st_size > 2_000_000):
            assert puller.poll() is None, "the pull ended before the server could be killed: " + puller.stdout.read()
            assert time.monotonic() < deadline, "no chunk arrived"
            time.sleep(0.02)
        server["proc"].send_signal(signal.SIGKILL)
        server["proc"].wait(10)
        out, err = puller.communicate(timeout=120)
    assert puller.returncode == 1, out + err
    failed = json.loads(out.strip().splitlines()[-1])
    assert not failed["ok"] and "server unreachable" in failed["error"] and "resume" in failed["error"]
    assert snapshot(root) == v1  # the previous complete version is still what the school sees
    kept = staged_chunks(root)
    assert len(kept) >= 2
    status = json.loads(agent("status", "--root", str(root), "--json").stdout)
    assert status["collections"]["cycle2"]["version"] == 1

    offset = server["log"].stat().st_size
    with running_server(s["data"], extra_env=s["env"], port=port) as server:
        r = agent("run", "--root", str(root), "--once")
        assert r.returncode == 0, r.stdout + r.stderr
        done = last_round(r)
        assert done["pulled"]["cycle2"]["status"] == "updated" and done["pulled"]["cycle2"]["via"] == "chunks"
        assert _files(root / "collections" / "cycle2" / "current") == _files(s["src"])
        requested = set(re.findall(r'"GET /contenus/store/objects/[0-9a-f]{2}/([0-9a-f]{64}) ',
                                   server["log"].read_text()[offset:]))
        assert requested and not (requested & kept)  # nothing it already had is fetched again
        state = json.loads(server_side(server, NODE_STATE))
        assert state["held"] == {"cycle2": 3} and state["deliveries"] == [1, 3]
        v3 = snapshot(root)

    # the app is down for good: the service loop backs off (0.2 s, 0.4 s, 0.8 s, … capped at the 1.6 s interval)
    loop = agent_process("run", "--root", str(root), "--interval", "1.6",
                         env={"PREAU_NAS_BACKOFF_BASE": "0.2"})
    time.sleep(9)
    loop.send_signal(signal.SIGTERM)
    out, _err = loop.communicate(timeout=30)
    rounds = [json.loads(line) for line in out.strip().splitlines()]
    assert len(rounds) >= 5
    for i, one in enumerate(rounds, start=1):
        assert not one["ok"] and one["code"] == "network" and "server unreachable" in one["error"]
        assert one["failures"] == i
        step = min(1.6, 0.2 * 2 ** (i - 1))
        assert step / 2 <= one["next_in"] <= step, (i, one["next_in"])
    assert max(r["next_in"] for r in rounds[:3]) < min(r["next_in"] for r in rounds[-2:])  # growing
    st = json.loads((root / "state" / "_agent.json").read_text())
    assert st["failures"] == len(rounds) and "server unreachable" in st["last_error"]["message"]
    assert snapshot(root) == v3  # the school keeps what it holds
    assert agent("verify", "--root", str(root), "--full").returncode == 0
