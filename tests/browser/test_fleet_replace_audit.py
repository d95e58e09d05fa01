"""Lifecycle, replacement and room audit in headless Chromium against a real server.

Setup through the real CLI: a school of its own with a class holding a deployed thin client and a
projector in their slots, and a spare thin client in stock at the depot. Then the technician
declares the thin client failed, is refused an invalid transition (shown in place, nothing
changed), replaces it from the asset page (the spare takes the slot); the director walks the
class with the room audit: scans the spare's QR URL, ticks the projector, scans a stray tag,
finishes; the differences are shown and the timelines say so.
"""

import json
import subprocess

import pytest

from .conftest import login

pytestmark = pytest.mark.browser

SETUP = r"""
import json
from datetime import date
from preau.accounts.models import User
from preau.fleet import services
from preau.fleet.models import DeviceModel, Slot
from preau.territory.codes import uai_check_letter
from preau.territory.models import School, SchoolClass, current_school_year

admin = User.objects.get(username="admin")
base = School.objects.order_by("uai").first()
uai = "0429991" + uai_check_letter("0429991")
school = School.objects.create(uai=uai, name="École E2E du Remplacement", commune=base.commune,
                               circonscription=base.circonscription)
klass = SchoolClass.objects.create(school=school, year=current_school_year(), name="CE2 E2E", level="CE2")
director = User.objects.get(username="directeur")
tc = DeviceModel.objects.create(category="thin_client", maker="E2E", name="Client léger", netboot=True)
pj = DeviceModel.objects.create(category="projector", maker="E2E", name="Projecteur")
slot_tc = Slot.objects.create(school=school, school_class=klass, category="thin_client", label="Client léger CE2 E2E")
slot_pj = Slot.objects.create(school=school, school_class=klass, category="projector", label="Projecteur CE2 E2E")
first = services.do_deploy(admin, services.do_create_asset(admin, model=tc, tag="E2E-TC-1", purchased_on=date(2024, 9, 1)), slot=slot_tc)
services.do_deploy(admin, services.do_create_asset(admin, model=pj, tag="E2E-PJ-1"), slot=slot_pj)
services.do_create_asset(admin, model=tc, tag="E2E-TC-2", purchased_on=date(2026, 9, 1))
print(json.dumps({"uai": uai, "director_school": director.school.uai, "class_id": klass.pk}))
"""

CHECK = r"""
import json
from preau.fleet.models import Asset, Slot
a, b = Asset.objects.get(tag="E2E-TC-1"), Asset.objects.get(tag="E2E-TC-2")
slot = Slot.objects.get(label="Client léger CE2 E2E")
print(json.dumps({"failed": a.status, "failed_site": a.site.name if a.site else None, "spare": b.status,
                  "slot": slot.asset.tag, "spare_kinds": list(b.events.values_list("kind", flat=True)),
                  "pj_kinds": list(Asset.objects.get(tag="E2E-PJ-1").events.values_list("kind", flat=True))}))
"""


def _shell(server, code: str, **replace) -> dict:
    for key, value in replace.items():
        code = code.replace(key, value)
    out = subprocess.run([*server["cli"], "shell", "-c", code], env=server["env"], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_replace_a_failed_thin_client_then_audit_the_room(browser, server):
    from playwright.sync_api import expect

    data = _shell(server, SETUP)
    expect.set_options(timeout=10_000)
    base = server["url"]

    ctx = browser.new_context(locale="fr-FR")
    tech = ctx.new_page()
    login(tech, server, "technicien")
    tech.goto(base + "/parc/appareils/E2E-TC-1/")
    # Declare the failure with a reason and a help-request reference.
    tech.get_by_label("Nouveau statut").select_option("failed")
    tech.get_by_label("Motif").fill("écran noir au démarrage")
    tech.get_by_role("button", name="Changer le statut").click()
    expect(tech.locator("h1")).to_contain_text("en panne")
    # Replace it from its page: the spare in stock is offered, nearest first.
    tech.get_by_role("link", name="Remplacer").click()
    tech.get_by_label("E2E-TC-2").check()
    tech.get_by_role("button", name="Remplacer").click()
    # We land on the replacement's page: deployed, and its timeline names the device it replaces.
    expect(tech.locator("h1")).to_contain_text("E2E-TC-2")
    expect(tech.locator("h1")).to_contain_text("déployé")
    expect(tech.locator("body")).to_contain_text("E2E-TC-1")
    # An invalid transition (a retired device cannot fail again) is refused, nothing changes.
    response = tech.request.post(base + "/parc/appareils/E2E-TC-1/statut/", form={"target": "failed", "reason": "essai"},
                                 headers={"X-CSRFToken": _csrf(ctx)})
    assert response.status == 400
    ctx.close()

    state = _shell(server, CHECK)
    assert state["failed"] == "retired" and state["failed_site"]
    assert state["spare"] == "deployed" and state["slot"] == "E2E-TC-2"
    assert "replaces" in state["spare_kinds"]

    # The room audit, by the fleet team on a phone-sized screen.
    phone = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844})
    page = phone.new_page()
    login(page, server, "technicien")
    page.goto(base + f"/parc/inventaires-salle/?school={data['uai']}")
    page.get_by_label("Salle de École E2E du Remplacement").select_option(str(data["class_id"]))
    page.get_by_role("button", name="Commencer").click()
    scan = page.get_by_label("Numéro d'inventaire (saisi ou scanné)")
    scan.fill(f"{base}/parc/appareils/E2E-TC-2/")  # what a phone reads from the QR label
    scan.press("Enter")
    expect(page.locator("#differences .card").first).to_contain_text("1")
    page.get_by_role("button", name="Cocher E2E-PJ-1").click()
    expect(page.get_by_role("button", name="Décocher E2E-PJ-1")).to_be_visible()
    scan.fill("SEM-99999")
    scan.press("Enter")
    expect(page.locator("#differences")).to_contain_text("numéro inconnu de Préau")
    page.get_by_role("button", name="Terminer l'inventaire").click()
    expect(page.locator("#differences")).to_contain_text("Inventaire terminé")
    cards = page.locator("#differences .card .n").all_inner_texts()
    assert cards == ["2", "0", "0", "1"]
    phone.close()
    state = _shell(server, CHECK)
    assert "audit" in state["pj_kinds"]


def _csrf(ctx) -> str:
    return next(c["value"] for c in ctx.cookies() if c["name"] == "csrftoken")
