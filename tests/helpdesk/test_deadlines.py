"""`preau helpdesk-deadlines`: breaches, warnings and escalations counted at an advanced `now`, idempotent,
paused while waiting for the school."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from preau.helpdesk import services
from preau.helpdesk.lifecycle import Status
from preau.helpdesk.models import Ticket, TicketEvent

from .hd import at, file


def run(now: str) -> dict:
    out = StringIO()
    call_command("helpdesk_deadlines", "--json", f"--now={now}", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_take_charge_breach_then_warning_then_resolution_breach(cast):
    # Monday 16 November 2026, 09:00; "projector" is high priority: 4 h to take charge, 16 h to resolve.
    ticket = file(cast.teacher_sa1, cast.sa1, now=at(2026, 11, 16, 9))
    assert ticket.take_charge_due == at(2026, 11, 16, 13)
    assert ticket.resolve_due == at(2026, 11, 18, 9)  # 7.5 h Monday, 8 h Tuesday, 0.5 h Wednesday

    assert run("2026-11-16T12:00:00+01:00") == {"take_charge_breached": 0, "resolve_breached": 0, "warned": 0,
                                                "escalated": 0}
    counts = run("2026-11-16T14:00:00+01:00")
    assert counts["take_charge_breached"] == 1 and counts["escalated"] == 1 and counts["warned"] == 0
    ticket.refresh_from_db()
    assert ticket.take_charge_breached and ticket.escalated_at == at(2026, 11, 16, 14)
    assert run("2026-11-16T14:10:00+01:00")["escalated"] == 0  # idempotent

    counts = run("2026-11-17T14:00:00+01:00")  # 3 working hours left
    assert counts["warned"] == 1
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.WARNED).count() == 1
    assert run("2026-11-17T15:00:00+01:00")["warned"] == 0

    counts = run("2026-11-18T10:00:00+01:00")
    assert counts["resolve_breached"] == 1
    ticket.refresh_from_db()
    assert ticket.resolve_breached


@pytest.mark.django_db
def test_waiting_for_the_school_pauses_the_resolution_clock(cast):
    ticket = file(cast.teacher_sa1, cast.sa1, now=at(2026, 11, 16, 9))
    services.do_change_status(cast.technician, ticket, Status.WAITING_SCHOOL, now=at(2026, 11, 16, 10))
    counts = run("2026-11-25T10:00:00+01:00")
    assert counts["resolve_breached"] == 0 and counts["take_charge_breached"] == 0
    ticket.refresh_from_db()
    assert not ticket.resolve_breached and ticket.take_charge_hours == 1.0
    # The school answers a week later: the deadline moves by the paused working hours.
    services.do_comment(cast.teacher_sa1, ticket, "Voici la photo demandée.", now=at(2026, 11, 23, 10))
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.resolve_due == at(2026, 11, 25, 9)  # + 5 school days of 8 h (Monday 10:00 to Monday 10:00)
    assert run("2026-11-24T16:00:00+01:00")["resolve_breached"] == 0
    assert run("2026-11-25T09:30:00+01:00")["resolve_breached"] == 1


@pytest.mark.django_db
def test_closed_and_merged_requests_are_not_watched(cast):
    a = file(cast.teacher_sa1, cast.sa1, now=at(2026, 11, 16, 9))
    b = file(cast.teacher_sa1, cast.sa1, now=at(2026, 11, 16, 9, 5))
    services.do_merge(cast.technician, b, a, now=at(2026, 11, 16, 9, 30))
    services.do_change_status(cast.technician, a, Status.RESOLVED, now=at(2026, 11, 16, 10))
    assert run("2026-12-01T10:00:00+01:00") == {"take_charge_breached": 0, "resolve_breached": 0, "warned": 0,
                                                "escalated": 0}
    assert not Ticket.objects.filter(take_charge_breached=True).exists()


@pytest.mark.django_db
def test_readable_output_and_bad_date(cast):
    file(cast.teacher_sa1, cast.sa1, now=at(2026, 11, 16, 9))
    out = StringIO()
    call_command("helpdesk_deadlines", "--now=2026-11-16T14:00:00+01:00", stdout=out)
    assert "1  délais de prise en charge dépassés" in out.getvalue()
    out = StringIO()
    call_command("helpdesk_deadlines", "--quiet", "--now=2026-11-16T14:00:00+01:00", stdout=out)
    assert out.getvalue() == ""
    with pytest.raises(CommandError, match="date illisible"):
        call_command("helpdesk_deadlines", "--now=demain")
