"""Issue 6 acceptance, in headless Chromium against a real server loaded with `preau demo`:
a teacher files a request about a projector in under 10 interactions; it lands in the agglomeration's
queue; a technician replaces the device from the request (htmx); the teacher is notified by e-mail and
closes it with a rating; the school page and the device history show the request."""

import json
import re
import subprocess

import pytest

from .conftest import login

pytestmark = pytest.mark.browser

SETUP = r"""
import json
from preau.accounts.models import User
from preau.fleet import services
from preau.fleet.models import DeviceModel, Slot
from preau.territory.models import SchoolClass, current_school_year

admin = User.objects.get(username="admin")
school = User.objects.get(username="enseignant").school
klass = SchoolClass.objects.create(school=school, year=current_school_year(), name="CM1 E2E Assistance", level="CM1")
model = DeviceModel.objects.create(category="projector", maker="E2E", name="Projecteur assistance")
slot = Slot.objects.create(school=school, school_class=klass, category="projector", label="Projecteur CM1 E2E")
services.do_deploy(admin, services.do_create_asset(admin, model=model, tag="E2E-HD-PJ1"), slot=slot)
services.do_create_asset(admin, model=model, tag="E2E-HD-PJ2", school=school)  # a spare in the school's stock
print(json.dumps({"uai": school.uai, "class_id": klass.pk}))
"""

CHECK = r"""
import json
from preau.helpdesk.models import Ticket
t = Ticket.objects.filter(device__tag="E2E-HD-PJ1").select_related("replacement", "device").get()
print(json.dumps({"pk": t.pk, "party": t.party, "status": t.status, "satisfaction": t.satisfaction,
                  "replacement": t.replacement.tag if t.replacement else None, "device_status": t.device.status}))
"""


def _shell(server, code: str) -> dict:
    out = subprocess.run([*server["cli"], "shell", "-c", code], env=server["env"], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


class Counter:
    """Counts what the user does (page opened, click, choice, typing)."""

    def __init__(self):
        self.n = 0

    def __call__(self, result=None):
        self.n += 1
        return result


def test_projector_request_from_filing_to_closing(browser, server):
    from playwright.sync_api import expect

    data = _shell(server, SETUP)
    expect.set_options(timeout=10_000)
    base = server["url"]

    teacher_ctx = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844})  # a phone
    teacher = teacher_ctx.new_page()
    login(teacher, server, "enseignant")
    did = Counter()
    did(teacher.goto(base + "/assistance/nouvelle/"))
    did(teacher.get_by_text("Le vidéoprojecteur ou l'écran interactif n'affiche rien").click())
    did(teacher.get_by_label("Classe", exact=True).select_option(str(data["class_id"])))
    # the class's only projector is pre-selected by the htmx fragment
    expect(teacher.locator("#id_device")).to_have_value("E2E-HD-PJ1")
    did(teacher.get_by_label("Décrivez ce qui se passe").fill("L'image reste noire <script>alert(1)</script>"))
    did(teacher.get_by_role("button", name="Envoyer la demande").click())
    expect(teacher.locator("#ticket-party")).to_contain_text("Agglomération")
    assert did.n < 10, did.n
    expect(teacher.locator("#ticket-description")).to_contain_text("<script>alert(1)</script>")  # shown as text
    state = _shell(server, CHECK)
    reference = f"AS-{state['pk']}"
    assert state["party"] == "agglomeration"

    # The technician finds it in the agglomeration's queue and replaces the projector from the request.
    tech_ctx = browser.new_context(locale="fr-FR")
    tech = tech_ctx.new_page()
    login(tech, server, "technicien")
    tech.goto(base + f"/assistance/file/?school={data['uai']}")
    tech.get_by_role("link", name=reference).click()
    expect(tech.locator("#replace")).to_contain_text("E2E-HD-PJ2")
    tech.locator("#replace").get_by_label(re.compile("E2E-HD-PJ2")).check()
    tech.get_by_role("button", name="Remplacer l'appareil").click()
    expect(tech.locator("#timeline")).to_contain_text("E2E-HD-PJ2")
    tech.get_by_label("Nouveau statut").select_option("resolved")
    tech.get_by_role("button", name="Changer le statut").click()
    expect(tech.locator("#ticket-status")).to_contain_text("résolue")
    state = _shell(server, CHECK)
    assert state["replacement"] == "E2E-HD-PJ2" and state["device_status"] != "deployed"

    # The teacher was told by e-mail (console backend: the server's log), then closes and rates.
    log = server["log"].read_text()
    assert "enseignant@demo.preau.local" in log and reference in log
    teacher.goto(base + f"/assistance/{state['pk']}/")
    teacher.get_by_role("button", name="C'est réglé : clore la demande").click()
    expect(teacher.locator("#ticket-status")).to_contain_text("close")
    teacher.get_by_label("5", exact=True).check()
    teacher.get_by_role("button", name="Donner mon avis").click()
    expect(teacher.locator("body")).to_contain_text("Merci pour votre avis")
    state = _shell(server, CHECK)
    assert state["status"] == "closed" and state["satisfaction"] == 5

    # The school page and the device histories show it.
    teacher.goto(base + f"/territoire/ecoles/{data['uai']}/")
    expect(teacher.locator("#helpdesk")).to_contain_text(reference)
    tech.goto(base + "/parc/appareils/E2E-HD-PJ1/")
    expect(tech.locator("#helpdesk")).to_contain_text(reference)
    expect(tech.locator("body")).to_contain_text(reference)
    tech.goto(base + "/parc/appareils/E2E-HD-PJ2/")
    expect(tech.locator("#helpdesk")).to_contain_text(reference)
    teacher_ctx.close()
    tech_ctx.close()
