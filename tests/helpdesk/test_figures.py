"""The figures page: medians in working hours, breach rates per category, party and commune, satisfaction,
open requests by status; school-year and commune filters; scopes; exports; a fixed number of queries."""

import io

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from preau.helpdesk import figures, services
from preau.helpdesk.lifecycle import Status
from preau.helpdesk.models import Ticket

from .hd import at, file

URL = reverse("helpdesk:figures")


@pytest.fixture(autouse=True)
def _no_figures_cache(settings):
    settings.PREAU_HELPDESK_FIGURES_CACHE_SECONDS = 0


@pytest.fixture
def tickets(cast):
    t1 = file(cast.teacher_sa1, cast.sa1, now=at(2026, 11, 16, 9))
    services.do_assign(cast.technician, t1, cast.technician, now=at(2026, 11, 16, 10))
    services.do_change_status(cast.technician, t1, Status.RESOLVED, now=at(2026, 11, 16, 11))
    services.do_rate(cast.teacher_sa1, t1, 5)
    t2 = file(cast.director_sb1, cast.sb1, now=at(2026, 11, 16, 9))
    services.do_change_status(cast.technician, t2, Status.IN_PROGRESS, now=at(2026, 11, 16, 9, 30))
    services.do_change_status(cast.technician, t2, Status.RESOLVED, now=at(2026, 11, 18, 15))
    services.do_rate(cast.director_sb1, t2, 2)
    t3 = file(cast.teacher_sa1, cast.sa1, "electricity", now=at(2026, 11, 17, 9))
    old = file(cast.teacher_sa1, cast.sa1, now=at(2025, 11, 17, 9))
    services.do_change_status(cast.technician, old, Status.RESOLVED, now=at(2025, 11, 17, 10))
    return t1, t2, t3, old


def rows(response, key):
    return {r.label: r for r in response.context["data"].tables[key]}


@pytest.mark.django_db
def test_stored_working_hours(tickets):
    t1, t2, _t3, _old = (Ticket.objects.get(pk=t.pk) for t in tickets)
    assert (t1.take_charge_hours, t1.resolve_hours) == (1.0, 2.0)
    assert (t2.take_charge_hours, t2.resolve_hours) == (0.5, 22.0) and t2.resolve_breached  # 16 h allowed


@pytest.mark.django_db
def test_agglomeration_sees_the_school_year(cast, login, tickets):
    response = login(cast.technician).get(URL, {"annee": "2026"})
    assert response.status_code == 200
    data = response.context["data"]
    assert (data.total, data.resolved, data.breached, data.breach_rate) == (3, 2, 1, 33.3)
    assert (data.take_median, data.resolve_median) == (0.5, 2.0)
    assert data.satisfaction_avg == 3.5 and data.satisfaction == [(1, 0), (2, 1), (3, 0), (4, 0), (5, 1)]
    assert dict((s, n) for s, _l, n in data.open_by_status)[Status.NEW] == 1
    by_category = rows(response, "category")
    projector = by_category["Le vidéoprojecteur ou l'écran interactif n'affiche rien"]
    assert (projector.total, projector.breached, projector.take_median, projector.resolve_median) == (2, 1, 0.5, 2.0)
    electricity = by_category["Prise électrique, disjoncteur ou éclairage"]
    assert (electricity.total, electricity.resolved, electricity.resolve_median) == (1, 0, None)
    by_commune = rows(response, "commune")
    assert by_commune["Saint-Chamond"].breach_rate == 100.0 and by_commune["Saint-Étienne"].total == 2
    assert set(rows(response, "party")) == {"Agglomération (équipe numérique)", "Commune de l'école"}
    html = response.content.decode()
    assert "<svg" in html and "<rect" in html and "<script" not in html.split("<main", 1)[-1]


@pytest.mark.django_db
def test_year_filter_and_all_years(cast, login, tickets):
    client = login(cast.committee)
    assert client.get(URL, {"annee": "2025"}).context["data"].total == 1
    assert client.get(URL, {"annee": "tout"}).context["data"].total == 4
    assert client.get(URL, {"annee": "1999"}).context["year"] == client.get(URL).context["year"]


@pytest.mark.django_db
def test_commune_staff_sees_its_communes_only(cast, login, tickets):
    client = login(cast.commune_a_staff)
    response = client.get(URL, {"annee": "2026"})
    assert response.status_code == 200
    assert response.context["data"].total == 2
    assert set(rows(response, "commune")) == {"Saint-Étienne"}
    assert client.get(URL, {"commune": "42207"}).status_code == 404
    assert client.get(URL, {"commune": "42218", "annee": "2026"}).context["data"].total == 2


@pytest.mark.django_db
def test_advisor_sees_its_circonscription(cast, login, tickets):
    response = login(cast.advisor_c1).get(URL, {"annee": "2026"})
    assert response.status_code == 200 and response.context["data"].total == 2


@pytest.mark.django_db
def test_commune_filter_for_the_agglomeration(cast, login, tickets):
    response = login(cast.admin).get(URL, {"annee": "2026", "commune": "42207"})
    assert response.context["data"].total == 1


@pytest.mark.django_db
def test_school_roles_and_workshops_are_refused(cast, login, client, tickets):
    for user in (cast.teacher_sa1, cast.director_sa1, cast.workshop):
        assert login(user).get(URL).status_code == 403
    client.logout()
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse(settings.LOGIN_URL))


@pytest.mark.django_db
def test_exports(cast, login, tickets):
    client = login(cast.technician)
    response = client.get(URL, {"annee": "2026", "tableau": "category", "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("Catégorie;Demandes;Résolues")
    assert "Le vidéoprojecteur ou l'écran interactif n'affiche rien;2;2;1;50.0;0.5;2.0" in lines
    response = client.get(URL, {"annee": "2026", "tableau": "satisfaction", "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert list(sheet.iter_rows(values_only=True)) == [("Note sur 5", "Demandes"), (1, 0), (2, 1), (3, 0), (4, 0), (5, 1)]
    response = client.get(URL, {"tableau": "status", "format": "csv"})
    assert "nouvelle;1" in b"".join(response.streaming_content).decode("utf-8-sig")
    assert client.get(URL, {"tableau": "nope", "format": "csv"}).status_code == 404
    assert login(cast.teacher_sa1).get(URL, {"tableau": "status", "format": "csv"}).status_code == 403


@pytest.mark.django_db
def test_medians_per_group_on_several_values(cast, tickets):
    t1, t2, t3, old = tickets
    for pk, hours in ((t1.pk, 1.0), (t2.pk, 3.0), (t3.pk, 7.0), (old.pk, 5.0)):
        Ticket.objects.filter(pk=pk).update(resolve_hours=hours)
    medians = figures.group_medians(Ticket.objects.all(), "party", "resolve_hours")
    assert medians == {"agglomeration": 3.0, "commune": 7.0}  # agglomeration: 1, 3, 5 -> 3
    Ticket.objects.filter(pk=old.pk).update(resolve_hours=None)
    assert figures.group_medians(Ticket.objects.all(), "party", "resolve_hours")["agglomeration"] == 1.0
    assert figures.median(Ticket.objects.all(), "resolve_hours") == 3.0


@pytest.mark.django_db
def test_bounded_queries_whatever_the_data(cast, login, tickets):
    client = login(cast.technician)
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL, {"annee": "2026"}).status_code == 200
    for i in range(12):
        ticket = file(cast.director_sb1, cast.sb1, "wifi" if i % 2 else "printer", now=at(2026, 11, 19, 9, i))
        services.do_change_status(cast.technician, ticket, Status.RESOLVED, now=at(2026, 11, 20, 9, i))
    with CaptureQueriesContext(connection) as many:
        response = client.get(URL, {"annee": "2026"})
    assert response.context["data"].total == 15
    assert len(many) == len(few) <= 25


@pytest.mark.django_db
def test_figures_are_cached_per_scope(cast, login, tickets, settings):
    from django.core.cache import cache

    cache.clear()
    settings.PREAU_HELPDESK_FIGURES_CACHE_SECONDS = 300
    client = login(cast.technician)
    assert client.get(URL, {"annee": "2026"}).context["data"].total == 3
    file(cast.director_sb1, cast.sb1, "wifi", now=at(2026, 11, 19, 9))
    with CaptureQueriesContext(connection) as warm:
        response = client.get(URL, {"annee": "2026"})
    assert response.context["data"].total == 3  # computed a moment ago
    assert not [q for q in warm.captured_queries if "helpdesk_ticket" in q["sql"]]
    assert "Chiffres calculés à" in response.content.decode()
    # Another scope computes its own; the commune filter too.
    assert login(cast.commune_a_staff).get(URL, {"annee": "2026"}).context["data"].total == 2
    assert login(cast.committee).get(URL, {"annee": "2026", "commune": "42207"}).context["data"].total == 2
    cache.clear()
    assert login(cast.technician).get(URL, {"annee": "2026"}).context["data"].total == 4
