"""One requalification batch from creation to deployment, in headless Chromium against a real server.

The test makes what it needs through the real CLI (`preau shell -c`), beside whatever the demo fleet
holds: a school of its own with two PCs deployed in class slots (one eligible, one 32-bit), a workshop
"Atelier E2E" whose member is the demo workshop user "atelier", and a batch at another workshop that
"atelier" must not see. Then: the admin creates the batch from the school's selection and records the
pick-up; the workshop receives it, records erasure certificates, converts one PC and rejects the other
to DEEE recycling (htmx swaps each device's rows), returns it; the admin deploys; the converted PC is a
thin client with the same tag, back in its slot, and its timeline names the batch; the report opens.
"""

import json
import re
import subprocess

import pytest

from .conftest import login

pytestmark = pytest.mark.browser

SETUP = r"""
import json
from datetime import date
from preau.accounts.models import User
from preau.fleet import services
from preau.fleet.models import DeviceModel, RequalificationBatch, Site, Slot
from preau.territory.codes import uai_check_letter
from preau.territory.models import School, SchoolClass, current_school_year

admin = User.objects.get(username="admin")
atelier = User.objects.get(username="atelier")
model_school = School.objects.filter(circonscription__isnull=False).order_by("uai").first()
uai = "0429990" + uai_check_letter("0429990")
school = School.objects.create(uai=uai, name="École E2E des Requalifiés", commune=model_school.commune,
                               circonscription=model_school.circonscription)
klass = SchoolClass.objects.create(school=school, year=current_school_year(), name="CM1 E2E", level="CM1")
good = DeviceModel.objects.create(category="desktop", maker="E2E", name="Bureau 64 bits", cpu_64bit=True,
                                  ram_mb=4096, disk_gb=250, netboot=True, released_year=2019)
old = DeviceModel.objects.create(category="desktop", maker="E2E", name="Bureau 32 bits", cpu_64bit=False,
                                 ram_mb=1024, disk_gb=80, netboot=True, released_year=2008)
workshop = Site.objects.create(name="Atelier E2E", kind="workshop", address="1 rue des Tests")
workshop.members.add(atelier)
other = Site.objects.create(name="Atelier E2E Ailleurs", kind="workshop")
assets = {}
for tag, model, bought in (("E2E-PC-1", good, date(2020, 9, 1)), ("E2E-PC-2", old, date(2008, 9, 1)),
                           ("E2E-PC-3", good, date(2020, 9, 1))):
    slot = Slot.objects.create(school=school, school_class=klass, category="desktop", label="Poste " + tag)
    asset = services.do_create_asset(admin, model=model, tag=tag, serial=tag + "-SN", purchased_on=bought)
    assets[tag] = services.do_deploy(admin, asset, slot=slot)
elsewhere = services.do_create_batch(admin, workshop=other, assets=[assets["E2E-PC-3"]])
hidden = list(RequalificationBatch.objects.exclude(workshop__members=atelier).values_list("reference", flat=True))
print(json.dumps({"uai": uai, "hidden": hidden, "elsewhere": elsewhere.reference}))
"""


def _setup(server) -> dict:
    out = subprocess.run([*server["cli"], "shell", "-c", SETUP], env=server["env"], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _row(page, tag):
    return page.locator("tbody.item", has=page.locator("th", has_text=tag))


def test_batch_from_creation_to_deployment(browser, server):
    from playwright.sync_api import expect

    data = _setup(server)
    expect.set_options(timeout=10_000)
    base = server["url"]

    # --- the fleet team creates the batch from the school's selection, and records the pick-up
    admin_ctx = browser.new_context(locale="fr-FR")
    admin = admin_ctx.new_page()
    login(admin, server, "admin")
    admin.goto(base + "/parc/lots/nouveau/")
    admin.get_by_label("École (UAI)").fill(data["uai"])
    admin.get_by_label("École (UAI)").press("Tab")  # change -> htmx swaps the candidates in
    candidates = admin.locator("#candidates")
    expect(candidates).to_contain_text("Appareils candidats de École E2E des Requalifiés")
    expect(candidates.locator("input[name=assets]")).to_have_count(2)  # E2E-PC-3 is in another batch
    expect(candidates.get_by_role("checkbox", name="E2E-PC-1", exact=True)).to_be_checked()
    expect(candidates.get_by_role("checkbox", name="E2E-PC-2", exact=True)).to_be_checked()
    expect(candidates).to_contain_text("processeur 32 bits")
    admin.screenshot(path=str(server["env"]["PREAU_DATA_DIR"]) + "/batch-new.png", full_page=True)
    candidates.get_by_label("Atelier partenaire").select_option(label="Atelier E2E")
    candidates.get_by_label("Notes").fill("Tournée E2E")
    candidates.get_by_role("button", name="Créer le lot").click()
    admin.wait_for_url(re.compile(r".*/parc/lots/LOT-\d{4}-\d{3}/$"))
    reference = admin.url.rstrip("/").rsplit("/", 1)[1]
    expect(admin.locator(".messages")).to_contain_text(f"Lot {reference} créé avec 2 appareils")
    expect(admin.locator("#batch-state")).to_have_text("constitué")
    admin.get_by_role("button", name="Enregistrer l'enlèvement").click()
    expect(admin.locator("#batch-state")).to_have_text("enlevé")

    # --- the workshop sees only its own batches, receives this one and works on each device
    ws_ctx = browser.new_context(locale="fr-FR")
    ws = ws_ctx.new_page()
    login(ws, server, "atelier")
    ws.goto(base + "/parc/lots/")
    listing = ws.locator("#results")
    expect(listing).to_contain_text(reference)
    assert data["elsewhere"] in data["hidden"]
    for hidden in data["hidden"]:
        expect(listing).not_to_contain_text(hidden)
    assert ws.goto(f"{base}/parc/lots/{data['elsewhere']}/").status == 404
    ws.goto(base + "/parc/lots/")
    ws.get_by_role("link", name=reference, exact=True).click()
    ws.get_by_role("button", name="Réceptionner le lot à l'atelier").click()
    expect(ws.locator("#batch-state")).to_have_text("réceptionné à l'atelier")
    pc1, pc2 = _row(ws, "E2E-PC-1"), _row(ws, "E2E-PC-2")
    expect(pc1.locator("td.eligibility")).to_contain_text("éligible")
    expect(pc2.locator("td.eligibility")).to_contain_text("non éligible")
    expect(pc2.locator("td.eligibility")).to_contain_text("processeur 32 bits")

    # Converting before any erasure is refused in place (HTTP 400, the row says why).
    url_before = ws.url
    pc1.get_by_role("button", name="Convertir E2E-PC-1 en client léger").click()
    expect(pc1.get_by_role("alert")).to_contain_text("il faut d'abord un certificat d'effacement vérifié")
    assert ws.url == url_before

    def erase(row, tag, method, serial):
        row.get_by_text(f"Certificat d'effacement de {tag}").click()
        row.get_by_label("Numéro de série du disque").fill(serial)
        row.get_by_label("Modèle du disque").fill("Seagate ST250")
        row.get_by_label("Méthode (NIST SP 800-88)").select_option(method)
        row.get_by_label("Outil").fill("nwipe 0.34")
        row.get_by_label("Motif d'écriture").fill("PRNG")
        row.get_by_label("Vérification").select_option("passed")
        row.get_by_role("button", name="Enregistrer le certificat").click()
        expect(row.locator("td.certificates")).to_contain_text("EFF-")
        expect(row.get_by_role("status")).to_contain_text("enregistré")

    erase(pc1, "E2E-PC-1", "purge", "5VMABC01")
    expect(pc1.locator("td.certificates")).to_contain_text("purge (purge), nwipe 0.34, PRNG, 1 passe")
    pc1.get_by_role("button", name="Convertir E2E-PC-1 en client léger").click()
    expect(pc1.locator("td.result")).to_have_text("converti en client léger")

    erase(pc2, "E2E-PC-2", "destroy", "5VMABC02")
    pc2.get_by_text("Rejeter E2E-PC-2 vers le recyclage DEEE").click()
    pc2.get_by_label("Poids (kg)").fill("7.5")
    pc2.get_by_label("Éco-organisme / recycleur").fill("Ecologic")
    pc2.get_by_label("Bordereau / certificat").fill("BSD-E2E-1")
    pc2.get_by_role("button", name="Rejeter vers le recyclage").click()
    expect(pc2.locator("td.result")).to_contain_text("rejeté (recyclage)")
    expect(pc2.locator("td.result")).to_contain_text("Ecologic, BSD-E2E-1")
    # The progress bar followed (out-of-band swap), without a reload.
    expect(ws.locator("#batch-progress-text")).to_contain_text("2 / 2 appareils traités (100 %)")
    assert ws.locator("#batch-bar").get_attribute("value") == "2"
    assert ws.url == url_before
    ws.screenshot(path=str(server["env"]["PREAU_DATA_DIR"]) + "/batch-received.png", full_page=True)

    ws.get_by_role("button", name="Retourner le lot").click()
    expect(ws.locator("#batch-state")).to_have_text("retourné")
    expect(ws.get_by_role("button", name="Déployer le lot")).to_have_count(0)  # the fleet team deploys
    ws_ctx.close()

    # --- the fleet team deploys: the thin client goes back into its slot, same tag, same history
    admin.reload()
    admin.get_by_role("button", name="Déployer le lot").click()
    expect(admin.locator("#batch-state")).to_have_text("clos (déployé)")
    admin.goto(base + "/parc/appareils/E2E-PC-1/")
    expect(admin.locator("h1")).to_contain_text("E2E-PC-1")
    expect(admin.locator("h1")).to_contain_text("client léger")
    facts = admin.locator("section[aria-labelledby=h-id]")
    expect(facts).to_contain_text("client léger")
    expect(facts).to_contain_text("requalifié")
    expect(admin.locator("section[aria-labelledby=h-place]")).to_contain_text("Poste E2E-PC-1")
    timeline = admin.locator("table.timeline")
    expect(timeline).to_contain_text(reference)
    expect(timeline).to_contain_text("requalifié")

    # --- the report
    admin.goto(f"{base}/parc/lots/{reference}/")
    admin.get_by_role("link", name="Rapport imprimable").click()
    expect(admin.locator("h1")).to_have_text(f"Rapport du lot de requalification {reference}")
    expect(admin.locator("#total-converted")).to_have_text("1")
    expect(admin.locator("#total-rejected")).to_have_text("1")
    expect(admin.locator("#total-weight")).to_contain_text("7,50 kg")
    admin.screenshot(path=str(server["env"]["PREAU_DATA_DIR"]) + "/batch-report.png", full_page=True)
    response = admin.request.get(f"{base}/parc/lots/{reference}/rapport.pdf")
    assert response.status == 200 and response.body().startswith(b"%PDF")
    admin_ctx.close()
