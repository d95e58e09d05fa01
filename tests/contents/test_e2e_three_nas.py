"""Acceptance test of the contents service (issue 5): a real server, three real NAS agents, one tour disk.

`preau runserver` on 127.0.0.1 (jobs run in the web process: PREAU_JOBS_INLINE is on by default) and the real
`preau-nas` command as separate processes, each NAS with its own folder. Everything a person does goes through
the web pages, as a manager: create the collection, publish from a server folder (a job, polled), issue the
enrolment codes, plan the tours, build the disk (a job), download it from the job's page (a streamed tar),
upload the receipts. On the server's command line: `preau receipts-ingest` and `preau stats --json`.

- École de la Fibre (fibre: online by its connectivity) pulls v1, then v2, by itself (`preau-nas run --once`);
- École du Bourg (ADSL: offline) receives v1 by a first tour, then v2 by the second;
- École du Hameau (no known connectivity: offline) starts empty and receives v2 by the same second disk.
Then the freshness dashboard and `preau stats --json` show the three up to date, each NAS's tree is byte-identical
to the published folder, and each delivery is recorded once (online, or by which tour).
"""

import html
import http.cookiejar
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from tests.servers import running_server

SETUP = """
from preau.accounts.models import User
from preau.territory.codes import uai_check_letter
from preau.territory.models import Circonscription, Commune, Connectivity, Epci, School
epci = Epci.objects.create(siren="244200770", name="Saint-Étienne Métropole", kind="ME")
commune = Commune.objects.create(insee="42218", name="Saint-Étienne", population=173000, epci=epci, department="42")
circ = Circonscription.objects.create(name="Saint-Étienne Centre", department="42")
for digits, name, access, lat, lon in (("0429801", "École de la Fibre", "fibre", 45.44, 4.39),
                                       ("0429802", "École du Bourg", "adsl", 45.45, 4.40),
                                       ("0429803", "École du Hameau", None, 45.46, 4.41)):
    school = School.objects.create(uai=digits + uai_check_letter(digits), name=name, kind="primaire",
                                   commune=commune, circonscription=circ, lat=lat, lon=lon)
    if access:
        Connectivity.objects.create(school=school, access=access)
User.objects.create_user("gestion", password="e2e-gestion", role="admin")
"""

DELIVERIES = """
import json
from preau.contents.models import Delivery
print(json.dumps(sorted([d.node.school.name, d.release.version, d.via, d.tour]
                        for d in Delivery.objects.select_related("node__school", "release"))))
"""


def uai(digits: str) -> str:
    from preau.territory.codes import uai_check_letter

    return digits + uai_check_letter(digits)


FIBRE, BOURG, HAMEAU = uai("0429801"), uai("0429802"), uai("0429803")


class Web:
    """A person's browser session on the real server: cookies, CSRF token, form posts (urllib only)."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def _csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def request(self, path: str, data: bytes | None = None, headers: dict | None = None):
        """(status, final URL, body bytes); redirects are followed, error statuses returned, not raised."""
        url = path if path.startswith("http") else self.base + path
        req = urllib.request.Request(url, data, {"Referer": self.base + "/", **(headers or {})})
        try:
            with self.opener.open(req, timeout=120) as resp:
                return resp.status, resp.url, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, url, exc.read()

    def get(self, path: str) -> tuple[int, str, str]:
        status, url, body = self.request(path)
        return status, url, body.decode()

    def post(self, path: str, fields: dict) -> tuple[int, str, str]:
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": self._csrf(), **fields}).encode()
        status, url, body = self.request(path, data, {"Content-Type": "application/x-www-form-urlencoded",
                                                      "X-CSRFToken": self._csrf()})
        return status, url, body.decode()

    def post_files(self, path: str, name: str, files: list[Path]) -> tuple[int, str, str]:
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
                 f"{self._csrf()}\r\n".encode()]
        for f in files:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{f.name}"\r\n'
                         f"Content-Type: application/json\r\n\r\n".encode() + f.read_bytes() + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        status, url, body = self.request(path, b"".join(parts),
                                         {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return status, url, body.decode()

    def login(self, username: str, password: str) -> None:
        self.get("/comptes/login/")
        status, url, _body = self.post("/comptes/login/?next=/contenus/fraicheur/",
                                       {"username": username, "password": password})
        assert status == 200 and url == self.base + "/contenus/fraicheur/", (status, url)


def wait_job(web: Web, job_url: str, timeout: float = 120) -> str:
    """Poll the job's progress page until it ends; return the page of the finished job (must be "done")."""
    assert re.search(r"/taches/\d+/$", job_url), job_url
    deadline = time.monotonic() + timeout
    while True:
        status, _url, page = web.get(job_url)
        assert status == 200
        state = re.search(r'class="job-status" data-status="(\w+)"', page)[1]
        if state not in ("queued", "running"):
            assert state == "done", page
            return page
        assert time.monotonic() < deadline, f"job still {state} after {timeout} s"
        time.sleep(0.3)


def agent(*args: str) -> dict:
    """The real NAS agent as a process (`preau-nas …`, console script of nas/); its JSON answer."""
    exe = Path(sys.executable).with_name("preau-nas")
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "preau_nas"]
    r = subprocess.run([*cli, *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"preau-nas {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}"
    lines = r.stdout.strip()
    return json.loads(lines.splitlines()[-1] if args[0] == "run" else lines)


def tree(root: Path) -> dict:
    """{relative path: bytes or "dir"}: a whole tree, for a byte-for-byte comparison."""
    return {p.relative_to(root).as_posix(): "dir" if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


def write_release(folder: Path, version: int) -> None:
    (folder / "lecture").mkdir(parents=True, exist_ok=True)
    (folder / "lecture" / "conte.txt").write_text("Il était une fois… " * 3000, encoding="utf-8")
    (folder / "video.bin").write_bytes(bytes(range(256)) * 20_000 + b"v%d" % version)
    if version >= 2:
        (folder / "lecture" / "calcul.txt").write_text("2 + 2 = 4\n" * 500)
        (folder / "albums").mkdir(exist_ok=True)
        (folder / "albums" / "nouvel-album.bin").write_bytes(bytes(reversed(range(256))) * 3000)


def publish(web: Web, folder_name: str, notes: str) -> None:
    status, job_url, page = web.post("/contenus/collections/cycle2/publier/", {"src_dir": folder_name, "notes": notes})
    assert status == 200, page
    page = wait_job(web, job_url)
    assert "de « cycle2 » publiée" in page, page


def plan_tour(web: Web, name: str, uais: list[str]) -> int:
    """Plan a tour of these schools through the tours page; its pk."""
    status, tour_url, page = web.post("/contenus/tournees/", {"name": name, "uais": "\n".join(uais)})
    assert status == 200 and re.search(r"/contenus/tournees/\d+/$", tour_url), page
    assert f"Tournée « {name} » prévue." in html.unescape(page)
    return int(tour_url.rstrip("/").rsplit("/", 1)[1])


def build_disk(web: Web, tour_pk: int, usb: Path) -> Path:
    """Build the tour's disk (job), download it from the job's page once done, extract it onto the "USB disk".
    Returns the bundle folder on the disk."""
    status, job_url, page = web.post(f"/contenus/tournees/{tour_pk}/disque/", {})
    assert status == 200, page
    page = wait_job(web, job_url)
    link = re.search(r'<a id="bundle-download" href="([^"]+)"', page)
    assert link, f"the finished job's page offers no download:\n{page}"
    status, _url, tar_bytes = web.request(link[1])
    assert status == 200 and tar_bytes[:2] != b"<!"
    archive = usb.parent / f"tour-{tour_pk}.tar"
    archive.write_bytes(tar_bytes)
    shutil.rmtree(usb, ignore_errors=True)
    usb.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(usb, filter="data")
    (bundle,) = [p for p in usb.iterdir() if (p / "preau-bundle.json").exists()]
    assert (bundle / "receipts").is_dir()
    return bundle


def freshness_counts(web: Web, slug: str) -> dict:
    status, _url, page = web.get("/contenus/fraicheur/")
    assert status == 200
    section = re.search(rf'<section[^>]*data-slug="{slug}"[^>]*>(.*?)</section>', page, re.S)
    assert section, page
    return {state: int(n) for state, n in re.findall(
        r'<tr data-state="(\w+)"><td>.*?</td><td class="num">(\d+)</td>', section[1], re.S)}


def test_three_nas_one_online_two_by_one_tour_disk(tmp_path):
    incoming, store = tmp_path / "incoming", tmp_path / "contents" / "store"
    v1_dir, v2_dir = incoming / "cycle2-v1", incoming / "cycle2-v2"
    write_release(v1_dir, 1)
    write_release(v2_dir, 2)
    data = tmp_path / "server"
    data.mkdir()
    env = {"PREAU_CONTENT_STORE": str(store), "PREAU_CONTENT_KEY": str(tmp_path / "contents" / "publisher.key"),
           "PREAU_CONTENT_IMPORT_ROOT": str(incoming), "PREAU_JOBS_INLINE": "1"}
    roots = {u: tmp_path / "nas" / u for u in (FIBRE, BOURG, HAMEAU)}
    usb = tmp_path / "usb"

    with running_server(data, setup=[["shell", "-c", SETUP]], extra_env=env) as server:
        def cli(*args: str) -> str:
            r = subprocess.run([*server["cli"], *args], env=server["env"], capture_output=True, text=True,
                               timeout=300)
            assert r.returncode == 0, f"preau {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}"
            return r.stdout

        web = Web(server["url"])
        web.login("gestion", "e2e-gestion")

        # --- the collection (every school by default) and its first release, published from a server folder
        status, url, page = web.post("/contenus/collections/", {"slug": "cycle2", "name": "Ressources cycle 2"})
        assert status == 200 and url.endswith("/contenus/collections/cycle2/"), page
        publish(web, "cycle2-v1", "Version de rentrée.")

        # --- the three NAS are enrolled with the one-time codes shown in the web
        for u, root in roots.items():
            status, _url, page = web.post(f"/contenus/nas/{u}/code/", {})
            assert status == 200
            code = re.search(r'<code id="enrolment-code">([^<]+)</code>', page)[1]
            enrolled = agent("enrol", "--root", str(root), "--server", server["url"], "--code", code)
            assert enrolled["collections"] == ["cycle2"]
        # enrolled but never heard from since: "silent" until their first check-in
        assert freshness_counts(web, "cycle2") == {"uptodate": 0, "late1": 0, "late": 0, "never": 0,
                                                   "failing": 0, "silent": 3}

        # --- the fibre school pulls by itself; the two others report once (what they hold: nothing)
        round1 = agent("run", "--root", str(roots[FIBRE]), "--once", "--ignore-windows")
        assert round1["ok"] and round1["pulled"]["cycle2"]["status"] == "updated", round1
        for u in (BOURG, HAMEAU):
            assert agent("checkin", "--root", str(roots[u]))["held"] == {}

        # --- a first tour brings v1 to the Bourg: it will hold an older release when v2 comes
        first_pk = plan_tour(web, "Tournée de septembre", [BOURG])
        disk = build_disk(web, first_pk, usb)
        applied = agent("bundle", "apply", str(disk), "--root", str(roots[BOURG]))
        assert applied["ok"], applied
        receipts = sorted((disk / "receipts").glob("*.json"))
        assert len(receipts) == 1
        status, url, page = web.post_files(f"/contenus/tournees/{first_pk}/accuses/", "receipts", receipts)
        assert status == 200 and url.endswith(f"/contenus/tournees/{first_pk}/"), page
        assert "1 accusé accepté, 0 refusé, 1 livraison nouvelle." in page
        assert tree(roots[BOURG] / "collections" / "cycle2" / "current") == tree(v1_dir)
        assert freshness_counts(web, "cycle2") == {"uptodate": 2, "late1": 0, "late": 0, "never": 1,
                                                   "failing": 0, "silent": 0}

        # --- the next tour is planned ahead: then the Bourg is up to date, only the Hameau needs v1
        second_pk = plan_tour(web, "Tournée d'octobre", [HAMEAU, BOURG])
        status, _url, page = web.get(f"/contenus/tournees/{second_pk}/")
        assert "cycle2 rien → v1" in page and "à jour" in page

        # --- v2 is published: the fibre school pulls it, the two others are late (one by one release, one never)
        publish(web, "cycle2-v2", "Nouveaux albums.")
        round2 = agent("run", "--root", str(roots[FIBRE]), "--once", "--ignore-windows")
        assert round2["ok"] and round2["pulled"]["cycle2"]["status"] == "updated", round2
        assert freshness_counts(web, "cycle2") == {"uptodate": 1, "late1": 1, "late": 0, "never": 1,
                                                   "failing": 0, "silent": 0}
        # what Préau would propose for the commune: its late offline schools, the same two, not the fibre one
        status, url, page = web.post("/contenus/tournees/", {"name": "Proposition", "commune": "42218"})
        assert status == 200 and re.search(r"/contenus/tournees/\d+/$", url), page
        stops = re.findall(r"<li><strong>([^<]+)</strong> <small>(\w+) ", html.unescape(page))
        assert sorted(stops) == [("École du Bourg", BOURG), ("École du Hameau", HAMEAU)], stops

        # --- ONE disk for both offline schools (the late one and the empty one), applied on each NAS
        # (the disk is built after the publication: it carries v2, and the tour says what each school gets)
        disk = build_disk(web, second_pk, usb)
        status, _url, page = web.get(f"/contenus/tournees/{second_pk}/")
        assert "cycle2 v1 → v2" in page and "cycle2 rien → v2" in page, page
        status, _url, sheet = web.get(f"/contenus/tournees/{second_pk}/feuille/")  # printable, in visiting order
        sheet = html.unescape(sheet)
        assert status == 200 and sheet.index("École du Hameau") < sheet.index("École du Bourg")
        bundle_id = re.search(r'<code id="bundle-id">(\w+)</code>', page)[1]
        assert bundle_id in sheet and disk.name == "preau-Tournée d'octobre"
        for u in (BOURG, HAMEAU):
            applied = agent("bundle", "apply", str(disk), "--root", str(roots[u]))
            assert applied["ok"], applied
        assert len(list((disk / "receipts").glob("*.json"))) == 2

        # --- back at the office: the receipts are ingested on the server (the disk's folder)
        out = cli("receipts-ingest", str(disk))
        assert "2 accusés acceptés, 0 refusé, 2 livraisons nouvelles" in out, out
        again = cli("receipts-ingest", str(disk))  # the same disk twice counts nothing twice
        assert "0 livraison nouvelle" in again, again
        status, _url, page = web.get(f"/contenus/tournees/{second_pk}/")
        assert '<dd id="tour-state">terminée</dd>' in page, page

        # the offline NAS check in later (e.g. over their slow line): still nothing counted twice
        for u in (BOURG, HAMEAU):
            assert agent("checkin", "--root", str(roots[u]))["held"] == {"cycle2": 2}

        # --- all three up to date: the dashboard, the stats, the trees, the deliveries
        assert freshness_counts(web, "cycle2") == {"uptodate": 3, "late1": 0, "late": 0, "never": 0,
                                                   "failing": 0, "silent": 0}
        stats = json.loads(cli("stats", "--json"))["contents"]
        assert stats["collections"]["cycle2"] == {"version": 2, "nodes": 3, "up_to_date": 3, "share": 1.0}, stats
        for u, root in roots.items():
            assert tree(root / "collections" / "cycle2" / "current") == tree(v2_dir), u
        deliveries = json.loads(cli("shell", "-c", DELIVERIES).strip().splitlines()[-1])
        assert deliveries == [
            ["École de la Fibre", 1, "online", ""],
            ["École de la Fibre", 2, "online", ""],
            ["École du Bourg", 1, "tour", "Tournée de septembre"],
            ["École du Bourg", 2, "tour", "Tournée d'octobre"],
            ["École du Hameau", 2, "tour", "Tournée d'octobre"],
        ]
