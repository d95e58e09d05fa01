"""The figures page's stored figures: computed in the background, read by the page in one query.

Computing the figures (figures.compute) scans a school year of requests several times: at 500,000
requests a second for the current year and up to thirty for every year on SQLite (docs/helpdesk-bench.md).
So the page never computes what it can read: a `FigureSnapshot` per scope, school year and commune filter
holds the figures as JSON (language-neutral: labels are resolved when read).

- Scopes are what access.tickets_for depends on: "all" (agglomeration, committees), "c<ids>" (the staff of
  those communes), "a<ids>" (the advisors of those circonscriptions); users with the same scope share them.
- Freshness: the current school year is refreshed when older than PREAU_HELPDESK_FIGURES_MAX_AGE_SECONDS
  (600 by default), every year together after six times that, a past school year after a day (its requests
  change little: late closures, marks).
- `preau helpdesk-figures` (cron, every ten minutes) computes every live scope's years ahead of time and
  refreshes what is stale; `preau demo` runs it too. A page that reads a stale snapshot shows it with its
  time and asks for a refresh (a background job, one at a time per snapshot); a combination nobody has
  asked for yet (say the agglomeration filtering one commune) is computed on its first view, then kept.
- Snapshots of a filter nobody has read for 30 days, of a scope no user has any more, or of a school year
  without requests are dropped by the command.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from preau.accounts.models import Role

from . import access, figures
from .models import FigureSnapshot, Ticket

VIEWED_EVERY = timedelta(days=1)  # viewed_at is written at most this often
UNREAD_DAYS = 30
REQUEST_AGAIN_AFTER = timedelta(minutes=15)  # a refresh asked for and not done by then is asked again


def max_age_seconds() -> int:
    return int(getattr(settings, "PREAU_HELPDESK_FIGURES_MAX_AGE_SECONDS", 600))


def max_age(year: int, today=None) -> timedelta:
    """How old the figures of `year` (0: every year) may be before they are refreshed."""
    base = max_age_seconds()
    current = figures.school_year_of(today or timezone.localdate())
    if year == 0:
        return timedelta(seconds=6 * base)
    if year >= current:
        return timedelta(seconds=base)
    return timedelta(days=1)


def _scope(prefix: str, ids) -> str:
    return prefix + ",".join(str(pk) for pk in sorted(ids))


def scope_key(user) -> str:
    """The figures scope of a user who may read them (views_figures.can_see_figures): users with the same key
    see the same requests in access.tickets_for."""
    if user.sees_whole_territory:
        return "all"
    if user.role == Role.COMMUNE:
        return _scope("c", user.communes.values_list("pk", flat=True))
    if user.role == Role.ADVISOR:
        return _scope("a", user.circonscriptions.values_list("pk", flat=True))
    raise ValueError(f"pas de chiffres pour le rôle {user.role!r}")


def scope_tickets(scope: str):
    """The requests of a figures scope ("all", "c<ids>", "a<ids>"): access.tickets_for without a user."""
    if scope == "all":
        return Ticket.objects.all()
    ids = [int(pk) for pk in scope[1:].split(",") if pk]
    if scope.startswith("c"):
        return access.tickets_of_communes(ids)
    if scope.startswith("a"):
        return access.tickets_of_circonscriptions(ids)
    raise ValueError(f"périmètre sans chiffres : {scope!r}")


def live_scopes() -> set[str]:
    """The scopes of the users who may read the figures today (three queries, whatever the number of users)."""
    from preau.accounts.models import User

    scopes = {"all"}
    for role, prefix, field in ((Role.COMMUNE, "c", "communes"), (Role.ADVISOR, "a", "circonscriptions")):
        through = getattr(User, field).through
        column = f"{through._meta.get_field(field[:-1]).column}"
        members: dict[int, list[int]] = {pk: [] for pk in User.objects.filter(
            role=role, is_active=True).values_list("pk", flat=True)}
        for user_id, pk in through.objects.filter(user_id__in=list(members)).values_list("user_id", column):
            members[user_id].append(pk)
        scopes |= {_scope(prefix, ids) for ids in members.values()}
    return scopes


def key_of(scope: str, year: int, commune_id: int) -> str:
    """The snapshot's unique key; a long scope (a user with many communes) is named by its digest."""
    if len(scope) > 120:
        scope = f"{scope[0]}#{hashlib.sha256(scope.encode()).hexdigest()[:40]}"
    return f"{scope}|{year or 'tout'}|{commune_id or '-'}"


def to_data(data: figures.Figures) -> dict:
    def row(r: figures.Row) -> list:
        return [r.key, r.label_source, r.total, r.resolved, r.breached, r.take_median, r.resolve_median]

    return {"total": data.total, "resolved": data.resolved, "breached": data.breached,
            "take_median": data.take_median, "resolve_median": data.resolve_median,
            "satisfaction_avg": data.satisfaction_avg, "rated": data.rated,
            "satisfaction": [list(pair) for pair in data.satisfaction],
            "open_by_status": [[status, n] for status, _label, n in data.open_by_status],
            "tables": {dimension: [row(r) for r in rows] for dimension, rows in data.tables.items()}}


def from_data(year: int, data: dict, computed_at: datetime) -> figures.Figures:
    """Figures from their JSON, labels in the active language."""
    from . import lifecycle

    out = figures.Figures(year=year or None, total=data["total"], resolved=data["resolved"],
                          breached=data["breached"], take_median=data["take_median"],
                          resolve_median=data["resolve_median"], satisfaction_avg=data["satisfaction_avg"],
                          rated=data["rated"], computed_at=computed_at)
    out.satisfaction = [tuple(pair) for pair in data["satisfaction"]]
    out.open_by_status = [(status, lifecycle.label(status), n) for status, n in data["open_by_status"]]
    out.tables = {dimension: [figures.Row(key=k, label=figures.label(dimension, source), label_source=source,
                                          total=t, resolved=r, breached=b, take_median=tm, resolve_median=rm)
                              for k, source, t, r, b, tm, rm in rows]
                  for dimension, rows in data["tables"].items()}
    return out


def refresh(scope: str, year: int, commune_id: int = 0, now: datetime | None = None) -> FigureSnapshot:
    """Compute and store the figures of a scope, school year (0: every year) and commune (0: all)."""
    qs = scope_tickets(scope)
    if commune_id:
        qs = qs.filter(school__commune_id=commune_id)
    started = time.monotonic()
    data = figures.compute(qs, year or None)
    values = {"scope": scope, "year": year, "commune_id": commune_id, "data": to_data(data),
              "computed_at": now or data.computed_at, "requested_at": None,
              "duration_ms": round(1000 * (time.monotonic() - started))}
    key = key_of(scope, year, commune_id)
    try:
        with transaction.atomic():
            snapshot, _created = FigureSnapshot.objects.update_or_create(
                key=key, defaults=values, create_defaults={**values, "viewed_at": values["computed_at"]})
    except IntegrityError:  # created by another process meanwhile: ours is as fresh
        FigureSnapshot.objects.filter(key=key).update(**values)
        snapshot = FigureSnapshot.objects.get(key=key)
    return snapshot


def request_refresh(snapshot: FigureSnapshot, now: datetime) -> bool:
    """Ask the background worker to refresh a stale snapshot, once (True if this call asked)."""
    from preau.core import jobs

    asked = FigureSnapshot.objects.filter(pk=snapshot.pk).filter(
        Q(requested_at__isnull=True) | Q(requested_at__lt=now - REQUEST_AGAIN_AFTER)).update(requested_at=now)
    if asked:
        jobs.enqueue("helpdesk.figures", {"keys": [snapshot.key]})
    return bool(asked)


def for_page(user, year: int | None, commune=None, now: datetime | None = None) -> figures.Figures:
    """The figures the page shows: the stored ones (one query), computed now only if never asked before."""
    now = now or timezone.now()
    scope, year, commune_id = scope_key(user), year or 0, commune.pk if commune else 0
    snapshot = (FigureSnapshot.objects.filter(key=key_of(scope, year, commune_id))
                .only("pk", "key", "year", "data", "computed_at", "requested_at", "viewed_at").first())
    if snapshot is None:
        snapshot = refresh(scope, year, commune_id)
    else:
        if now - snapshot.computed_at > max_age(year, timezone.localdate(now)):
            request_refresh(snapshot, now)
            snapshot.requested_at = snapshot.requested_at or now
        if snapshot.viewed_at is None or now - snapshot.viewed_at > VIEWED_EVERY:
            FigureSnapshot.objects.filter(pk=snapshot.pk).update(viewed_at=now)
    out = from_data(year, snapshot.data, snapshot.computed_at)
    out.refreshing = snapshot.requested_at is not None
    return out


def school_years() -> list[int]:
    """The school years the figures page offers: those holding requests anywhere (two index reads)."""
    return figures.school_years(Ticket.objects.all())


def refresh_all(now: datetime | None = None, force: bool = False, progress=None) -> dict:
    """Compute every live scope's school years and every year together ahead of time, refresh the stale
    snapshots still read, drop the others. `progress(done, total, message)` as it goes."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    years = [*school_years(), 0]
    live = live_scopes()
    unread = now - timedelta(days=UNREAD_DAYS)
    existing = {s.key: s for s in FigureSnapshot.objects.only(
        "key", "scope", "year", "commune_id", "computed_at", "viewed_at")}
    dropped = [s.pk for s in existing.values()
               if s.scope not in live or s.year not in years
               or (s.commune_id and (s.viewed_at or s.computed_at) < unread)]
    if dropped:
        FigureSnapshot.objects.filter(pk__in=dropped).delete()
    kept = {key: s for key, s in existing.items() if s.pk not in dropped}
    todo: list[tuple[str, int, int]] = []
    for scope in sorted(live):
        for year in years:
            if key_of(scope, year, 0) not in kept:
                todo.append((scope, year, 0))
    for s in kept.values():
        if force or now - s.computed_at > max_age(s.year, today):
            todo.append((s.scope, s.year, s.commune_id))
    # The most read first: the current year, then every year, then the past years; whole scopes first.
    todo.sort(key=lambda t: (t[1] != years[0], t[1] != 0, -t[1], t[2] != 0, t[0], t[2]))
    total_ms = 0
    for i, (scope, year, commune_id) in enumerate(todo):
        if progress:
            progress(i, len(todo), key_of(scope, year, commune_id))
        total_ms += refresh(scope, year, commune_id).duration_ms
    if progress:
        progress(len(todo), len(todo), "")
    return {"computed": len(todo), "dropped": len(dropped), "fresh": len(kept) - sum(
        1 for t in todo if key_of(*t) in kept), "seconds": round(total_ms / 1000, 1)}
