"""Lifecycle, routing, the school calendar and deadline maths (school and public holidays, the pause while
waiting for the school), the working hours stored on requests, and vote counters."""

from datetime import date
from decimal import Decimal

import pytest

from preau.helpdesk import lifecycle, routing, services
from preau.helpdesk.calendar import WorkCalendar
from preau.helpdesk.lifecycle import Status, TransitionRefused
from preau.helpdesk.models import Article, DeadlinePolicy, Party, TicketEvent
from preau.territory.models import School

from .hd import at, category, file


def test_lifecycle_table_and_refusals():
    lifecycle.check(Status.NEW, Status.ASSIGNED)
    lifecycle.check(Status.CLOSED, Status.REOPENED)
    with pytest.raises(TransitionRefused, match="Possibles : « rouverte »"):
        lifecycle.check(Status.CLOSED, Status.IN_PROGRESS)
    with pytest.raises(TransitionRefused, match="déjà « nouvelle »"):
        lifecycle.check(Status.NEW, Status.NEW)
    with pytest.raises(TransitionRefused, match="Statut inconnu"):
        lifecycle.check(Status.NEW, "done")
    assert set(lifecycle.PAUSED) <= set(lifecycle.OPEN)
    assert all(target in Status.values for targets in lifecycle.TRANSITIONS.values() for target in targets)


@pytest.mark.django_db
def test_calendar_skips_weekends_public_and_school_holidays():
    cal = WorkCalendar.load()
    assert cal.day_hours == 8
    assert cal.is_working_day(date(2026, 11, 10))
    assert not cal.is_working_day(date(2026, 11, 11))  # Armistice (public holiday)
    assert not cal.is_working_day(date(2026, 11, 14))  # Saturday
    assert not cal.is_working_day(date(2026, 10, 20))  # Toussaint school holidays (académie)
    # Friday 16 October 2026 15:30 + 4 working hours: 1 h on Friday, then the holidays, then 3 h on 2 November.
    assert cal.add(at(2026, 10, 16, 15, 30), 4) == at(2026, 11, 2, 11, 30)
    assert cal.between(at(2026, 10, 16, 15, 30), at(2026, 11, 2, 11, 30)) == 4.0
    assert cal.between(at(2026, 11, 2, 12), at(2026, 11, 2, 9)) == 0.0
    # Before opening counts from the opening; after closing from the next working day.
    assert cal.add(at(2026, 11, 10, 7), 1) == at(2026, 11, 10, 9, 30)
    assert cal.add(at(2026, 11, 10, 18), Decimal("0.5")) == at(2026, 11, 12, 9)  # 11 November is off


@pytest.mark.django_db
def test_deadline_policies_category_then_general_then_default():
    projector = category("projector")
    assert services.deadlines_for(projector, "high") == (Decimal("4.0"), Decimal("16.0"))
    DeadlinePolicy.objects.create(category=projector, priority="high", take_charge_hours=1, resolve_hours=6)
    assert services.deadlines_for(projector, "high") == (Decimal("1.0"), Decimal("6.0"))
    DeadlinePolicy.objects.filter(category__isnull=True, priority="low").delete()
    assert services.deadlines_for(projector, "low") == (Decimal(16), Decimal(80))


@pytest.mark.django_db
def test_request_filed_before_holidays_gets_deadlines_after_them(cast):
    ticket = file(cast.teacher_sa1, cast.sa1, "wifi", now=at(2026, 12, 18, 15))  # high: 4 h / 16 h
    assert ticket.take_charge_due == at(2027, 1, 4, 11)  # 1.5 h on the 18th, Christmas holidays, 2.5 h
    assert ticket.resolve_due == at(2027, 1, 5, 15)  # 1.5 h + 8 h on 4 January + 6.5 h


@pytest.mark.django_db
def test_routing_to_each_party(cast):
    assert routing.route(category("electricity"), cast.sa1) == {
        "party": Party.COMMUNE, "party_commune": cast.commune_a, "party_circonscription": None,
        "party_workshop": None}
    training = routing.route(category("training"), cast.sb1)
    assert training["party"] == Party.CIRCONSCRIPTION and training["party_circonscription"] == cast.circ2
    assert routing.route(category("projector"), cast.sa1)["party"] == Party.AGGLOMERATION
    lonely = School.objects.create(uai="0429999Z", name="École sans circonscription", kind="primaire",
                                   commune=cast.commune_b)
    fallback = routing.route(category("training"), lonely)
    assert fallback["party"] == Party.AGGLOMERATION and "circonscription" in fallback["fallback"]
    ticket = file(cast.director_sa1, cast.sa1, "training")
    assert ticket.party == Party.CIRCONSCRIPTION
    assert TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.CREATED).details["party"].startswith(
        "Circonscription")


@pytest.mark.django_db
def test_pause_over_a_school_holiday_moves_the_deadline_by_working_hours_only(cast):
    ticket = file(cast.teacher_sa1, cast.sa1, now=at(2026, 10, 12, 9))  # Monday; resolve: 16 h
    assert ticket.resolve_due == at(2026, 10, 14, 9)
    services.do_change_status(cast.technician, ticket, Status.WAITING_SCHOOL, now=at(2026, 10, 12, 10))
    ticket.refresh_from_db()
    assert ticket.paused_at == at(2026, 10, 12, 10)
    # The school answers on the first day back: only the working hours of the pause count (6.5 + 8 * 4 + 1.5).
    services.do_change_status(cast.technician, ticket, Status.IN_PROGRESS, now=at(2026, 11, 2, 10))
    ticket.refresh_from_db()
    assert ticket.paused_at is None
    assert WorkCalendar.load().between(at(2026, 10, 14, 9), ticket.resolve_due) == 40.0


@pytest.mark.django_db
def test_stored_working_hours_follow_the_lifecycle(cast):
    ticket = file(cast.teacher_sa1, cast.sa1, now=at(2026, 11, 16, 9))
    services.do_assign(cast.technician, ticket, cast.technician, now=at(2026, 11, 16, 11))
    services.do_change_status(cast.technician, ticket, Status.RESOLVED, now=at(2026, 11, 17, 9))
    ticket.refresh_from_db()
    assert (ticket.take_charge_hours, ticket.resolve_hours) == (2.0, 8.0)
    assert not ticket.take_charge_breached and not ticket.resolve_breached
    services.do_change_status(cast.teacher_sa1, ticket, Status.REOPENED, now=at(2026, 11, 18, 9))
    ticket.refresh_from_db()
    assert ticket.resolve_hours is None and ticket.reopen_count == 1 and ticket.take_charge_hours == 2.0
    services.do_change_status(cast.technician, ticket, Status.RESOLVED, now=at(2026, 11, 19, 9))
    ticket.refresh_from_db()
    assert ticket.resolve_hours == 24.0 and ticket.resolve_breached  # 16 h allowed
    # Closed straight from "new" (the school found the answer): resolved at closing.
    other = file(cast.teacher_sa1, cast.sa1, now=at(2026, 11, 16, 9))
    services.do_change_status(cast.teacher_sa1, other, Status.CLOSED, now=at(2026, 11, 16, 9, 30))
    other.refresh_from_db()
    assert other.resolve_hours == 0.5 and other.resolved_at == at(2026, 11, 16, 9, 30)


@pytest.mark.django_db
def test_votes_are_counted_once_per_user(cast):
    article = Article.objects.create(title="A", slug="a", body="b", updated_at=at(2026, 11, 16))
    for user, useful in ((cast.teacher_sa1, True), (cast.teacher_sa1, True), (cast.director_sa1, False),
                         (cast.teacher_sa1, False)):
        article = services.do_vote(user, article, useful)
    assert (article.useful_yes, article.useful_no) == (0, 2)
