"""The figures page: medians in working hours, breach rates per category, party and commune, satisfaction,
open requests by status; school-year and commune filters; scopes; exports; a fixed number of queries."""

import io
import json
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from preau.helpdesk import figures, services, snapshots
from preau.helpdesk.lifecycle import Status
from preau.helpdesk.models import FigureSnapshot, Ticket

from .hd import at, file

URL = reverse("helpdesk:figures")


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


def ticket_queries(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "helpdesk_ticket" in q["sql"]]


@pytest.mark.django_db
def test_bounded_queries_whatever_the_data(cast, login, tickets):
    client = login(cast.technician)
    snapshots.refresh("all", 2026)  # created; the measured refreshes update it
    with CaptureQueriesContext(connection) as few_computed:
        snapshots.refresh("all", 2026)
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL, {"annee": "2026"}).status_code == 200
    for i in range(12):
        ticket = file(cast.director_sb1, cast.sb1, "wifi" if i % 2 else "printer", now=at(2026, 11, 19, 9, i))
        services.do_change_status(cast.technician, ticket, Status.RESOLVED, now=at(2026, 11, 20, 9, i))
    with CaptureQueriesContext(connection) as many_computed:
        snapshots.refresh("all", 2026)
    with CaptureQueriesContext(connection) as many:
        response = client.get(URL, {"annee": "2026"})
    assert response.context["data"].total == 15
    assert len(many_computed) == len(few_computed) <= 25
    assert len(many) == len(few) <= 10
    # The page reads no request but the two ends of the creation dates (the school years offered).
    assert all("MIN(" in sql or "MAX(" in sql for sql in ticket_queries(many)), ticket_queries(many)


@pytest.mark.django_db
def test_the_page_reads_stored_figures_shared_by_a_scope(cast, login, tickets):
    client = login(cast.technician)
    first = client.get(URL, {"annee": "2026"})
    assert first.context["data"].total == 3 and not first.context["data"].refreshing
    assert "Chiffres calculés le" in first.content.decode()
    snapshot = FigureSnapshot.objects.get(key="all|2026|-")
    assert snapshot.data["total"] == 3 and snapshot.viewed_at is not None
    file(cast.director_sb1, cast.sb1, "wifi", now=at(2026, 11, 19, 9))
    # Within their age the stored figures are served as they are, to every user of the same scope.
    assert login(cast.committee).get(URL, {"annee": "2026"}).context["data"].total == 3
    # Another scope and the commune filter have their own.
    assert login(cast.commune_a_staff).get(URL, {"annee": "2026"}).context["data"].total == 2
    assert login(cast.committee).get(URL, {"annee": "2026", "commune": "42207"}).context["data"].total == 2
    scope = snapshots.scope_key(cast.commune_a_staff)
    assert FigureSnapshot.objects.filter(key=f"{scope}|2026|-").exists()
    assert FigureSnapshot.objects.filter(key__startswith="all|2026|").count() == 2
    snapshots.refresh("all", 2026)
    assert login(cast.technician).get(URL, {"annee": "2026"}).context["data"].total == 4


@pytest.mark.django_db
def test_stale_figures_are_shown_and_refreshed_in_the_background(cast, login, tickets, monkeypatch):
    from preau.core import jobs
    from preau.core.models import Job

    monkeypatch.setenv("PREAU_JOBS_INLINE", "0")
    client = login(cast.technician)
    assert client.get(URL, {"annee": "2026"}).context["data"].total == 3
    file(cast.director_sb1, cast.sb1, "wifi", now=at(2026, 11, 19, 9))
    old = timezone.now() - timedelta(seconds=snapshots.max_age_seconds() + 60)
    FigureSnapshot.objects.filter(key="all|2026|-").update(computed_at=old)
    response = client.get(URL, {"annee": "2026"})
    assert response.context["data"].total == 3 and response.context["data"].refreshing
    assert "Une mise à jour est en cours" in response.content.decode()
    client.get(URL, {"annee": "2026"})  # asked once, not at every view
    queued = Job.objects.filter(kind="helpdesk.figures")
    assert queued.count() == 1 and queued.get().params == {"keys": ["all|2026|-"]}
    assert jobs.run(queued.get().pk).status == Job.Status.DONE
    snapshot = FigureSnapshot.objects.get(key="all|2026|-")
    assert snapshot.data["total"] == 4 and snapshot.requested_at is None and snapshot.computed_at > old
    response = client.get(URL, {"annee": "2026"})
    assert response.context["data"].total == 4 and not response.context["data"].refreshing


@pytest.mark.django_db
def test_past_years_and_every_year_keep_longer(settings):
    settings.PREAU_HELPDESK_FIGURES_MAX_AGE_SECONDS = 600
    today = date(2026, 11, 20)
    assert snapshots.max_age(2026, today) == timedelta(minutes=10)
    assert snapshots.max_age(0, today) == timedelta(hours=1)
    assert snapshots.max_age(2025, today) == timedelta(days=1)


@pytest.mark.django_db
def test_scope_keys_read_what_the_users_read(cast, tickets):
    from preau.helpdesk import access

    for user in (cast.admin, cast.commune_a_staff, cast.advisor_c1):
        key = snapshots.scope_key(user)
        assert set(snapshots.scope_tickets(key)) == set(access.tickets_for(user)), key
    assert snapshots.live_scopes() == {"all", snapshots.scope_key(cast.commune_a_staff),
                                       snapshots.scope_key(cast.advisor_c1)}
    with pytest.raises(ValueError):
        snapshots.scope_tickets("s12")
    with pytest.raises(ValueError):
        snapshots.scope_key(cast.teacher_sa1)  # schools have no figures


@pytest.mark.django_db
def test_stored_labels_follow_the_language(cast, tickets):
    snapshot = snapshots.refresh("all", 2026)
    with translation.override("en"):
        english = snapshots.from_data(2026, snapshot.data, snapshot.computed_at)
    with translation.override("fr"):
        french = snapshots.from_data(2026, snapshot.data, snapshot.computed_at)
    assert {r.label for r in french.tables["party"]} == {"Agglomération (équipe numérique)", "Commune de l'école"}
    assert {r.label for r in english.tables["party"]} != {r.label for r in french.tables["party"]}
    assert [lab for _s, lab, _n in english.open_by_status] != [lab for _s, lab, _n in french.open_by_status]
    computed = figures.compute(Ticket.objects.all(), 2026)
    assert [(r.key, r.total, r.breached, r.resolve_median) for r in french.tables["category"]] == [
        (r.key, r.total, r.breached, r.resolve_median) for r in computed.tables["category"]]


@pytest.mark.django_db
def test_the_command_computes_ahead_refreshes_and_drops(cast, tickets):
    out = io.StringIO()
    call_command("helpdesk_figures", "--json", stdout=out)
    first = json.loads(out.getvalue())
    years = snapshots.school_years()
    assert years[:2] == [2026, 2025]
    live = snapshots.live_scopes()
    assert first["computed"] == len(live) * (len(years) + 1) and first["dropped"] == 0
    assert FigureSnapshot.objects.filter(commune_id=0).count() == first["computed"]
    out = io.StringIO()
    call_command("helpdesk_figures", "--quiet", stdout=out)
    assert out.getvalue() == ""  # everything fresh: nothing to say
    # A commune filter read long ago, the scope of a user who no longer is one, a stale current year.
    snapshots.refresh("all", 2026, cast.sa1.commune_id)
    FigureSnapshot.objects.filter(commune_id=cast.sa1.commune_id).update(
        viewed_at=timezone.now() - timedelta(days=40), computed_at=timezone.now() - timedelta(days=40))
    snapshots.refresh("c999", 2026)
    FigureSnapshot.objects.filter(key="all|2026|-").update(computed_at=timezone.now() - timedelta(hours=2))
    out = io.StringIO()
    call_command("helpdesk_figures", "--json", stdout=out)
    again = json.loads(out.getvalue())
    assert (again["computed"], again["dropped"]) == (1, 2)
    assert not FigureSnapshot.objects.filter(scope="c999").exists()
    out = io.StringIO()
    call_command("helpdesk_figures", "--force", stdout=out)
    assert out.getvalue().startswith(f"{first['computed']} chiffres calculés")


@pytest.mark.django_db
def test_figures_api_same_figures_scopes_and_filters(cast, tickets):
    from rest_framework.test import APIClient

    def get(user, **params):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client.get("/api/v1/ticket-figures/", params)

    response = get(cast.technician, annee="2026")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["year"], body["commune"], body["total"], body["breached"], body["breach_rate"]) == (
        2026, None, 3, 1, 33.3)
    assert (body["take_median"], body["resolve_median"], body["satisfaction_avg"]) == (0.5, 2.0, 3.5)
    assert body["years"][:2] == [2026, 2025] and body["computed_at"] and body["refreshing"] is False
    assert [s["count"] for s in body["satisfaction"]] == [0, 1, 0, 0, 1]
    assert {s["key"]: s["count"] for s in body["open_by_status"]}["new"] == 1
    projector = next(r for r in body["by_category"] if r["label"].startswith("Le vidéoprojecteur"))
    assert (projector["total"], projector["breached"], projector["resolve_median"]) == (2, 1, 2.0)
    assert {r["key"] for r in body["by_party"]} == {"agglomeration", "commune"}
    assert get(cast.committee, annee="tout").json()["total"] == 4
    assert get(cast.admin, annee="2026", commune="42207").json()["total"] == 1
    # The same scopes as the page: a commune's staff sees its communes; other communes are 404.
    assert get(cast.commune_a_staff, annee="2026").json()["total"] == 2
    assert get(cast.commune_a_staff, commune="42207").status_code == 404
    assert get(cast.advisor_c1, annee="2026").json()["total"] == 2
    # Refused: schools, workshops, anonymous; an unknown year is a 400 naming the years offered.
    for user in (cast.teacher_sa1, cast.director_sa1, cast.workshop):
        assert get(user).status_code == 403
    assert get(None).status_code in (401, 403)
    bad = get(cast.technician, annee="1999")
    assert bad.status_code == 400 and "2026" in bad.json()["annee"][0]


@pytest.mark.django_db
def test_a_scope_of_many_communes_has_a_short_key(cast, tickets):
    scope = "c" + ",".join(str(n) for n in range(1, 400))
    snapshot = snapshots.refresh(scope, 2026)
    assert len(snapshot.key) < 80 and snapshot.scope == scope
    assert snapshots.key_of(scope, 2026, 0) == snapshot.key != snapshots.key_of(scope + ",401", 2026, 0)
    assert snapshots.refresh(scope, 2026).pk == snapshot.pk
