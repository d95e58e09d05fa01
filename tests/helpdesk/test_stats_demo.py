"""`preau stats --json` for the assistance (whole database and a user's scope) and the demo assistance: a
year of plausible requests (school days only, seasonality, consistent fields), articles, real flows."""

import json
import random
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F, Q
from django.utils import timezone

from preau.accounts.models import Role
from preau.core import stats as core_stats
from preau.helpdesk import demo, lifecycle, services
from preau.helpdesk.calendar import WorkCalendar
from preau.helpdesk.lifecycle import Status
from preau.helpdesk.models import Article, Comment, Party, Ticket, TicketEvent
from preau.helpdesk.stats import helpdesk_stats
from preau.territory.models import School
from tests.conftest import make_user

from .hd import file


@pytest.mark.django_db
def test_stats_whole_database_and_scoped(cast):
    now = timezone.now()
    a = file(cast.teacher_sa1, cast.sa1, now=now - timedelta(days=3))
    file(cast.director_sb1, cast.sb1, "electricity", now=now - timedelta(days=2))
    old = file(cast.teacher_sa1, cast.sa1, "wifi", now=now - timedelta(days=60))
    services.do_change_status(cast.technician, old, Status.RESOLVED, now=now - timedelta(days=10))
    services.do_rate(cast.teacher_sa1, old, 4)
    services.do_change_status(cast.technician, a, Status.IN_PROGRESS)
    Ticket.objects.filter(pk=a.pk).update(resolve_breached=True)
    everything = helpdesk_stats()
    assert everything["open"] == 2 and everything["open_by_party"] == {"agglomeration": 1, "commune": 1}
    assert everything["open_by_status"] == {"in_progress": 1, "new": 1}
    assert everything["breached_open"] == 1
    assert everything["created_30d"] == 2 and everything["resolved_30d"] == 1
    assert everything["median_resolve_hours"] == Ticket.objects.get(pk=old.pk).resolve_hours > 0
    assert everything["satisfaction_avg"] == 4.0 and everything["satisfaction_count"] == 1
    # The dashboard: a user's scope only.
    assert helpdesk_stats(cast.director_sb1)["open"] == 1
    assert helpdesk_stats(cast.teacher_sa1)["open_by_party"] == {"agglomeration": 1}
    assert helpdesk_stats(make_user("nobody", Role.TEACHER))["open"] == 0
    assert core_stats.collect()["helpdesk"] == everything


@pytest.mark.django_db
def test_the_dashboard_shows_the_open_requests_of_the_scope(cast, login):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    now = timezone.now()
    late = file(cast.teacher_sa1, cast.sa1, now=now - timedelta(days=2))
    services.do_change_status(cast.technician, late, Status.WAITING_SCHOOL)
    Ticket.objects.filter(pk=late.pk).update(resolve_breached=True)
    file(cast.director_sb1, cast.sb1, "electricity", now=now - timedelta(days=1))
    old = file(cast.teacher_sa1, cast.sa1, "wifi", now=now - timedelta(days=60))
    services.do_change_status(cast.technician, old, Status.RESOLVED)
    counts = core_stats.for_dashboard(cast.technician)
    assert set(counts) == {"territory", "fleet", "helpdesk"}  # nothing computed that the page does not show
    assert counts["helpdesk"] == {"open": 2, "breached_open": 1, "created_30d": 2, "open_by_status": {
        s: {Status.NEW: 1, Status.WAITING_SCHOOL: 1}.get(s, 0) for s in lifecycle.OPEN}}
    with CaptureQueriesContext(connection) as ctx:
        html = login(cast.technician).get(reverse("home")).content.decode()
    assert "Assistance : 2 demandes ouvertes" in html and "1 demande ouverte a dépassé un délai" in html
    assert 'data-status="waiting_school"' in html and reverse("helpdesk:queue") in html
    assert reverse("helpdesk:figures") in html
    assert not [q for q in ctx.captured_queries if "AVG(" in q["sql"]]  # not the year's satisfaction
    # A teacher: the school's requests, a link to them, no figures.
    html = login(cast.teacher_sa1).get(reverse("home")).content.decode()
    assert "Assistance : 1 demande ouverte" in html
    assert reverse("helpdesk:school", args=[cast.sa1.uai]) in html and reverse("helpdesk:figures") not in html
    # Another school: its own request only.
    assert core_stats.for_dashboard(cast.director_sb1)["helpdesk"]["open"] == 1
    nobody = make_user("nobody", Role.TEACHER)
    assert core_stats.for_dashboard(nobody)["helpdesk"]["open"] == 0
    assert "Assistance :" not in login(nobody).get(reverse("home")).content.decode()


@pytest.mark.django_db
def test_stats_command_json(cast):
    file(cast.teacher_sa1, cast.sa1, now=timezone.now())
    out = StringIO()
    call_command("stats", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["helpdesk"]["open"] == 1 and data["helpdesk"]["open_by_status"] == {"new": 1}


@pytest.fixture
def demo_world(cast):
    School.objects.bulk_create([
        School(uai=f"04299{i:02d}X", name=f"École {i}", kind="primaire",
               commune=cast.commune_a if i % 2 else cast.commune_b, circonscription=cast.circ1 if i % 3 else None)
        for i in range(40)])
    technicien = make_user("technicien", Role.TECHNICIAN)
    mairie = make_user("mairie", Role.COMMUNE)
    mairie.communes.add(cast.commune_a)
    conseiller = make_user("conseiller", Role.ADVISOR)
    conseiller.circonscriptions.add(cast.circ1)
    make_user("directeur", Role.DIRECTOR, school=cast.sa1)
    make_user("enseignant", Role.TEACHER, school=cast.sa1)
    schools = [cast.sa1] + list(School.objects.exclude(pk=cast.sa1.pk).order_by("uai"))
    return {"schools": schools, "technicien": technicien, "mairie": mairie, "conseiller": conseiller}


def fingerprint():
    rows = Ticket.objects.values_list("school__uai", "category__slug", "status", "satisfaction",
                                      "take_charge_breached", "resolve_breached", "merged_into_id")
    return sorted(repr((*row[:-1], row[-1] is None)) for row in rows)


@pytest.mark.django_db
def test_demo_year_of_requests(cast, demo_world):
    counts = demo.build_helpdesk(random.Random("2016:helpdesk"), {"schools": demo_world["schools"]})
    assert counts["articles"] == Article.objects.count() == 12
    assert counts["tickets"] == Ticket.objects.count() > 300
    assert counts["comments"] == Comment.objects.count() > counts["tickets"] // 2
    tickets = Ticket.objects.all()
    calendar = WorkCalendar.load()
    # School days only, over the last year.
    days = {timezone.localtime(t).date() for t in tickets.values_list("created_at", flat=True)}
    assert all(calendar.is_working_day(d) for d in days)
    assert min(days) >= timezone.localdate() - timedelta(days=366)
    # Seasonality: more requests per school day in September than in June.
    by_month = {}
    for d in days:
        by_month.setdefault(d.month, set()).add(d)
    per_day = {m: tickets.filter(created_at__month=m).count() / len(ds) for m, ds in by_month.items()}
    assert per_day[9] > per_day[6]
    # Mixed parties and statuses, consistent fields.
    assert set(tickets.values_list("party", flat=True)) >= {Party.AGGLOMERATION, Party.COMMUNE,
                                                           Party.CIRCONSCRIPTION}
    statuses = set(tickets.values_list("status", flat=True))
    assert {Status.NEW, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED} <= statuses
    assert not tickets.filter(status__in=lifecycle.DONE, resolved_at__isnull=True).exists()
    assert not tickets.filter(resolved_at__lt=F("created_at")).exists()
    assert not tickets.filter(take_charge_due__isnull=True).exists()
    assert not tickets.filter(resolve_breached=False, resolved_at__gt=F("resolve_due")).exists()
    assert tickets.filter(resolve_breached=True).exists() and tickets.filter(resolve_breached=False).exists()
    assert not tickets.filter(party=Party.COMMUNE, party_commune__isnull=True).exists()
    assert not tickets.filter(party=Party.CIRCONSCRIPTION, party_circonscription__isnull=True).exists()
    assert tickets.filter(satisfaction__isnull=False).exists()
    assert not tickets.filter(satisfaction__isnull=False).exclude(status=Status.CLOSED).exists()
    assert tickets.filter(merged_into__isnull=False).exists() or counts["merged"] == 0
    assert tickets.filter(reopen_count__gt=0).exists()
    assert tickets.filter(resolved_by_article__isnull=False).exists()
    assert not tickets.filter(Q(take_charge_breached=True) | Q(resolve_breached=True), escalated_at__isnull=True,
                              status__in=lifecycle.OPEN).exists()
    assert TicketEvent.objects.filter(kind=TicketEvent.Kind.CREATED).count() >= counts["tickets"] - 10
    assert Comment.objects.filter(internal=True).exists()
    # The demo users' queues and pages are not empty.
    from preau.helpdesk import access

    for user in (demo_world["technicien"], demo_world["mairie"], demo_world["conseiller"]):
        assert access.queue_for(user).filter(status__in=lifecycle.OPEN).exists(), user
    assert tickets.filter(school=cast.sa1, requester__username="enseignant").exists()
    # The deadlines watch finds nothing left to escalate right after the demo (no burst of mail).
    assert services.check_deadlines()["escalated"] == 0


@pytest.mark.django_db
def test_demo_is_deterministic(cast, demo_world):
    demo.build_helpdesk(random.Random("2016:helpdesk"), {"schools": demo_world["schools"]})
    first = fingerprint()
    Ticket.objects.all().delete()
    Article.objects.all().delete()
    demo.build_helpdesk(random.Random("2016:helpdesk"), {"schools": demo_world["schools"]})
    assert fingerprint() == first
