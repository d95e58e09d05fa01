"""The agent's side of the Préau server: enrolment, check-in, authenticated pulls, the service loop.

A tiny fake Préau server (http.server in a thread on 127.0.0.1) answers the three endpoints the way
preau/contents/views_agent.py does (docs/contents-serving.md) and serves a store published with
preau_nas.publish, refusing any store request without the node's Bearer credential."""

from __future__ import annotations

import json
import os
import random
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import preau_nas
import pytest
from nas_helpers import current, make_tree, mutate_tree, tree_snapshot
from preau_nas import agent

CODE = "1A2B-3C4D-5E6F-7A8B"
NODE_ID = "nas-0429901j"
CREDENTIAL = "s3cr3t-credential-of-the-node"


class FakePreau:
    """State and request log of the fake server."""

    def __init__(self, store, public_key):
        self.store = store
        self.public_key = public_key
        self.offers: dict = {}
        self.checkins: list[dict] = []
        self.store_requests: list[tuple[str, str | None]] = []  # (path, Authorization)
        self.enrolments: list[dict] = []
        self.last_seq = 0
        self.mode = None  # what the platform answers: "online", "offline" or nothing (older servers)
        self.url = None
        self.httpd = None

    def offer(self, published: dict):
        self.offers[published["collection"]] = {"version": published["version"], "manifest": published["manifest"]}


def _handler(fake: FakePreau):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _json(self, status, obj):
            body = json.dumps(obj, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self):
            return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def do_POST(self):  # noqa: N802
            if self.path == "/contenus/agent/enrol/":
                data = self._body()
                fake.enrolments.append(data)
                if data.get("code") != CODE:
                    return self._json(403, {"detail": "Code d'enrôlement inconnu ou déjà utilisé."})
                fake.last_seq = 0
                return self._json(200, {"node_id": NODE_ID, "credential": CREDENTIAL,
                                        "trusted_keys": [fake.public_key], "collections": ["contents"],
                                        "store_url": fake.url + "/contenus/store/"})
            if self.path == "/contenus/agent/checkin/":
                if self.headers.get("Authorization") != f"Bearer {NODE_ID}:{CREDENTIAL}":
                    self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    return self._json(401, {"detail": "Identifiants du NAS refusés."})
                data = self._body()
                if data["seq"] <= fake.last_seq:
                    return self._json(409, {"detail": "Contact rejoué ou hors d'ordre : ignoré."})
                fake.last_seq = data["seq"]
                fake.checkins.append(data)
                answer = {"collections": fake.offers, "server_time": "2026-12-04T20:00:00Z"}
                if fake.mode:
                    answer["mode"] = fake.mode
                return self._json(200, answer)
            self._json(404, {"detail": "?"})

        def do_GET(self):  # noqa: N802
            prefix = "/contenus/store/"
            if not self.path.startswith(prefix):
                return self._json(404, {"detail": "?"})
            rel = self.path[len(prefix):]
            auth = self.headers.get("Authorization")
            fake.store_requests.append((rel, auth))
            if auth != f"Bearer {NODE_ID}:{CREDENTIAL}":
                return self._json(401, {"detail": "Authentification requise."})
            path = os.path.join(fake.store, rel)
            if ".." in rel or not os.path.isfile(path):
                return self._json(404, {"detail": "Fichier absent du magasin."})
            with open(path, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def preau(env):
    os.makedirs(env.store, exist_ok=True)
    fake = FakePreau(env.store, env.public)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    httpd.daemon_threads = True
    fake.httpd = httpd
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield fake
    httpd.shutdown()
    httpd.server_close()


def _enrolled(tmp_path, preau):
    return preau_nas.enrol(tmp_path / "nas", preau.url, CODE)


# --------------------------------------------------------------------------- enrolment


def test_enrol_writes_the_credential_in_a_private_node_json(tmp_path, preau):
    node = preau_nas.enrol(tmp_path / "nas", preau.url + "/", f"  {CODE}\n", agent_version="9.9")
    cfg_path = tmp_path / "nas" / "node.json"
    assert stat.S_IMODE(os.stat(cfg_path).st_mode) == 0o600
    cfg = json.loads(cfg_path.read_text())
    assert cfg["credential"] == CREDENTIAL and cfg["node_id"] == NODE_ID
    assert cfg["trusted_keys"] == [preau.public_key] and cfg["collections"] == ["contents"]
    assert cfg["base_url"] == preau.url + "/contenus/store/" and cfg["server_url"] == preau.url
    assert node.authorization() == f"Bearer {NODE_ID}:{CREDENTIAL}"
    # the server got the node's own public key (it checks the receipts this NAS signs) and the code
    sent = preau.enrolments[-1]
    assert sent == {"code": CODE, "public_key": node.keypair().public, "agent_version": "9.9"}
    assert stat.S_IMODE(os.stat(tmp_path / "nas" / "node.key").st_mode) == 0o600


def test_re_enrolment_keeps_the_key_and_local_settings(tmp_path, preau):
    root = tmp_path / "nas"
    preau_nas.init_node(root, "old", [preau.public_key], windows=["19:00-07:00"], limit_rate=1000)
    public = preau_nas.Node(root).keypair().public
    node = preau_nas.enrol(root, preau.url, CODE)
    assert node.keypair().public == public == preau.enrolments[-1]["public_key"]
    assert node.config["windows"] == ["19:00-07:00"] and node.config["limit_rate"] == 1000
    assert node.node_id == NODE_ID


def test_enrol_refusals_are_clear(tmp_path, preau):
    with pytest.raises(agent.RefusedError, match="Code d'enrôlement inconnu ou déjà utilisé") as err:
        preau_nas.enrol(tmp_path / "nas", preau.url, "FFFF-0000-FFFF-0000")
    assert err.value.status == 403
    assert not (tmp_path / "nas" / "node.json").exists()  # nothing half-enrolled
    down = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(agent.NetworkError, match="server unreachable"):
        preau_nas.enrol(tmp_path / "nas", down, CODE)
    with pytest.raises(preau_nas.NasError, match="bad server URL"):
        preau_nas.enrol(tmp_path / "nas", "ftp://x", CODE)


def test_cli_enrol_and_refusal(tmp_path, preau):
    cli = [sys.executable, "-m", "preau_nas"]
    root = str(tmp_path / "nas")
    r = subprocess.run([*cli, "enrol", "--root", root, "--server", preau.url, "--code", "bad"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "Code d'enrôlement inconnu" in r.stderr
    r = subprocess.run([*cli, "enrol", "--root", root, "--server", preau.url, "--code", CODE],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["node_id"] == NODE_ID
    r = subprocess.run([*cli, "checkin", "--root", root], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["collections"] == {} and preau.checkins[-1]["seq"] >= 1


# --------------------------------------------------------------------------- check-in


def test_check_in_reports_and_seq_grows(tmp_path, env, preau):
    node = _enrolled(tmp_path, preau)
    v1 = env.publish(make_tree(tmp_path / "src", big=200_000))
    preau.offer(v1)
    first = preau_nas.check_in(node.root)
    second = preau_nas.check_in(node.root)
    assert first["collections"] == {"contents": {"version": 1, "manifest": v1["manifest"]}}
    a, b = preau.checkins[-2:]
    assert a["seq"] == first["seq"] and b["seq"] == second["seq"] and b["seq"] > a["seq"] > 0
    assert a["held"] == {} and a["agent_version"] == preau_nas.__version__
    assert isinstance(a["disk_free"], int) and a["disk_free"] > 0 and a["last_error"] == ""
    # the counter is on disk before sending: losing the agent state does not make it go back
    os.unlink(os.path.join(node.root, "state", "_agent.json"))
    preau_nas.check_in(node.root)
    assert preau.checkins[-1]["seq"] > b["seq"]


def test_check_in_needs_an_enrolled_node(env, tmp_path, preau):
    node = env.nas("plain", base_url=preau.url)
    with pytest.raises(preau_nas.NasError, match="not enrolled"):
        preau_nas.check_in(node.root)


def test_check_in_with_a_refused_credential(tmp_path, preau):
    node = _enrolled(tmp_path, preau)
    cfg = json.loads((tmp_path / "nas" / "node.json").read_text())
    cfg["credential"] = "wrong"
    (tmp_path / "nas" / "node.json").write_text(json.dumps(cfg))
    with pytest.raises(agent.RefusedError, match="Identifiants du NAS refusés") as err:
        preau_nas.check_in(node.root)
    assert err.value.status == 401


# --------------------------------------------------------------------------- pulls and the loop


def test_run_once_pulls_the_offered_version_with_the_credential(tmp_path, env, preau):
    node = _enrolled(tmp_path, preau)
    src = make_tree(tmp_path / "src", big=300_000)
    v1 = env.publish(src)
    # nothing offered yet: nothing pulled, nothing fetched
    r = preau_nas.run(node.root, once=True)
    assert r["ok"] and r["pulled"] == {} and preau.store_requests == []
    preau.offer(v1)
    r = preau_nas.run(node.root, once=True)
    assert r["ok"], r
    assert r["pulled"]["contents"]["status"] == "updated"
    assert tree_snapshot(current(node.root)) == tree_snapshot(src)
    assert preau.store_requests and all(auth == f"Bearer {NODE_ID}:{CREDENTIAL}"
                                        for _rel, auth in preau.store_requests)
    # the round reported the new version at once
    assert preau.checkins[-1]["held"] == {"contents": 1}
    # a second version through the delta bundle, still with the header on every request
    mutate_tree(src)
    v2 = env.publish(src)
    preau.offer(v2)
    n = len(preau.store_requests)
    r = preau_nas.run(node.root, once=True)
    assert r["ok"] and r["pulled"]["contents"]["via"] == "delta"
    assert any(rel.startswith("deltas/") for rel, _ in preau.store_requests[n:])
    assert all(auth == f"Bearer {NODE_ID}:{CREDENTIAL}" for _rel, auth in preau.store_requests)
    assert tree_snapshot(current(node.root)) == tree_snapshot(src)
    assert preau.checkins[-1]["held"] == {"contents": 2}
    # up to date: a round checks in and fetches nothing
    n = len(preau.store_requests)
    assert preau_nas.run(node.root, once=True)["pulled"] == {}
    assert len(preau.store_requests) == n


def test_an_offline_nas_waits_for_the_tour_and_pulls_once_online(tmp_path, env, preau):
    """The platform decides: a school without fibre gets its contents by operator tour, so its NAS reports in
    but fetches nothing, even when a newer version is offered; switched online, the next round pulls."""
    node = _enrolled(tmp_path, preau)
    src = make_tree(tmp_path / "src", big=100_000)
    preau.offer(env.publish(src))
    preau.mode = "offline"
    r = preau_nas.run(node.root, once=True)
    assert r["ok"] and r["mode"] == "offline" and r["skipped"] == {"contents": "offline"}
    assert r["pulled"] == {} and preau.store_requests == [] and preau.checkins[-1]["held"] == {}
    preau.mode = "online"
    r = preau_nas.run(node.root, once=True)
    assert r["mode"] == "online" and r["pulled"]["contents"]["status"] == "updated"
    assert tree_snapshot(current(node.root)) == tree_snapshot(src)


def test_without_credential_the_store_refuses_clearly(tmp_path, env, preau):
    v1 = env.publish(make_tree(tmp_path / "src", big=100_000))
    node = env.nas("plain", base_url=preau.url + "/contenus/store/")
    with pytest.raises(preau_nas.NasError, match="HTTP 401.*no credential"):
        preau_nas.pull(node.root)
    assert preau.store_requests and preau.store_requests[0][1] is None
    assert v1["version"] == 1


def test_run_respects_the_windows(tmp_path, env, preau):
    node = _enrolled(tmp_path, preau)
    preau.offer(env.publish(make_tree(tmp_path / "src", big=100_000)))
    cfg = dict(node.config)
    import datetime as dt

    h = (dt.datetime.now().hour + 2) % 24
    cfg["windows"] = [f"{h:02d}:00-{(h + 1) % 24:02d}:00"]  # never now
    path = tmp_path / "nas" / "node.json"
    path.write_text(json.dumps(cfg))
    r = preau_nas.run(node.root, once=True)
    assert r["ok"] and r["skipped"] == {"contents": "outside_window"} and preau.store_requests == []
    assert current(node.root) and not os.path.exists(current(node.root))
    r = preau_nas.run(node.root, once=True, ignore_windows=True)
    assert r["pulled"]["contents"]["status"] == "updated"


def test_server_down_backs_off_records_the_error_and_keeps_serving(tmp_path, env, preau):
    node = _enrolled(tmp_path, preau)
    src = make_tree(tmp_path / "src", big=200_000)
    preau.offer(env.publish(src))
    assert preau_nas.run(node.root, once=True)["ok"]
    served = tree_snapshot(current(node.root))
    target = os.readlink(current(node.root))
    preau.httpd.shutdown()
    preau.httpd.server_close()
    sleeps = []
    r = preau_nas.run(node.root, interval=900, max_rounds=6, sleep=sleeps.append, backoff_base=10)
    assert not r["ok"] and r["code"] == "network" and "server unreachable" in r["error"]
    # exponential, capped at the interval, with jitter (between half and all of the step)
    assert len(sleeps) == 5
    for i, s in enumerate(sleeps):
        step = min(900, 10 * 2 ** i)
        assert step / 2 <= s <= step
    assert sleeps[-1] > sleeps[0] * 4
    st = agent.agent_state(node.root)
    assert "server unreachable" in st["last_error"]["message"]
    assert os.readlink(current(node.root)) == target and tree_snapshot(current(node.root)) == served
    assert preau_nas.verify(node.root, full=True)["ok"]


def test_store_down_during_a_pull_keeps_the_held_version_and_reports_the_error(tmp_path, env, preau):
    node = _enrolled(tmp_path, preau)
    src = make_tree(tmp_path / "src", big=200_000)
    preau.offer(env.publish(src))
    assert preau_nas.run(node.root, once=True)["ok"]
    served = tree_snapshot(current(node.root))
    mutate_tree(src)
    preau.offer(env.publish(src, delta=False))
    # the check-in answers but the new objects are gone from the store: the pull fails
    for d, _, files in os.walk(os.path.join(env.store, "objects")):
        for f in files:
            os.unlink(os.path.join(d, f))
    r = preau_nas.run(node.root, once=True)
    assert not r["ok"] and "contents" in r["error"]
    assert tree_snapshot(current(node.root)) == served
    # the next check-in tells the server what went wrong
    preau_nas.check_in(node.root)
    assert "contents" in preau.checkins[-1]["last_error"] and preau.checkins[-1]["held"] == {"contents": 1}


def test_backoff_delay_is_capped_and_jittered():
    rng = random.Random(1)
    for n in range(1, 12):
        step = min(600, 15 * 2 ** (n - 1))
        d = agent.backoff_delay(n, base=15, cap=600, rng=rng)
        assert step / 2 <= d <= step
    delays = {agent.backoff_delay(8, base=15, cap=600, rng=rng) for _ in range(20)}
    assert len(delays) == 20  # jittered: NAS restarted together do not come back together


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_revoked_node_keeps_serving_and_records_the_refusal(tmp_path, env, preau):
    node = _enrolled(tmp_path, preau)
    src = make_tree(tmp_path / "src", big=100_000)
    preau.offer(env.publish(src))
    assert preau_nas.run(node.root, once=True)["ok"]
    served = tree_snapshot(current(node.root))
    global CREDENTIAL
    old, CREDENTIAL = CREDENTIAL, "a-new-credential-after-revocation"
    try:
        sleeps = []
        r = preau_nas.run(node.root, max_rounds=2, sleep=sleeps.append)
    finally:
        CREDENTIAL = old
    assert not r["ok"] and r["code"] == "refused" and "Identifiants du NAS refusés" in r["error"]
    assert len(sleeps) == 1 and sleeps[0] <= agent.BACKOFF_BASE
    assert "Identifiants du NAS refusés" in agent.agent_state(node.root)["last_error"]["message"]
    assert tree_snapshot(current(node.root)) == served
