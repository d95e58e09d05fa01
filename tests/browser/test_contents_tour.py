"""An operator tour from publication to freshness, in headless Chromium against a real server (issue 5).

The test makes two schools of its own (no known connectivity: offline, served by tours) beside the demo's, and
two NAS folders enrolled with the real `preau-nas` agent using codes the manager issues in the browser. Then the
manager (demo "admin"): creates a collection and publishes its first release from a server folder (job page);
sees on the freshness dashboard that no school is up to date; plans a tour of the two schools; builds the disk
and downloads it from the job's progress page; the disk is really applied on both NAS (`preau-nas bundle
apply`), which write their signed receipts onto it; the manager uploads the receipts on the tour page and sees
the dashboard count both schools up to date.
"""

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from .conftest import login

pytestmark = pytest.mark.browser

SLUG = "tournee-e2e"
SETUP = r"""
import json
from preau.territory.codes import uai_check_letter
from preau.territory.models import School
model = School.objects.filter(circonscription__isnull=False, lat__isnull=False).order_by("uai").first()
uais = []
for digits, name, dlat in (("0429971", "École E2E des Collines", 0.01), ("0429972", "École E2E du Vallon", 0.02)):
    uai = digits + uai_check_letter(digits)
    School.objects.create(uai=uai, name=name, commune=model.commune, circonscription=model.circonscription,
                          lat=model.lat + dlat, lon=model.lon)
    uais.append(uai)
print(json.dumps(uais))
"""


def _agent(*args: str) -> dict:
    exe = Path(sys.executable).with_name("preau-nas")
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "preau_nas"]
    r = subprocess.run([*cli, *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"preau-nas {' '.join(args)}: {r.stdout}\n{r.stderr}"
    return json.loads(r.stdout)


def _tree(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): "dir" if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


def test_publish_plan_download_apply_upload_and_freshness(browser, server, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    base = server["url"]
    out = subprocess.run([*server["cli"], "shell", "-c", SETUP], env=server["env"], capture_output=True, text=True,
                         check=True)
    uais = json.loads(out.stdout.strip().splitlines()[-1])
    # the release's folder, copied onto the server under PREAU_CONTENT_IMPORT_ROOT (default DATA_DIR/contents/incoming)
    src = Path(server["env"]["PREAU_DATA_DIR"]) / "contents" / "incoming" / f"{SLUG}-v1"
    (src / "albums").mkdir(parents=True)
    (src / "albums" / "conte.txt").write_text("Il était une fois une tournée… " * 2000, encoding="utf-8")
    (src / "image.bin").write_bytes(bytes(range(256)) * 8000)

    ctx = browser.new_context(locale="fr-FR", accept_downloads=True)
    page = ctx.new_page()
    login(page, server, "admin")

    # --- the manager creates the collection and publishes v1 from the server folder (a job with a progress bar)
    page.goto(base + "/contenus/collections/")
    create = page.locator("form[action$='/contenus/collections/']")
    create.locator("input[name=slug]").fill(SLUG)  # (its label's help text also says "Nom …")
    create.locator("input[name=name]").fill("Tournée E2E")
    create.get_by_role("button", name="Créer la collection").click()
    page.wait_for_url(f"{base}/contenus/collections/{SLUG}/")
    publish = page.locator("form[action$='/publier/']")
    publish.get_by_label("Dossier sur le serveur").fill(src.name)
    publish.get_by_role("button", name="Publier").click()
    page.wait_for_url("**/taches/*/")
    expect(page.locator(".job-status")).to_have_attribute("data-status", "done")
    expect(page.locator("main, body").first).to_contain_text(f"Version 1 de « {SLUG} » publiée")

    # --- the two schools' NAS are enrolled with codes issued in the browser, and report (they hold nothing)
    roots = {}
    for uai in uais:
        page.goto(f"{base}/contenus/nas/{uai}/")
        page.get_by_role("button", name="Nouveau code d'enrôlement").click()
        code = page.locator("#enrolment-code").inner_text().strip()
        roots[uai] = tmp_path / "nas" / uai
        assert _agent("enrol", "--root", str(roots[uai]), "--server", base, "--code", code)["collections"]
        assert _agent("checkin", "--root", str(roots[uai]))["held"] == {}

    # --- the dashboard: nobody holds the new collection yet; both schools are in the "never delivered" list
    page.goto(f"{base}/contenus/fraicheur/?collection={SLUG}")
    section = page.locator(f"section[data-slug='{SLUG}']")
    expect(section.locator("tr[data-state='uptodate'] td.num").first).to_have_text("0")
    late = page.locator("#late")
    for uai in uais:
        expect(late.locator("tr", has_text=uai)).to_have_attribute("data-state", "never")

    # --- a tour of the two schools
    page.goto(base + "/contenus/tournees/")
    page.get_by_label("Nom de la tournée").fill("Tournée E2E navigateur")
    page.get_by_label("Écoles (UAI)").fill("\n".join(uais))
    page.get_by_role("button", name="Prévoir").click()
    page.wait_for_url("**/contenus/tournees/*/")
    expect(page.locator(".messages")).to_contain_text("Tournée « Tournée E2E navigateur » prévue.")
    expect(page.locator("#tour-state")).to_have_text("prévue")
    needs = 0
    for uai in uais:  # new schools: the new collection, and the demo's collections they receive too
        stop = page.locator("ol li", has_text=uai)
        expect(stop).to_contain_text(f"{SLUG} rien → v1")
        needs += stop.inner_text().count("→")

    # --- the disk: built as a job, downloaded from the job's page once done
    page.get_by_role("button", name="Construire le disque").click()
    page.wait_for_url("**/taches/*/")
    download_link = page.locator("#bundle-download")
    expect(download_link).to_be_visible()  # htmx swaps it in when the job ends
    expect(page.locator(".job-status")).to_have_attribute("data-status", "done")
    with page.expect_download() as info:
        download_link.click()
    archive = tmp_path / "disque.tar"
    info.value.save_as(archive)
    usb = tmp_path / "usb"
    with tarfile.open(archive) as tar:
        tar.extractall(usb, filter="data")
    (disk,) = [p for p in usb.iterdir() if (p / "preau-bundle.json").exists()]

    # --- on tour: each NAS applies the disk and writes its signed receipt onto it
    for uai in uais:
        assert _agent("bundle", "apply", str(disk), "--root", str(roots[uai]))["ok"]
        assert _tree(roots[uai] / "collections" / SLUG / "current") == _tree(src)
    receipts = sorted((disk / "receipts").glob("*.json"))
    assert len(receipts) == 2

    # --- back at the office: the receipts are uploaded on the tour page
    page.goto(page.url)  # the job page
    page.get_by_role("link", name="Retour à la tournée").click()
    page.wait_for_url("**/contenus/tournees/*/")
    page.get_by_label("Fichiers du dossier receipts/ du disque").set_input_files([str(p) for p in receipts])
    page.get_by_role("button", name="Relever").click()
    expect(page.locator(".messages")).to_contain_text(
        f"2 accusés acceptés, 0 refusé, {needs} livraison{'s' if needs > 1 else ''} nouvelle{'s' if needs > 1 else ''}.")
    expect(page.locator("#tour-state")).to_have_text("terminée")
    deliveries = page.locator("table").last.locator("tbody tr")
    expect(deliveries).to_have_count(needs)  # one per school and release, each once
    for name in ("École E2E des Collines", "École E2E du Vallon"):
        expect(deliveries.filter(has_text=name).filter(has_text="Tournée E2E")).to_contain_text("v1")
    shutil.rmtree(usb)

    # --- the dashboard counts both schools up to date; they left the list of late schools
    page.goto(f"{base}/contenus/fraicheur/?collection={SLUG}")
    expect(section.locator("tr[data-state='uptodate'] td.num").first).to_have_text("2")
    for uai in uais:
        expect(page.locator("#late tr", has_text=uai)).to_have_count(0)
        expect(page.locator(f"circle[data-uai='{uai}']")).to_have_attribute("data-state", "uptodate")
    ctx.close()
