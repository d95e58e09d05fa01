"""Data generator of the helpdesk benchmark (bench/helpdesk.py): a territory, its fleet, and years of help
requests, by raw bulk inserts.

The territory and a light fleet come from bench/fleet_data.py (`generate`: communes, ten schools each,
circonscriptions, classes, slots, assets, the depot and two workshops); commune 1 is then made a big commune
(one school in twenty moves to it). On top, `generate_helpdesk(size)`:

- users: ten agglomeration technicians, the staff of commune 1, the advisor of circonscription 1, a member
  of workshop "Atelier A", one director per school (the requester of the school's requests);
- `size.tickets` requests over four school years and a term (1 September four years back to now), filed in
  school working hours (the category weights of the demo), routed like the routing does (the category's party,
  1 equipment request in 60 to a workshop), priorities and deadlines from the policies of the migration,
  counted in working hours of the school calendar (WorkCalendar: weekends, public and académie holidays);
  taken, resolved and closed as in the demo (most within their deadlines, some late), the working hours stored
  (take_charge_hours, resolve_hours), breaches, satisfaction marks, a few merged duplicates; recent ones and a
  backlog of the last year (4 %) still open in every status;
- about `size.comments` comments (4 per request on average, 15 % internal notes of the party), and
  `HEAVY` requests with 200 comments each (the request page case);
- events: created, taken, resolved, closed.

Times are computed in "working-hour positions" (seconds of school opening time since the first day), so a
deadline is one addition and one lookup instead of a walk through the calendar per request.
Deterministic for a seed. SQLite: executemany; PostgreSQL: COPY (fleet_data.Writer).
"""

from __future__ import annotations

import bisect
import datetime
import random
import time
from array import array
from dataclasses import dataclass

from fleet_data import Size, Writer, generate, run_analyze

HEAVY = 10  # requests with HEAVY_COMMENTS comments each
HEAVY_COMMENTS = 200
TECHNICIANS = 10
PUBLIC = ["Bonjour, pouvez-vous passer cette semaine ? La classe en a besoin.", "Merci pour votre retour rapide.",
          "Nous avons essayé de redémarrer, sans succès.", "Le problème revient tous les matins.",
          "Je passe jeudi matin entre 8 h 30 et 10 h.", "C'est réglé, merci !",
          "Pouvez-vous préciser la salle et le numéro de l'appareil ?", "La pièce est commandée, comptez une semaine."]
INTERNAL = ["Câble HDMI à changer, prévoir 5 m.", "Même panne l'an dernier sur ce modèle.",
            "Voir avec le prestataire réseau.", "Lampe en fin de vie (3 800 h)."]


@dataclass(frozen=True)
class HelpdeskSize:
    tickets: int
    comments: int
    classes: int
    assets: int


class Hours:
    """Working-hour positions of the school calendar: position 0 is the opening of the first working day."""

    def __init__(self, calendar, first: datetime.date, last: datetime.date):
        from django.utils import timezone

        tz = timezone.get_default_timezone()
        self.day = calendar.day_hours * 3600
        self.opens: list[float] = []
        day = first
        while day <= last:
            if calendar.is_working_day(day):
                start = timezone.make_aware(datetime.datetime.combine(day, calendar.opens), tz)
                self.opens.append(start.timestamp())
            day += datetime.timedelta(days=1)

    def at(self, pos: float) -> float:
        """Epoch seconds of a position (an exact end of day is that day's closing, as WorkCalendar.add)."""
        i = int(pos // self.day)
        off = pos - i * self.day
        if off == 0 and i > 0:
            i, off = i - 1, self.day
        return self.opens[i] + off

    def pos(self, ts: float) -> float:
        i = bisect.bisect_right(self.opens, ts) - 1
        if i < 0:
            return 0.0
        return i * self.day + min(ts - self.opens[i], self.day)


_UTC = datetime.UTC
_utc = datetime.datetime.fromtimestamp


def _dt_sqlite(ts: float) -> str:
    """What Django's SQLite backend stores for an aware datetime: UTC, naive, ISO with a space."""
    return _utc(round(ts), _UTC).replace(tzinfo=None).isoformat(" ")


def _dt_pg(ts: float) -> str:
    return _utc(round(ts), _UTC).isoformat(" ")


def generate_helpdesk(size: HelpdeskSize, seed: int = 2027, log=print, analyze: bool = True) -> dict:
    from django.core.management.color import no_style
    from django.db import connection
    from django.utils import timezone

    from preau.accounts.models import Role, User
    from preau.fleet.models import Asset, Site
    from preau.helpdesk import services
    from preau.helpdesk.calendar import WorkCalendar
    from preau.helpdesk.demo import WEIGHTS
    from preau.helpdesk.figures import school_year_of
    from preau.helpdesk.lifecycle import Status as S
    from preau.helpdesk.models import Category, Comment, Domain, Party, Ticket, TicketEvent
    from preau.territory.models import Commune, School, SchoolClass

    t0 = time.perf_counter()
    info = generate(Size(size.assets, size.classes), seed=seed, log=log, analyze=False)
    timings = {"territory": round(time.perf_counter() - t0, 2)}
    rng = random.Random(seed)
    w = Writer(connection)
    _dt = _dt_sqlite if connection.vendor == "sqlite" else _dt_pg  # strings: Writer passes them through
    if connection.vendor == "sqlite":
        # The load only: a page cache the size of the requests' indexes (their B-trees are written out of
        # order). Put back to SQLite's default before the cases run.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -1000000")

    # ------------------------------------------------------------------ a big commune, users
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {School._meta.db_table} SET commune_id = 1 WHERE id % 20 = 2")
    schools = list(School.objects.order_by("pk").values_list("pk", "uai", "commune_id", "circonscription_id"))
    classes: dict[int, list[int]] = {}
    for pk, school in SchoolClass.objects.values_list("pk", "school_id"):
        classes.setdefault(school, []).append(pk)
    devices: dict[int, list[int]] = {}
    for pk, school in Asset.objects.filter(school__isnull=False).values_list("pk", "school_id"):
        devices.setdefault(school, []).append(pk)
    workshops = list(Site.objects.filter(kind="workshop").order_by("pk").values_list("pk", flat=True))

    admin = User.objects.get(pk=info["admin"])
    mairie = User.objects.get(pk=info["mairie"])  # staff of commune 1 (fleet_data)
    User.objects.bulk_create([User(username=f"bench-tech-{i + 1}", role=Role.TECHNICIAN, password="!")
                             for i in range(TECHNICIANS)])
    advisor = User.objects.create(username="bench-advisor", role=Role.ADVISOR, password="!")
    advisor.circonscriptions.add(1)
    atelier = User.objects.create(username="bench-workshop", role=Role.WORKSHOP, password="!")
    atelier.sites.add(workshops[0])
    directors = User.objects.bulk_create([User(username=f"bench-dir-{uai}", role=Role.DIRECTOR, school_id=pk,
                                               password="!") for pk, uai, _c, _ci in schools], batch_size=2000)
    director_of = {u.school_id: u.pk for u in User.objects.filter(role=Role.DIRECTOR)}
    tech_ids = [u.pk for u in User.objects.filter(role=Role.TECHNICIAN).order_by("pk")]

    # ------------------------------------------------------------------ calendar, categories, deadlines
    calendar = WorkCalendar.load()
    now = timezone.now()
    today = timezone.localdate()
    first_year = school_year_of(today) - 4
    hours = Hours(calendar, datetime.date(first_year, 9, 1), today + datetime.timedelta(days=400))
    now_ts = now.timestamp()
    now_pos = hours.pos(now_ts)
    H = 3600.0
    categories = list(Category.objects.filter(active=True).order_by("pk"))
    weights = [WEIGHTS.get(c.slug, 2) for c in categories]
    limits = {c.pk: tuple(float(h) * H for h in services.deadlines_for(c, c.default_priority)) for c in categories}

    def spent(limit: float, late_share: float) -> float:
        if rng.random() < late_share:
            return limit * rng.uniform(1.05, 3.5)
        return limit * rng.betavariate(1.6, 3.2)

    # Compact per-request facts for the comments and events pass (arrays: little memory at 500,000).
    n = size.tickets
    a_created, a_taken, a_resolved, a_closed = array("d"), array("d"), array("d"), array("d")
    a_requester, a_worker, a_comments = array("l"), array("l"), array("l")
    per_ticket = max(size.comments - HEAVY * HEAVY_COMMENTS, 0) / max(n, 1)
    positions = sorted(rng.uniform(0, now_pos - 60) for _ in range(n))
    open_count = [0]
    last_year_pos = hours.pos(now_ts - 365 * 86400)

    def tickets():
        for i in range(n):
            pk = i + 1
            p = positions[i]
            created = hours.at(p)
            school, uai, commune, circ = schools[rng.randrange(len(schools))]
            category = categories[rng.choices(range(len(categories)), weights)[0]]
            take_limit, resolve_limit = limits[category.pk]
            party, p_commune, p_circ, p_workshop = category.party, None, None, None
            if party == Party.COMMUNE:
                p_commune = commune
            elif party == Party.CIRCONSCRIPTION:
                p_circ = circ
            elif category.domain == Domain.EQUIPMENT and rng.random() < 1 / 60:
                party, p_workshop = Party.WORKSHOP, workshops[rng.randrange(len(workshops))]
            else:
                party = Party.AGGLOMERATION
            if party == Party.AGGLOMERATION:
                worker = tech_ids[rng.randrange(len(tech_ids))]
            elif party == Party.COMMUNE:
                worker = mairie.pk if p_commune == 1 else None
            elif party == Party.CIRCONSCRIPTION:
                worker = advisor.pk if p_circ == 1 else None
            else:
                worker = atelier.pk if p_workshop == workshops[0] else None
            requester = director_of[school]
            klass = rng.choice(classes[school]) if school in classes and rng.random() < 0.8 else None
            device = (rng.choice(devices[school]) if category.domain == Domain.EQUIPMENT and school in devices
                      and rng.random() < 0.6 else None)
            take_due, resolve_due = hours.at(p + take_limit), hours.at(p + resolve_limit)
            take_h = spent(take_limit, 0.07)
            resolve_h = max(take_h + 900, spent(resolve_limit, 0.1))
            # A backlog: one request in twenty-five of the last year waits for a part, the school or someone.
            stuck = p > last_year_pos and rng.random() < 0.04
            status, taken = S.NEW, None
            resolved = closed = paused = escalated = None
            take_hours = resolve_hours = satisfaction = None
            take_breached = resolve_breached = False
            updated = created
            if p + take_h > now_pos:
                take_breached = now_pos > p + take_limit
                resolve_breached = now_pos > p + resolve_limit
                worker_now = None
            else:
                worker_now = worker
                taken = hours.at(p + take_h)
                take_hours, take_breached = round(take_h / H, 2), take_h > take_limit
                status, updated = S.ASSIGNED, taken
                if p + resolve_h > now_pos or stuck:
                    status = rng.choice([S.ASSIGNED, S.IN_PROGRESS, S.IN_PROGRESS, S.WAITING_SCHOOL, S.WAITING_PART])
                    updated = taken + 1200
                    if status == S.WAITING_SCHOOL:
                        paused = updated
                    else:
                        resolve_breached = now_pos > p + resolve_limit
                else:
                    resolved = hours.at(p + resolve_h)
                    resolve_hours, resolve_breached = round(resolve_h / H, 2), resolve_h > resolve_limit
                    status, updated = S.RESOLVED, resolved
                    close = resolved + rng.randint(0, 6) * 86400 + rng.randint(1, 20) * 3600
                    if close < now_ts and rng.random() < 0.8:
                        status, closed, updated = S.CLOSED, close, close
                        if rng.random() < 0.45:
                            late = take_breached or resolve_breached
                            satisfaction = rng.choices([1, 2, 3, 4, 5], weights=[6, 10, 18, 30, 36] if late
                                                       else [1, 2, 8, 32, 57])[0]
            if status not in (S.RESOLVED, S.CLOSED):
                open_count[0] += 1
                if take_breached or resolve_breached:
                    escalated = take_due if take_breached else resolve_due
            merged = pk - 1 if pk > HEAVY + 1 and status == S.CLOSED and rng.random() < 0.003 else None
            k = HEAVY_COMMENTS if pk <= HEAVY else int(per_ticket * 2 * rng.random() + 0.5)
            a_created.append(created)
            a_taken.append(taken or 0)
            a_resolved.append(resolved or 0)
            a_closed.append(closed or 0)
            a_requester.append(requester)
            a_worker.append(worker_now or worker or 0)
            a_comments.append(k)
            yield (pk, school, klass, category.pk, category.default_priority, category.label, "", device, requester,
                   status, party, p_commune, p_circ, p_workshop, worker_now, _dt(created), _dt(updated),
                   taken and _dt(taken), resolved and _dt(resolved), closed and _dt(closed), _dt(take_due),
                   _dt(resolve_due), paused and _dt(paused), take_breached, resolve_breached, None,
                   escalated and _dt(escalated), merged, None, None, satisfaction, "", 0, take_hours, resolve_hours)

    def step(name, model, fields, rows):
        t = time.perf_counter()
        count = w.insert(model, fields, rows)
        timings[name] = round(time.perf_counter() - t, 2)
        log(f"  {name}: {count:,} rows in {timings[name]} s")
        return count

    n_tickets = step("tickets", Ticket, [
        "id", "school", "school_class", "category", "priority", "title", "description", "device", "requester",
        "status", "party", "party_commune", "party_circonscription", "party_workshop", "assignee", "created_at",
        "updated_at", "taken_at", "resolved_at", "closed_at", "take_charge_due", "resolve_due", "paused_at",
        "take_charge_breached", "resolve_breached", "warned_at", "escalated_at", "merged_into", "replacement",
        "resolved_by_article", "satisfaction", "satisfaction_comment", "reopen_count", "take_charge_hours",
        "resolve_hours"], tickets())
    positions.clear()

    def comments():
        cid = 0
        for i in range(n):
            k = a_comments[i]
            if not k:
                continue
            start = a_created[i]
            end = a_closed[i] or a_resolved[i] or now_ts
            step_s = (end - start) / (k + 1)
            worker, requester = a_worker[i], a_requester[i]
            for j in range(k):
                cid += 1
                internal = bool(worker) and rng.random() < 0.15
                if internal:
                    author, body = worker, INTERNAL[cid % len(INTERNAL)]
                else:
                    author = requester if (j % 2 == 0 or not worker) else worker
                    body = PUBLIC[cid % len(PUBLIC)]
                yield cid, i + 1, author, body, internal, False, _dt(start + step_s * (j + 1))

    n_comments = step("comments", Comment, ["id", "ticket", "author", "body", "internal", "via_link", "created_at"],
                      comments())

    def events():
        eid = 0
        for i in range(n):
            pk, requester, worker = i + 1, a_requester[i], a_worker[i] or None
            eid += 1
            yield eid, pk, _dt(a_created[i]), requester, "created", "", "", "{}", ""
            if a_taken[i]:
                eid += 1
                yield eid, pk, _dt(a_taken[i]), worker, "status", S.NEW, S.ASSIGNED, "{}", ""
            if a_resolved[i]:
                eid += 1
                yield eid, pk, _dt(a_resolved[i]), worker, "status", S.ASSIGNED, S.RESOLVED, "{}", ""
            if a_closed[i]:
                eid += 1
                yield eid, pk, _dt(a_closed[i]), requester, "status", S.RESOLVED, S.CLOSED, "{}", ""

    n_events = step("events", TicketEvent, ["id", "ticket", "at", "user", "kind", "from_status", "to_status",
                                            "details", "note"], events())
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Ticket, Comment, TicketEvent]):
            cursor.execute(sql)
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA cache_size = -2000")
    if analyze:
        timings["analyze"] = run_analyze(connection)
    timings["total"] = round(time.perf_counter() - t0, 2)
    big = Commune.objects.get(pk=1)
    school1 = schools[0]
    return {
        "communes": info["communes"], "schools": info["schools"], "classes": info["classes"],
        "assets": info["assets"], "tickets": n_tickets, "comments": n_comments, "events": n_events,
        "open": open_count[0], "big_commune_schools": School.objects.filter(commune_id=1).count(),
        "rows": info["rows"] + w.rows + len(directors), "timings": timings,
        # ids for the cases
        "admin": admin.pk, "technician": tech_ids[0], "mairie": mairie.pk, "advisor": advisor.pk,
        "workshop": atelier.pk, "director": director_of[school1[0]], "school_uai": school1[1],
        "big_commune": big.insee, "heavy": list(range(1, min(HEAVY, n) + 1)), "first_year": first_year,
    }
