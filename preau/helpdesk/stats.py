"""Helpdesk counts for `preau stats --json` (everything) and the dashboard (a user's scope): open requests
by party and by status, open requests past a deadline, requests created and resolved over the last 30 days,
and, over the requests filed in the last 365 days, the median working hours to resolve and the average
satisfaction (1-5): about a second at 500,000 requests. The dashboard shows less and computes less
(`dashboard_counts`, registered as the provider's dashboard function)."""

from datetime import timedelta

from django.db.models import Avg, Count, Q
from django.utils import timezone

from . import access, lifecycle
from .figures import median
from .models import Ticket


def dashboard_counts(user) -> dict:
    """What the dashboard shows of the user's scope: open requests by status, those past a deadline, and the
    requests filed over the last 30 days. Two queries served by the status and creation-date indexes (about
    10 ms at 500,000 requests: no cache needed); merged duplicates are closed, so never open."""
    tickets = access.tickets_for(user)
    by_status = {status: 0 for status in lifecycle.OPEN}
    breached = 0
    for status, late, n in (tickets.filter(status__in=lifecycle.OPEN).order_by().values_list("status")
                            .annotate(late=Count("pk", filter=Q(take_charge_breached=True)
                                                 | Q(resolve_breached=True)), n=Count("pk"))):
        by_status[status] = n
        breached += late
    return {"open": sum(by_status.values()), "open_by_status": by_status, "breached_open": breached,
            "created_30d": tickets.filter(created_at__gte=timezone.now() - timedelta(days=30)).count()}


def helpdesk_stats(user=None) -> dict:
    return compute_stats(user)


def compute_stats(user=None) -> dict:
    tickets = Ticket.objects.all() if user is None else access.tickets_for(user)
    tickets = tickets.filter(merged_into__isnull=True)
    now = timezone.now()
    open_ = tickets.filter(status__in=lifecycle.OPEN)
    by_party: dict[str, int] = {}
    by_status: dict[str, int] = {}
    breached = 0
    for party, status, late, n in (open_.order_by().values_list("party", "status")
                                   .annotate(late=Count("pk", filter=Q(take_charge_breached=True)
                                                        | Q(resolve_breached=True)), n=Count("pk"))):
        by_party[party] = by_party.get(party, 0) + n
        by_status[status] = by_status.get(status, 0) + n
        breached += late
    since = now - timedelta(days=30)
    year = tickets.filter(created_at__gte=now - timedelta(days=365))  # the created_at index bounds the scan
    recent = year.aggregate(created=Count("pk", filter=Q(created_at__gte=since)),
                            satisfaction_avg=Avg("satisfaction"), rated=Count("satisfaction"))
    recent["resolved"] = tickets.filter(resolved_at__gte=since).count()
    avg = recent["satisfaction_avg"]
    return {
        "open": sum(by_party.values()),
        "open_by_party": dict(sorted(by_party.items())),
        "open_by_status": dict(sorted(by_status.items())),
        "breached_open": breached,
        "created_30d": recent["created"],
        "resolved_30d": recent["resolved"],
        "median_resolve_hours": median(year, "resolve_hours"),
        "satisfaction_avg": round(avg, 2) if avg is not None else None,
        "satisfaction_count": recent["rated"],
    }
