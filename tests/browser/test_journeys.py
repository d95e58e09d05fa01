"""Main journeys in headless Chromium against a real server with the demo territory."""

import json
import subprocess

import pytest

from .conftest import login

pytestmark = pytest.mark.browser


def _director_school(server) -> tuple[str, str]:
    """(uai of the director's school, uai of another school, number of schools on the map), read through
    the real CLI (other browser tests add schools of their own, without coordinates)."""
    out = subprocess.run(
        [*server["cli"], "shell", "-c",
         "import json; from preau.accounts.models import User; from preau.territory.models import School; "
         "u=User.objects.get(username='directeur'); o=School.objects.exclude(pk=u.school_id).order_by('uai').first(); "
         "print(json.dumps([u.school.uai, o.uai, School.objects.filter(lat__isnull=False).count()]))"],
        env=server["env"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_director_sees_only_its_school_and_is_refused_another(page, server):
    mine, other, _total = _director_school(server)
    login(page, server, "directeur")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.get_by_role("link", name="Écoles", exact=True).click()
    rows = page.locator("#results tbody tr")
    assert rows.count() == 1
    assert mine in rows.first.inner_text()
    assert "1 école" in page.locator("#results").inner_text()
    rows.first.get_by_role("link").click()
    assert page.locator("h1").inner_text().endswith(f"({mine})")
    response = page.goto(f"{server['url']}/territoire/ecoles/{other}/")
    assert response.status == 404
    assert "Page introuvable" in page.locator("h1").inner_text()
    # The director cannot open the import page either.
    response = page.goto(f"{server['url']}/territoire/imports/")
    assert response.status == 403


def test_admin_sees_the_map_with_all_schools(page, server):
    _mine, _other, total = _director_school(server)
    login(page, server, "admin")
    page.get_by_role("link", name="Carte", exact=True).click()
    svg = page.locator("svg.map")
    svg.wait_for()
    assert svg.locator("circle[data-uai]").count() == total
    assert svg.locator("path.commune").count() == 50
    box = svg.bounding_box()
    assert box["width"] > 400 and box["height"] > 200
    legend = page.locator(".legend").inner_text()
    assert "raccordée à la fibre" in legend
    page.screenshot(path=str(server["env"]["PREAU_DATA_DIR"]) + "/map.png")


def test_commune_staff_edits_connectivity_with_htmx(page, server):
    login(page, server, "mairie")
    page.get_by_role("link", name="Écoles", exact=True).click()
    page.locator("#results tbody tr").first.get_by_role("link").click()
    page.get_by_role("link", name="Modifier la connectivité").click()
    form = page.locator("form#connectivity")
    form.wait_for()
    form.get_by_label("Accès").select_option("satellite")
    form.get_by_label("Débit (Mbit/s)").fill("50")
    url_before = page.url
    form.get_by_role("button", name="Enregistrer").click()
    page.get_by_text("Connectivité enregistrée.").wait_for()
    assert page.url == url_before  # swapped in place by htmx, no reload
    assert "satellite" in page.locator("#connectivity").inner_text()


def test_keyboard_skip_link_and_search(page, server):
    login(page, server, "admin")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert "Aller au contenu" in focused
    page.get_by_label("Rechercher une école ou une commune").fill("Jules-Ferry")
    page.keyboard.press("Enter")
    page.wait_for_url("**/recherche/**")
    assert page.locator("main li a").count() >= 1
