"""The NAS agents' HTTP side: enrolment (throttled), check-in (replay, revocation, bad bodies) and the
content store (only to enrolled NAS, immutable objects cached forever, traversal refused, nginx mode)."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone

from preau.contents import services
from preau.contents.models import Delivery, NasNode

pytestmark = pytest.mark.django_db

ENROL = "/contenus/agent/enrol/"
CHECKIN = "/contenus/agent/checkin/"
STORE = "/contenus/store/"


@pytest.fixture(autouse=True)
def _store(settings, tmp_path):
    settings.PREAU_CONTENT_STORE = str(tmp_path / "store")
    settings.PREAU_CONTENT_KEY = str(tmp_path / "keys" / "publisher.key")
    settings.PREAU_CONTENT_X_ACCEL = None
    cache.clear()  # throttling counters and remembered credentials
    yield
    cache.clear()


@pytest.fixture
def release(cast, tmp_path):
    src = tmp_path / "src"
    (src / "cycle2").mkdir(parents=True)
    (src / "cycle2" / "lecture.txt").write_text("Il était une fois… " * 200)
    (src / "video.bin").write_bytes(bytes(range(256)) * 4000)
    collection = services.do_create_collection(cast.admin, slug="cycle2", name="Ressources cycle 2")
    return services.publish(cast.admin, collection, src)


@pytest.fixture
def enrolled(client, cast):
    """(node, Authorization header value) of sa1's NAS, enrolled through HTTP."""
    _node, code = services.do_new_enrolment_code(cast.admin, cast.sa1)
    answer = client.post(ENROL, {"code": code, "agent_version": "0.1.0"}, content_type="application/json").json()
    return NasNode.objects.get(node_id=answer["node_id"]), f"Bearer {answer['node_id']}:{answer['credential']}"


def post(client, url, data, auth=None, **extra):
    body = data if isinstance(data, (str, bytes)) else json.dumps(data)
    if auth:
        extra["HTTP_AUTHORIZATION"] = auth
    return client.post(url, body, content_type="application/json", **extra)


# --------------------------------------------------------------------------- enrolment


def test_enrol_gives_credentials_and_the_store(client, cast, release):
    node, code = services.do_new_enrolment_code(cast.admin, cast.sa1)
    response = post(client, ENROL, {"code": code.lower(), "public_key": "k" * 44, "agent_version": "0.2"})
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["node_id"] == node.node_id and len(answer["credential"]) > 30
    assert answer["trusted_keys"] == [services.publisher_public_key()] and answer["collections"] == ["cycle2"]
    assert answer["store_url"] == "http://testserver/contenus/store/"
    node.refresh_from_db()
    assert node.is_active and node.agent_version == "0.2" and node.public_key == "k" * 44
    assert answer["credential"] not in node.credential_hash
    again = post(client, ENROL, {"code": code})  # one-time code
    assert again.status_code == 403 and "déjà utilisé" in again.json()["detail"]


def test_enrol_refusals(client, cast):
    assert post(client, ENROL, {"code": "0000-0000-0000-0000"}).status_code == 403
    assert post(client, ENROL, {}).status_code == 400
    assert post(client, ENROL, "{not json").status_code == 400
    assert post(client, ENROL, {"code": "x" * 70_000}).status_code == 413
    assert client.get(ENROL).status_code == 405
    node, code = services.do_new_enrolment_code(cast.admin, cast.sa1)
    NasNode.objects.filter(pk=node.pk).update(enrolment_expires_at=timezone.now() - timedelta(minutes=1))
    expired = post(client, ENROL, {"code": code})
    assert expired.status_code == 403 and "expiré" in expired.json()["detail"]
    node.refresh_from_db()
    assert node.credential_hash == "" and not node.is_active


def test_enrol_throttles_wrong_codes_per_address(client, cast, settings):
    settings.PREAU_CONTENT_ENROL_MAX_FAILURES = 3
    _node, code = services.do_new_enrolment_code(cast.admin, cast.sa1)
    for _ in range(3):
        assert post(client, ENROL, {"code": "DEAD-BEEF-0000-0000"}).status_code == 403
    blocked = post(client, ENROL, {"code": code})  # even the right code, from this address, for 10 minutes
    assert blocked.status_code == 429 and blocked["Retry-After"] == "600"
    other = post(client, ENROL, {"code": code}, REMOTE_ADDR="10.0.0.7")
    assert other.status_code == 200


# --------------------------------------------------------------------------- check-in


def test_check_in_answers_offers_and_refuses_replay(client, cast, release, enrolled):
    node, auth = enrolled
    response = post(client, CHECKIN, {"seq": 1, "held": {}, "disk_free": 10**9, "agent_version": "0.1.1"}, auth)
    assert response.status_code == 200, response.content
    assert response.json()["collections"]["cycle2"] == {"version": 1, "manifest": release.manifest}
    assert post(client, CHECKIN, {"seq": 2, "held": {"cycle2": 1}, "last_error": ""}, auth).status_code == 200
    replay = post(client, CHECKIN, {"seq": 2, "held": {}}, auth)
    assert replay.status_code == 409 and "rejoué" in replay.json()["detail"]
    node.refresh_from_db()
    assert node.last_checkin_seq == 2 and node.held == {"cycle2": 1} and node.agent_version == "0.1.1"
    assert Delivery.objects.filter(node=node, release=release).count() == 1


def test_check_in_refusals(client, cast, enrolled):
    node, auth = enrolled
    no_auth = post(client, CHECKIN, {"seq": 1, "held": {}})
    assert no_auth.status_code == 401 and no_auth["WWW-Authenticate"].startswith("Bearer")
    assert post(client, CHECKIN, {"seq": 1, "held": {}}, f"Bearer {node.node_id}:wrong").status_code == 401
    assert post(client, CHECKIN, {"seq": 1, "held": {}}, "Basic abc").status_code == 401
    assert post(client, CHECKIN, "[1, 2", auth).status_code == 400
    assert post(client, CHECKIN, {"seq": "1", "held": {}}, auth).status_code == 400
    assert post(client, CHECKIN, {"seq": 1, "held": ["cycle2"]}, auth).status_code == 400
    assert post(client, CHECKIN, {"seq": 1, "held": {}, "disk_free": -5}, auth).status_code == 400
    big = post(client, CHECKIN, {"seq": 1, "held": {}, "last_error": "x" * 70_000}, auth)
    assert big.status_code == 413
    node.refresh_from_db()
    assert node.last_checkin_seq == 0 and node.last_checkin_at is None  # nothing half-written
    services.do_revoke(cast.admin, node, "NAS volé")
    revoked = post(client, CHECKIN, {"seq": 1, "held": {}}, auth)
    assert revoked.status_code == 401  # revocation wipes the credential
    NasNode.objects.filter(pk=node.pk).update(credential_hash=services.digest("still-known"))
    revoked = post(client, CHECKIN, {"seq": 1, "held": {}}, f"Bearer {node.node_id}:still-known")
    assert revoked.status_code == 403 and "révoqué" in revoked.json()["detail"]


# --------------------------------------------------------------------------- the store


def _object_rel(store: Path) -> str:
    path = next(p for p in sorted((store / "objects").rglob("*")) if p.is_file())
    return path.relative_to(store).as_posix()


def test_store_serves_immutable_objects_with_strong_etags(client, release, enrolled, settings):
    _node, auth = enrolled
    store = Path(settings.PREAU_CONTENT_STORE)
    rel = _object_rel(store)
    response = client.get(STORE + rel, HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (store / rel).read_bytes()
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["ETag"] == f'"{rel.rsplit("/", 1)[1]}"' and response["Content-Type"] == "application/octet-stream"
    again = client.get(STORE + rel, HTTP_AUTHORIZATION=auth, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again["ETag"] == response["ETag"] and not again.content
    manifest = client.get(f"{STORE}manifests/cycle2/{release.manifest}.json", HTTP_AUTHORIZATION=auth)
    assert manifest.status_code == 200 and manifest["ETag"] == f'"{release.manifest}"'


def test_store_latest_pointer_is_revalidated(client, release, enrolled, settings):
    _node, auth = enrolled
    response = client.get(STORE + "collections/cycle2/latest.json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200 and response.json()["manifest"] == release.manifest
    assert response["Cache-Control"] == "no-cache"
    assert client.get(STORE + "collections/cycle2/latest.json", HTTP_AUTHORIZATION=auth,
                      HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    pointer = Path(settings.PREAU_CONTENT_STORE) / "collections" / "cycle2" / "latest.json"
    pointer.write_text(pointer.read_text().replace('"version": 1', '"version": 2'))
    changed = client.get(STORE + "collections/cycle2/latest.json", HTTP_AUTHORIZATION=auth,
                         HTTP_IF_NONE_MATCH=response["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != response["ETag"]


def test_store_refuses_strangers_and_traversal(client, cast, release, enrolled, settings, tmp_path):
    node, auth = enrolled
    store = Path(settings.PREAU_CONTENT_STORE)
    rel = _object_rel(store)
    assert client.get(STORE + rel).status_code == 401
    assert client.get(STORE + rel, HTTP_AUTHORIZATION=f"Bearer {node.node_id}:wrong").status_code == 401
    client.force_login(cast.admin)  # people see contents through the web pages, not the store
    assert client.get(STORE + rel).status_code == 401
    (tmp_path / "secret.txt").write_text("clé")
    for bad in ("../secret.txt", "objects/../../secret.txt", "objects/%2e%2e/%2e%2e/secret.txt",
                "keys/publisher.key", "collections/cycle2/../../../secret.txt", "objects/00/" + "0" * 64):
        response = client.get(STORE + bad, HTTP_AUTHORIZATION=auth)
        assert response.status_code == 404, bad
        assert "no-store" in response["Cache-Control"]
    assert client.post(STORE + rel, HTTP_AUTHORIZATION=auth).status_code == 405


def test_store_refuses_a_revoked_node(client, cast, release, enrolled, settings):
    node, auth = enrolled
    settings.PREAU_CONTENT_AUTH_CACHE_SECONDS = 0  # the credential is checked at every read
    rel = _object_rel(Path(settings.PREAU_CONTENT_STORE))
    assert client.get(STORE + rel, HTTP_AUTHORIZATION=auth).status_code == 200
    services.do_revoke(cast.admin, node, "NAS volé")
    assert client.get(STORE + rel, HTTP_AUTHORIZATION=auth).status_code == 401


def test_store_points_nginx_in_production(client, release, enrolled, settings):
    _node, auth = enrolled
    settings.PREAU_CONTENT_X_ACCEL = "/_store/"
    rel = _object_rel(Path(settings.PREAU_CONTENT_STORE))
    response = client.get(STORE + rel, HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == "/_store/" + rel
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get(STORE + rel).status_code == 401  # nginx never serves without the app's word
    assert "X-Accel-Redirect" not in client.get(STORE + "objects/../x", HTTP_AUTHORIZATION=auth)


# --------------------------------------------------------------------------- end to end

SETUP = """
from pathlib import Path
from preau.contents import services
from preau.territory.models import Circonscription, Commune, Connectivity, Epci, School
epci = Epci.objects.create(siren="244200770", name="Saint-Étienne Métropole", kind="ME")
commune = Commune.objects.create(insee="42218", name="Saint-Étienne", population=173000, epci=epci, department="42")
circ = Circonscription.objects.create(name="Saint-Étienne Centre", department="42")
school = School.objects.create(uai="0429901J", name="École des Tilleuls", kind="primaire", commune=commune,
                               circonscription=circ)
Connectivity.objects.create(school=school, access="fibre")  # a fibre school: its NAS pulls online
collection = services.do_create_collection(None, slug="cycle2", name="Ressources cycle 2")
services.publish(None, collection, {src!r})
node, code = services.do_new_enrolment_code(None, school)
Path({out!r}).write_text(code)
"""


def _tree(root: Path) -> dict:
    """{relative path: bytes or "dir"} of a whole tree, for a byte-for-byte comparison."""
    return {str(p.relative_to(root)): "dir" if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


def _agent(*args, **kw):
    """The real NAS agent, as a process (`preau-nas …`, the console script of nas/)."""
    import subprocess
    import sys

    cli = [str(Path(sys.executable).with_name("preau-nas"))]
    if not Path(cli[0]).exists():
        cli = [sys.executable, "-m", "preau_nas"]
    return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=300, **kw)


PUBLISH_V2 = """
from preau.contents import services
from preau.contents.models import Collection
services.publish(None, Collection.objects.get(slug="cycle2"), {src!r})
"""

NODE_STATE = """
import json
from preau.contents.models import Delivery, NasNode
node = NasNode.objects.get()
print(json.dumps({"held": node.held, "seq": node.last_checkin_seq, "agent_version": node.agent_version,
                  "public_key": node.public_key,
                  "deliveries": sorted(d.release.version for d in Delivery.objects.filter(node=node))}))
"""


@pytest.mark.django_db(transaction=True)
def test_end_to_end_enrol_check_in_and_pull_through_a_real_server(tmp_path):
    """The real agent (`preau-nas enrol`, then `preau-nas run --once` as for cron) against the real
    server: it sends its credential on every store request, pulls v1, then v2 through the delta bundle,
    and reports what it holds; its tree is byte-identical to the published folder each time."""
    import subprocess

    from tests.servers import running_server

    src = tmp_path / "src"
    (src / "cycle2").mkdir(parents=True)
    (src / "cycle2" / "lecture.txt").write_text("Il était une fois… " * 2000)
    (src / "video.bin").write_bytes(bytes(range(256)) * 40_000)
    store, key, code_file = tmp_path / "store", tmp_path / "keys" / "publisher.key", tmp_path / "code.txt"
    data = tmp_path / "server"
    data.mkdir()
    env = {"PREAU_CONTENT_STORE": str(store), "PREAU_CONTENT_KEY": str(key)}
    setup = [["shell", "-c", SETUP.format(src=str(src), out=str(code_file))]]
    with running_server(data, setup=setup, extra_env=env) as server:
        url, root = server["url"], tmp_path / "nas"

        def server_side(code: str) -> str:
            return subprocess.run([*server["cli"], "shell", "-c", code], env=server["env"], check=True,
                                  capture_output=True, text=True, timeout=300).stdout

        # a wrong code: the server's French refusal, nothing written
        r = _agent("enrol", "--root", str(root), "--server", url, "--code", "0000-0000-0000-0000")
        assert r.returncode == 1 and "Code d'enrôlement inconnu ou déjà utilisé" in r.stderr
        assert not (root / "node.json").exists()

        r = _agent("enrol", "--root", str(root), "--server", url, "--code", code_file.read_text())
        assert r.returncode == 0, r.stderr
        enrolled = json.loads(r.stdout)
        assert enrolled["base_url"] == f"{url}/contenus/store/" and enrolled["collections"] == ["cycle2"]
        assert (root / "node.json").stat().st_mode & 0o777 == 0o600
        assert json.loads((root / "node.json").read_text())["credential"]

        r = _agent("run", "--root", str(root), "--once")
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout.splitlines()[-1])["pulled"]["cycle2"]["status"] == "updated"
        assert _tree(root / "collections" / "cycle2" / "current") == _tree(src)

        # a second version published on the server: the NAS one version behind takes the delta bundle
        (src / "cycle2" / "calcul.txt").write_text("2 + 2 = 4\n")
        server_side(PUBLISH_V2.format(src=str(src)))
        r = _agent("run", "--root", str(root), "--once")
        assert r.returncode == 0, r.stdout + r.stderr
        assert json.loads(r.stdout.splitlines()[-1])["pulled"]["cycle2"]["via"] == "delta"
        assert _tree(root / "collections" / "cycle2" / "current") == _tree(src)
        log = server["log"].read_text()
        assert "/contenus/store/deltas/cycle2/" in log and '/contenus/store/objects/' in log
        assert '"GET /contenus/store/' in log and '" 401 ' not in log  # every store request authenticated

        # the server knows what the NAS holds: two online deliveries, the agent's key and version
        state = json.loads(server_side(NODE_STATE).strip().splitlines()[-1])
        assert state["held"] == {"cycle2": 2} and state["deliveries"] == [1, 2] and state["seq"] > 0
        assert state["agent_version"] and state["public_key"] == enrolled["public_key"]

        # a node without the credential (initialised by hand) is refused by the store, clearly
        plain = tmp_path / "plain"
        assert _agent("init", "--root", str(plain), "--node-id", "plain", "--trust",
                      json.loads((root / "node.json").read_text())["trusted_keys"][0],
                      "--base-url", enrolled["base_url"], "-c", "cycle2").returncode == 0
        r = _agent("pull", "--root", str(plain))
        assert r.returncode == 1 and "HTTP 401" in r.stdout + r.stderr
