"""End to end with the real FusionInventory Agent (Debian package `fusioninventory-agent`).

A real `preau runserver` process on 127.0.0.1 with its own SQLite database, one school and
PREAU_AGENT_TOKEN set; the agent inventories this machine and POSTs to /parc/agent/ with --tag=<UAI>
and --password=<token> (PROLOG, then zlib-compressed INVENTORY; without the password: 401). The submission must be queued with this machine's hostname, RAM, CPU, OS and real MAC
addresses; a technician places it through the queue page (logged in over HTTP); the agent's second run
must then match the new asset (by serial or UUID when the machine has real ones, else by MAC: containers
and VMs often have neither) and update it.

Without the agent the test is skipped with a visible reason, except under CI=true (.ci/run installs it).
"""

import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.servers import running_server

AGENT = os.environ.get("PREAU_FUSIONINVENTORY_AGENT", "/usr/bin/fusioninventory-agent")
AGENT_VARDIR = Path("/var/lib/fusioninventory-agent")
ROOT = Path(__file__).resolve().parents[2]
UAI = "0429901J"
PASSWORD = "e2e-Preau-2026"
TOKEN = "e2e-agent-token"  # PREAU_AGENT_TOKEN of the server: the agent sends it with --password

SETUP = f"""
from preau.accounts.models import Role, User
from preau.territory.models import Commune, Epci, School, SchoolClass, stratum_for
epci = Epci.objects.create(siren="244200770", name="Saint-Étienne Métropole", kind="ME")
commune = Commune.objects.create(insee="42218", name="Saint-Étienne", population=173000,
                                 stratum=stratum_for(173000), epci=epci, department="42")
school = School.objects.create(uai="{UAI}", name="École des Tilleuls", kind="primaire", commune=commune)
SchoolClass.objects.create(school=school, year=2026, name="Classe 1", level="CP")
user = User(username="tech", role=Role.TECHNICIAN, email="tech@example.org")
user.set_password("{PASSWORD}")
user.save()
"""

READ = """
import json
from preau.fleet.models import AgentSubmission, Asset
subs = [{"pk": s.pk, "outcome": s.outcome, "format": s.format, "deviceid": s.deviceid, "tag": s.agent_tag,
         "school": s.school.uai if s.school else None, "asset": s.asset.tag if s.asset else None,
         "matched_by": s.matched_by, "message": s.message, "data": s.data}
        for s in AgentSubmission.objects.select_related("school", "asset").order_by("pk")]
assets = [{"tag": a.tag, "status": a.status, "school": a.school.uai if a.school else None, "hostname": a.hostname,
           "serial": a.serial, "system_uuid": a.system_uuid, "cpu": a.cpu, "ram_mb": a.ram_mb, "os": a.os,
           "last_inventory_at": a.last_inventory_at.isoformat() if a.last_inventory_at else None,
           "macs": sorted(a.interfaces.values_list("mac", flat=True)),
           "events": list(a.events.values_list("kind", flat=True))}
          for a in Asset.objects.select_related("school")]
print(json.dumps({"submissions": subs, "assets": assets}))
"""


@pytest.fixture(scope="module")
def agent_path() -> str:
    if not (os.path.exists(AGENT) and os.access(AGENT, os.X_OK)):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no FusionInventory agent at {AGENT}: .ci/run must install fusioninventory-agent")
        pytest.skip(f"AGENT END-TO-END TEST SKIPPED: no {AGENT} (apt-get install fusioninventory-agent)")
    writable = AGENT_VARDIR if AGENT_VARDIR.exists() else AGENT_VARDIR.parent
    if not os.access(writable, os.W_OK):
        reason = f"the agent keeps its state in {AGENT_VARDIR}, not writable by this user (run as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(f"AGENT END-TO-END TEST SKIPPED: {reason}")
    return AGENT


@pytest.fixture(scope="module")
def server(tmp_path_factory, agent_path):
    data = tmp_path_factory.mktemp("agent-e2e")
    with running_server(data, setup=[["shell", "-c", SETUP]], extra_env={"PREAU_AGENT_TOKEN": TOKEN}) as srv:
        yield srv
        # The agent keeps one state folder per server URL: remove the one this test made (not the others).
        state = AGENT_VARDIR / (f"{srv['url']}/parc/agent/".replace("/", "_"))
        if state.is_dir():
            shutil.rmtree(state, ignore_errors=True)


def read_db(server) -> dict:
    out = subprocess.run([*server["cli"], "shell", "-c", READ], env=server["env"], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_agent(server, *options: str, password: str = TOKEN, ok: bool = True) -> subprocess.CompletedProcess:
    conf = server["dir"] / "agent.cfg"
    conf.touch()
    cmd = [AGENT, "--server", server["url"] + "/parc/agent/", "--tag", UAI.lower(),
           "--tasks=inventory", "--no-category=software,process,environment,local_user,local_group",
           "--logger=stderr", f"--conf-file={conf}", "--no-httpd", "--timeout=30", "--debug", *options]
    if password:
        cmd += ["--user=agent", f"--password={password}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    errors = [line for line in proc.stderr.splitlines() if "[error]" in line]
    if not ok:
        return proc
    assert proc.returncode == 0 and not errors, (
        f"agent failed ({proc.returncode}):\n{proc.stderr[-3000:]}\n--- server log ---\n{server['log'].read_text()[-3000:]}")
    return proc


def physical_macs() -> dict[str, str]:
    """Non-virtual interfaces of this machine (not under /sys/devices/virtual) with a unicast, non-null MAC."""
    macs = {}
    for iface in Path("/sys/class/net").iterdir():
        if "/devices/virtual/" in os.path.realpath(iface):
            continue
        try:
            mac = (iface / "address").read_text().strip().lower()
        except OSError:
            continue
        if len(mac) == 17 and mac != "00:00:00:00:00:00" and not int(mac[:2], 16) & 1:
            macs[iface.name] = mac
    return macs


def mem_total_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def os_pretty_name() -> str:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        if os.path.exists(path):
            match = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', Path(path).read_text(), re.M)
            if match:
                return match.group(1)
    return ""


def login(server) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(server["url"] + "/comptes/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = {"csrfmiddlewaretoken": token, "username": "tech", "password": PASSWORD}
    opener.open(server["url"] + "/comptes/login/", data=urllib.parse.urlencode(form).encode(), timeout=10)
    return opener


def test_real_agent_is_queued_placed_then_matched(server):
    started = time.monotonic()
    # 0. Without the shared secret the server answers 401 and records nothing.
    proc = run_agent(server, password="", ok=False)
    assert "authentication required" in proc.stderr, proc.stderr[-2000:]
    assert not read_db(server)["submissions"]
    # 1. First run (zlib, the agent's default): an unknown machine, queued with what it really is.
    proc = run_agent(server)
    assert "sending prolog request" in proc.stderr and "New inventory from" in proc.stderr
    db = read_db(server)
    assert len(db["submissions"]) == 1, db["submissions"]
    sub = db["submissions"][0]
    data = sub["data"]
    assert (sub["outcome"], sub["format"], sub["tag"], sub["school"]) == ("queued", "fusion_xml", UAI, UAI), sub
    assert data["hostname"] == socket.gethostname().split(".")[0]
    total = mem_total_mb()
    assert total * 0.9 <= data["ram_mb"] <= total * 1.3 + 1024, (data["ram_mb"], total)
    assert data["cpu"], data
    pretty = os_pretty_name()
    if pretty:
        assert data["os_name"] == pretty, (data["os_name"], pretty)
    expected = physical_macs()
    kept = {mac for _name, mac, _local in data["interfaces"]}
    assert kept == set(expected.values()), (
        f"real MACs reported {sorted(kept)} != this machine's physical interfaces {expected}; "
        f"ignored: {data['ignored']}")
    assert not any(mac == "00:00:00:00:00:00" for mac in kept)
    assert not db["assets"]

    # 2. A technician places it from the queue page (real login, CSRF, the form).
    opener = login(server)
    page_url = f"{server['url']}/parc/inventaires/{sub['pk']}/"
    page = opener.open(page_url, timeout=10).read().decode()
    assert data["hostname"] in page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = {"csrfmiddlewaretoken": token, "tag": "SEM-00001", "maker": data["maker"] or "Générique",
            "model_name": data["model"] or "Poste de test", "category": "desktop", "school": UAI, "deploy": "on"}
    response = opener.open(page_url, data=urllib.parse.urlencode(form).encode(), timeout=10)
    assert response.status == 200 and "SEM-00001" in response.read().decode()
    db = read_db(server)
    (asset,) = db["assets"]
    assert (asset["tag"], asset["status"], asset["school"]) == ("SEM-00001", "deployed", UAI)
    assert asset["macs"] == sorted(kept)
    assert db["submissions"][0]["outcome"] == "placed"

    # 3. Second run: the same machine is recognised and its asset updated.
    keys = {"serial": data["usable_serial"], "uuid": data["usable_uuid"], "mac": bool(kept)}
    if not any(keys.values()):
        pytest.skip("this machine reports no serial, no UUID and no real MAC: nothing to match it by")
    placed_at = asset["last_inventory_at"]
    run_agent(server, "--no-compression")  # plain XML this time
    db = read_db(server)
    latest = db["submissions"][-1]
    expected_by = next(k for k in ("serial", "uuid", "mac") if keys[k])
    assert (latest["outcome"], latest["asset"], latest["matched_by"]) == ("matched", "SEM-00001", expected_by), latest
    (asset,) = db["assets"]
    assert asset["hostname"] == data["hostname"] and asset["ram_mb"] == data["ram_mb"]
    assert asset["last_inventory_at"] > placed_at
    assert asset["macs"] == sorted(kept)
    assert len(db["submissions"]) == 2
    assert time.monotonic() - started < 90
