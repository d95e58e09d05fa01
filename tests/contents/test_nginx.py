"""The shipped nginx configuration (deploy/nginx/preau.conf), run by a REAL nginx in front of a real Préau server.

The file is rendered only where it says "ADAPT" (upstream address, listen address, store path; the TLS lines
are dropped: plain http on 127.0.0.1) and included in a minimal nginx.conf whose prefix, pid, logs and
temporary folders are in tmp_path (no root needed). The server runs with PREAU_CONTENT_X_ACCEL=/_store/, so
the app only authorises and nginx sends the bytes. Checked through nginx: an enrolled NAS gets the store
files with the app's Cache-Control and strong ETag, 304 on If-None-Match, 206 on a Range; strangers, wrong
credentials, direct /_store/ requests and traversal get no bytes; then the real agent (`preau-nas run
--once`) pulls v1 chunk by chunk and v2 through the delta bundle, byte-identical to the source.

Without nginx the test is skipped with the reason, except under CI=true (.ci/run installs nginx).
"""

import grp
import hashlib
import http.client
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers import free_port, running_server

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx" / "preau.conf"
NGINX = os.environ.get("PREAU_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"

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
services.publish(None, Collection.objects.get(slug="cycle2"), {src!r})
"""


def _nginx_or_skip() -> str:
    if os.path.isfile(NGINX) and os.access(NGINX, os.X_OK):
        return NGINX
    if os.environ.get("CI") == "true":
        pytest.fail(f"nginx not found ({NGINX}) although CI=true: .ci/run should have installed it")
    pytest.skip(f"nginx not installed ({NGINX} missing; `apt-get install nginx` or set PREAU_NGINX)")


def render(conf: str, *, upstream: str, listen: str, store: Path) -> str:
    """deploy/nginx/preau.conf with its ADAPT lines set for the test; each one must be found exactly once."""
    swaps = [("server 127.0.0.1:8000;", f"server {upstream};"),
             ("listen 443 ssl http2;", f"listen {listen};"),
             ("alias /var/lib/preau/contents/store/;", f"alias {store}/;")]
    for old, new in swaps:
        assert conf.count(old) == 1, f"{old!r} is not in {CONF} exactly once: update the test and the docs"
        conf = conf.replace(old, new)
    lines = [line for line in conf.splitlines() if not line.strip().startswith("ssl_certificate")]
    assert len(lines) == len(conf.splitlines()) - 2
    return "\n".join(lines) + "\n"


def nginx_conf(prefix: Path, site: Path) -> str:
    user, group = pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name
    temp = "\n".join(f"    {kind}_temp_path {prefix / 'tmp' / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # `user` is ignored (with a notice) when not root; as root it keeps the workers able to read tmp_path
    return f"""user {user} {group};
worker_processes 1;
pid {prefix / 'nginx.pid'};
error_log {prefix / 'error.log'} info;
events {{ worker_connections 256; }}
http {{
    access_log {prefix / 'access.log'};
{temp}
    include {site};
}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """(server, nginx base URL, paths): a real Préau server behind a real nginx running the shipped file."""
    nginx = _nginx_or_skip()
    tmp = tmp_path_factory.mktemp("nginx")
    src = tmp / "src"
    (src / "cycle2").mkdir(parents=True)
    (src / "cycle2" / "lecture.txt").write_text("Il était une fois… " * 3000)
    (src / "video.bin").write_bytes(os.urandom(300_000) + bytes(range(256)) * 2000)
    store, code_file, data = tmp / "store", tmp / "code.txt", tmp / "server"
    data.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"PREAU_CONTENT_STORE": str(store), "PREAU_CONTENT_KEY": str(tmp / "keys" / "publisher.key"),
           "PREAU_CONTENT_X_ACCEL": "/_store/", "PREAU_CONTENT_STORE_URL": f"{base}/contenus/store/"}
    setup = [["shell", "-c", SETUP.format(src=str(src), out=str(code_file))]]
    with running_server(data, setup=setup, extra_env=env) as server:
        prefix = tmp / "nginx"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / "tmp" / kind).mkdir(parents=True)
        site = prefix / "preau.conf"
        site.write_text(render(CONF.read_text(), upstream=server["url"].removeprefix("http://"),
                               listen=f"127.0.0.1:{port}", store=store))
        main = prefix / "nginx.conf"
        main.write_text(nginx_conf(prefix, site))
        cmd = [nginx, "-p", str(prefix), "-c", str(main), "-e", str(prefix / "error.log")]
        check = subprocess.run([*cmd, "-t"], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        proc = subprocess.Popen([*cmd, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            for _ in range(100):
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("HEAD", "/")
                    break
                except OSError:
                    assert proc.poll() is None, (prefix / "error.log").read_text()
                    time.sleep(0.1)
            yield {"server": server, "base": base, "port": port, "src": src, "store": store, "tmp": tmp,
                   "code": code_file.read_text().strip(), "prefix": prefix}
        finally:
            proc.terminate()
            proc.wait(10)


def agent(*args) -> subprocess.CompletedProcess:
    cli = Path(sys.executable).with_name("preau-nas")
    cmd = [str(cli)] if cli.exists() else [sys.executable, "-m", "preau_nas"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=300)


def get(stack, path: str, headers: dict | None = None, method: str = "GET"):
    conn = http.client.HTTPConnection("127.0.0.1", stack["port"], timeout=30)
    conn.request(method, path, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp, body


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): "dir" if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def enrolled(stack):
    """The NAS enrolled through nginx with the real CLI: (root, Authorization header)."""
    root = stack["tmp"] / "nas"
    r = agent("enrol", "--root", str(root), "--server", stack["base"], "--code", stack["code"])
    assert r.returncode == 0, r.stderr
    node = json.loads((root / "node.json").read_text())
    assert node["base_url"] == f"{stack['base']}/contenus/store/"  # PREAU_CONTENT_STORE_URL, nginx's address
    return root, f"Bearer {node['node_id']}:{node['credential']}"


def _object(store: Path) -> tuple[str, bytes]:
    """The largest chunk object of the store: (relative path, bytes)."""
    path = max((p for p in (store / "objects").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    return path.relative_to(store).as_posix(), path.read_bytes()


def test_nginx_sends_store_files_with_the_apps_headers(stack, enrolled):
    _root, auth = enrolled
    rel, data = _object(stack["store"])
    assert len(data) > 1000
    resp, body = get(stack, "/contenus/store/" + rel, {"Authorization": auth})
    assert resp.status == 200 and body == data
    assert resp.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    assert resp.getheader("Content-Type") == "application/octet-stream"
    etag = resp.getheader("ETag")
    assert etag == f'"{rel.rsplit("/", 1)[1]}"'  # the app's strong ETag (not nginx's mtime-size one)
    assert resp.getheader("X-Accel-Redirect") is None  # nginx consumed it
    assert resp.getheader("Accept-Ranges") == "bytes"

    # revalidation: 304, no body
    again, body = get(stack, "/contenus/store/" + rel, {"Authorization": auth, "If-None-Match": etag})
    assert again.status == 304 and body == b"" and again.getheader("ETag") == etag

    # ranges: nginx applies them to the file
    part, body = get(stack, "/contenus/store/" + rel, {"Authorization": auth, "Range": "bytes=100-599"})
    assert part.status == 206 and body == data[100:600]
    assert part.getheader("Content-Range") == f"bytes 100-599/{len(data)}"
    tail, body = get(stack, "/contenus/store/" + rel, {"Authorization": auth, "Range": "bytes=-10"})
    assert tail.status == 206 and body == data[-10:]

    # the signed manifest: immutable too, JSON
    pointer_path = stack["store"] / "collections" / "cycle2" / "latest.json"
    manifest_id = json.loads(pointer_path.read_text())["manifest"]
    resp, body = get(stack, f"/contenus/store/manifests/cycle2/{manifest_id}.json", {"Authorization": auth})
    assert resp.status == 200 and body == (stack["store"] / "manifests" / "cycle2" / f"{manifest_id}.json").read_bytes()
    assert resp.getheader("ETag") == f'"{manifest_id}"' and "immutable" in resp.getheader("Cache-Control")
    assert resp.getheader("Content-Type").startswith("application/json")

    # the mutable pointer: revalidated every time, content-hashed ETag, 304 while unchanged
    resp, body = get(stack, "/contenus/store/collections/cycle2/latest.json", {"Authorization": auth})
    assert resp.status == 200 and body == pointer_path.read_bytes()
    assert resp.getheader("Cache-Control") == "no-cache"
    etag = resp.getheader("ETag")
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    again, body = get(stack, "/contenus/store/collections/cycle2/latest.json",
                      {"Authorization": auth, "If-None-Match": etag})
    assert again.status == 304 and body == b""

    head, body = get(stack, "/contenus/store/" + rel, {"Authorization": auth}, method="HEAD")
    assert head.status == 200 and body == b"" and head.getheader("Content-Length") == str(len(data))


def test_nginx_serves_nothing_without_the_apps_word(stack, enrolled):
    root, auth = enrolled
    rel, data = _object(stack["store"])
    node_id = json.loads((root / "node.json").read_text())["node_id"]
    refusals = [({}, 401), ({"Authorization": f"Bearer {node_id}:wrong"}, 401),
                ({"Authorization": "Bearer nas-inconnu:x"}, 401), ({"Authorization": "Basic Zm9vOmJhcg=="}, 401),
                ({"Range": "bytes=0-99"}, 401)]
    for headers, status in refusals:
        resp, body = get(stack, "/contenus/store/" + rel, headers)
        assert resp.status == status, headers
        assert data[:64] not in body and json.loads(body)["detail"]  # the app's French refusal, no bytes
        assert "no-store" in resp.getheader("Cache-Control")

    # the internal location is not reachable from outside, even with a credential
    for path in ("/_store/" + rel, "/_store/collections/cycle2/latest.json", "/_store/"):
        resp, body = get(stack, path, {"Authorization": auth})
        assert resp.status == 404, path
        assert data[:64] not in body

    # traversal and anything the engine does not fetch: 404 (nginx normalises, the app checks the rest)
    for path in ("/contenus/store/../../etc/passwd", "/contenus/store/objects/%2e%2e/%2e%2e/server/e2e.sqlite3",
                 "/contenus/store/%2e%2e/keys/publisher.key", "/contenus/store/objects/",
                 "/contenus/store/collections/cycle2/", "/contenus/store/objects/00/" + "0" * 64,
                 "/_store/../contenus/store/" + rel + "/..", "/contenus/store/" + rel + "/../../../e2e.sqlite3"):
        resp, body = get(stack, path, {"Authorization": auth})
        assert resp.status == 404, (path, resp.status)
        assert data[:64] not in body and b"SQLite format" not in body and b"root:" not in body
    resp, body = get(stack, "/contenus/store/" + rel, {"Authorization": auth}, method="POST")
    assert resp.status in (403, 405) and data[:64] not in body  # 403: Django's CSRF check comes first

    # nginx's own log: every refused request above was answered with a small body, never the file
    log = (stack["prefix"] / "access.log").read_text().splitlines()
    refused = [line for line in log if '" 401 ' in line or '" 404 ' in line]
    assert len(refused) >= len(refusals) + 3
    for line in refused:
        sent = int(line.split('" ', 2)[1].split()[1])
        assert sent < len(data), line


def test_the_agent_pulls_through_nginx(stack, enrolled):
    root, auth = enrolled
    r = agent("run", "--root", str(root), "--once")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout.splitlines()[-1])["pulled"]["cycle2"]["status"] == "updated"
    assert _tree(root / "collections" / "cycle2" / "current") == _tree(stack["src"])

    # v2: the NAS one version behind takes the delta bundle, its packs sent by nginx
    (stack["src"] / "cycle2" / "calcul.txt").write_text("2 + 2 = 4\n" * 500)
    server = stack["server"]
    subprocess.run([*server["cli"], "shell", "-c", PUBLISH.format(src=str(stack["src"]))], env=server["env"],
                   check=True, capture_output=True, timeout=300)
    # the pointer nginx sends is the new one at once (not a descriptor of the old file kept open), with its ETag
    pointer = stack["store"] / "collections" / "cycle2" / "latest.json"
    resp, body = get(stack, "/contenus/store/collections/cycle2/latest.json", {"Authorization": auth})
    assert resp.status == 200 and body == pointer.read_bytes() and json.loads(body)["version"] == 2
    assert resp.getheader("ETag") == f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    r = agent("run", "--root", str(root), "--once")
    assert r.returncode == 0, r.stdout + r.stderr
    last = json.loads(r.stdout.splitlines()[-1])
    assert last["pulled"]["cycle2"]["status"] == "updated" and last["pulled"]["cycle2"]["via"] == "delta"
    assert _tree(root / "collections" / "cycle2" / "current") == _tree(stack["src"])

    # nginx sent the bytes: its log has the store requests with their sizes, the app answered empty bodies
    access = (stack["prefix"] / "access.log").read_text()
    assert re.search(r'"GET /contenus/store/deltas/cycle2/\S+/packs/pack-\d+\.\w+ HTTP/1\.1" 200 [1-9]', access)
    assert re.search(r'"GET /contenus/store/objects/\S+ HTTP/1\.1" 200 [1-9]', access)
    assert '"POST /contenus/agent/checkin/ HTTP/1.1" 200' in access
    app_log = stack["server"]["log"].read_text()
    assert re.search(r'"GET /contenus/store/objects/\S+ HTTP/1\.[01]" 200 0\b', app_log)


def test_the_docs_show_the_shipped_file():
    """docs/contents-serving.md shows deploy/nginx/preau.conf as it is (no nginx needed)."""
    docs = (ROOT / "docs" / "contents-serving.md").read_text()
    blocks = re.findall(r"```nginx\n(.*?)```", docs, flags=re.S)
    assert blocks == [CONF.read_text()]
    assert "deploy/nginx/preau.conf" in docs
