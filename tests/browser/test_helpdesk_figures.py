"""The assistance as the agglomeration and a commune see it at a glance, in headless Chromium against a real
server with the demo (whose year of requests `preau demo` has already turned into stored figures): the
dashboard's Assistance section, then the figures page (charts, filters, CSV export)."""

import csv
import io
from pathlib import Path

import pytest

from .conftest import login

pytestmark = pytest.mark.browser


def test_dashboard_then_figures_page_with_filters_and_export(page, server):
    login(page, server, "technicien")
    section = page.locator("#hd-table")
    section.wait_for()
    heading = page.locator("#hd-title").inner_text()
    assert heading.startswith("Assistance : ") and "demandes ouvertes" in heading
    open_now = int(heading.split(":")[1].split()[0].replace("\u202f", "").replace("\xa0", ""))
    shown = sum(int(row.locator("td.num").first.inner_text().replace("\u202f", "").replace("\xa0", ""))
                for row in section.locator("tbody tr").all())
    assert open_now == shown > 0
    assert page.locator(".bar span.st-new").count() == 1
    page.get_by_role("link", name="Chiffres de l'assistance").click()
    page.wait_for_url("**/assistance/chiffres/**")
    assert "Chiffres calculés le" in page.locator("#computed-at").inner_text()
    total = int(page.locator('dd[data-key="total"]').inner_text().replace("\u202f", "").replace("\xa0", ""))
    assert total > 100  # a school year of demo requests
    chart = page.locator("svg[aria-labelledby='c-resolve-title']")
    chart.wait_for()
    assert chart.locator("rect").count() >= 5 and chart.bounding_box()["width"] > 300
    # Every year together holds at least the current one; a commune narrows it.
    page.locator("select[name=annee]").select_option("tout")
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_url("**annee=tout**")
    every_year = int(page.locator('dd[data-key="total"]').inner_text().replace("\u202f", "").replace("\xa0", ""))
    assert every_year >= total
    page.locator("select[name=commune]").select_option(index=1)
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_url("**commune=**")
    one_commune = int(page.locator('dd[data-key="total"]').inner_text().replace("\u202f", "").replace("\xa0", ""))
    assert one_commune < every_year
    assert page.locator("#table-commune tbody tr").count() <= 1
    # The category table as CSV, what the page shows.
    with page.expect_download() as download:
        page.locator("#table-category").get_by_role("link", name="CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:3] == ["Catégorie", "Demandes", "Résolues"]
    assert sum(int(r[1]) for r in rows[1:]) == one_commune


def test_commune_staff_sees_its_figures_and_a_school_director_is_refused(page, server):
    login(page, server, "mairie")
    page.goto(server["url"] + "/assistance/chiffres/")
    assert "Chiffres de l'assistance" in page.locator("h1").inner_text()
    assert page.locator('dd[data-key="total"]').inner_text().strip() != ""
    page.context.clear_cookies()
    login(page, server, "directeur")
    if page.locator("#hd-title").count():  # the school's open or recent requests: a link to them, no figures
        assert "/assistance/ecole/" in page.locator("#hd-summary + p a.button").get_attribute("href")
        assert page.get_by_role("link", name="Chiffres de l'assistance").count() == 0
    response = page.goto(server["url"] + "/assistance/chiffres/")
    assert response.status == 403
