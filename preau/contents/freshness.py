"""Freshness of the contents on the schools' NAS: for each collection, how many subscribed schools hold its
current release, are late by one release or more, never received it, or have a failing or silent NAS.

One state per (school, collection), first match wins:
- failing: the school's NAS (enrolled, not revoked) reported an error at its last check-in;
- silent: the NAS has not checked in for PREAU_NAS_SILENT_DAYS days (or never since its enrolment);
- never: no NAS (or a revoked or never-enrolled one), or a NAS holding nothing of the collection;
- uptodate: it holds the current release (the latest not withdrawn);
- late1 / late: it holds an older version, one (or more) non-withdrawn release behind the current one.
Only schools subscribed to the collection count; a collection without any current release counts nobody.

Bounded queries whatever the number of schools and NAS: schools, collections, releases, subscriptions and
nodes are each read once (values_list), the rest is computed in Python.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Collection, NasNode, Release, Subscription

STATES = {
    "uptodate": _("à jour"),
    "late1": _("en retard d'une version"),
    "late": _("en retard de plusieurs versions"),
    "never": _("jamais livrée"),
    "failing": _("NAS en erreur"),
    "silent": _("NAS silencieux"),
}
COLOURS = {
    "uptodate": "#146c2e", "late1": "#c98a00", "late": "#c45a00", "never": "#6b6b6b",
    "failing": "#a4161a", "silent": "#5b3f8c",
}


def silent_days() -> int:
    return int(getattr(settings, "PREAU_NAS_SILENT_DAYS", 7))


@dataclass
class SchoolRow:
    pk: int
    uai: str
    name: str
    commune_id: int
    kind: str
    lat: float | None
    lon: float | None


@dataclass
class NodeRow:
    node_id: str
    held: dict
    last_checkin_at: object
    last_error: str
    active: bool
    silent: bool


@dataclass
class CollectionFreshness:
    collection: Collection
    current: int | None
    counts: dict = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    _states: dict | None = None
    _evaluate: object = None  # computes the states when first asked (compute() gives it)

    @property
    def states(self) -> dict:
        """school pk -> state, for the subscribed schools (computed on first use: the dashboard needs it for one
        collection only, the counts are computed without it)."""
        if self._states is None:
            self._states = self._evaluate(self, True) if self._evaluate else {}
        return self._states

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def bar(self) -> list[tuple[str, int, str, float, str]]:
        """[(state, count, label, percent, colour)] for the stacked bar and its table."""
        total = self.total or 1
        return [(key, self.counts[key], STATES[key], round(100 * self.counts[key] / total, 1), COLOURS[key])
                for key in STATES]


@dataclass
class Freshness:
    schools: dict  # pk -> SchoolRow
    nodes: dict  # school pk -> NodeRow
    collections: list  # [CollectionFreshness]
    silent: list  # [(SchoolRow, NodeRow)]
    failing: list  # [(SchoolRow, NodeRow)]


def subscribed_schools(subs: list[tuple], schools: dict, by_commune: dict, by_kind: dict) -> list[int]:
    """The pks of the schools (of `schools`) a collection's subscriptions reach, in the order of `schools`.
    subs: [(scope, commune_id, school_kind, school_id)]; by_commune / by_kind: {commune_id / kind: [pk]}."""
    S = Subscription.Scope
    if any(scope == S.ALL for scope, *_rest in subs):
        return list(schools)
    reached: set[int] = set()
    for scope, commune_id, kind, school_id in subs:
        if scope == S.COMMUNE:
            reached.update(by_commune.get(commune_id, ()))
        elif scope == S.KIND:
            reached.update(by_kind.get(kind, ()))
        elif scope == S.SCHOOL and school_id in schools:
            reached.add(school_id)
    return [pk for pk in schools if pk in reached]


def state_of(node: NodeRow | None, slug: str, versions: list[int]) -> str:
    """versions: the collection's non-withdrawn release versions, ascending (the last one is current)."""
    if node is not None and node.active and node.last_error:
        return "failing"
    if node is not None and node.active and node.silent:
        return "silent"
    if node is None or not node.active:
        return "never"
    held = (node.held or {}).get(slug)
    if not isinstance(held, int) or isinstance(held, bool):
        return "never"
    if held == versions[-1]:
        return "uptodate"
    behind = len(versions) - bisect_right(versions, held)
    return "late1" if behind <= 1 else "late"


def compute(schools_qs, now=None) -> Freshness:
    """The freshness of every collection over the schools of schools_qs (the user's scope)."""
    now = now or timezone.now()
    limit = now - timedelta(days=silent_days())
    schools = {row[0]: SchoolRow(*row) for row in schools_qs.filter(closed_on__isnull=True).order_by("name")
               .values_list("pk", "uai", "name", "commune_id", "kind", "lat", "lon")}
    nodes: dict[int, NodeRow] = {}
    for school_id, node_id, held, last_checkin, error, enrolled, revoked in (
            NasNode.objects.filter(school__in=schools_qs).values_list(
                "school_id", "node_id", "held", "last_checkin_at", "last_error", "enrolled_at", "revoked_at")):
        active = enrolled is not None and revoked is None
        nodes[school_id] = NodeRow(node_id, held or {}, last_checkin, error, active,
                                   active and (last_checkin is None or last_checkin < limit))
    versions: dict[int, list[int]] = {}
    for collection_id, version in (Release.objects.filter(withdrawn_at__isnull=True)
                                   .order_by("collection_id", "version").values_list("collection_id", "version")):
        versions.setdefault(collection_id, []).append(version)
    subs: dict[int, list[tuple]] = {}
    for collection_id, *rest in Subscription.objects.values_list("collection_id", "scope", "commune_id",
                                                                 "school_kind", "school_id"):
        subs.setdefault(collection_id, []).append(tuple(rest))
    by_commune: dict[int, list[int]] = {}
    by_kind: dict[str, list[int]] = {}
    for pk, school in schools.items():
        by_commune.setdefault(school.commune_id, []).append(pk)
        by_kind.setdefault(school.kind, []).append(pk)
    # Each node's class once: failing / silent (active NAS), "" (active, judged on what it holds); schools
    # without an active NAS are "never" for every collection.
    klass: dict[int, str] = {}
    for pk, n in nodes.items():
        if n.active:
            klass[pk] = "failing" if n.last_error else "silent" if n.silent else ""

    def evaluate(cf: CollectionFreshness, with_states: bool) -> dict:
        """Count (and, with_states, return) the states of the collection's subscribed schools: as state_of(),
        but each held version's state is worked out once per collection, not once per school."""
        slug, cv = cf.collection.slug, versions.get(cf.collection.pk, [])
        counts = dict.fromkeys(STATES, 0)
        states: dict[int, str] = {}
        if cv:
            by_version: dict = {}
            for pk in subscribed_schools(subs.get(cf.collection.pk, []), schools, by_commune, by_kind):
                k = klass.get(pk)
                if k is None:
                    state = "never"
                elif k:
                    state = k
                else:
                    held = nodes[pk].held.get(slug)
                    if type(held) is not int:  # nothing held, or not a version (state_of: never)
                        state = "never"
                    else:
                        state = by_version.get(held)
                        if state is None:
                            state = by_version[held] = state_of(nodes[pk], slug, cv)
                counts[state] += 1
                if with_states:
                    states[pk] = state
        cf.counts = counts
        return states

    out = []
    for collection in Collection.objects.order_by("name"):
        cv = versions.get(collection.pk, [])
        cf = CollectionFreshness(collection, cv[-1] if cv else None, _evaluate=evaluate)
        evaluate(cf, False)
        out.append(cf)
    silent = [(schools[pk], n) for pk, n in nodes.items() if pk in schools and n.silent]
    failing = [(schools[pk], n) for pk, n in nodes.items() if pk in schools and n.active and n.last_error]
    silent.sort(key=lambda p: (p[1].last_checkin_at is not None, p[1].last_checkin_at or now))
    failing.sort(key=lambda p: p[0].name)
    return Freshness(schools, nodes, out, silent, failing)


def data_fingerprint() -> tuple:
    """What the dashboard's figures depend on, in one cheap query: NAS (count, enrolled, revoked, reporting an
    error: one scan), deliveries (largest id: every new delivery is one; read on the primary key's index),
    schools (count, closed: one scan) and the offers' generation (collections, subscriptions, releases). The
    silence of a NAS depends on the clock, and a version an offline NAS reports before its tour's receipts
    makes no delivery: a page computed from this fingerprint is reused for a minute at most."""
    from preau.territory.models import School

    from . import services
    from .models import Delivery

    qn = connection.ops.quote_name
    n, d, sc = (qn(m._meta.db_table) for m in (NasNode, Delivery, School))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.*, b.*, c.*, {services._fingerprint_sql()} FROM "
            f"(SELECT COUNT(*), COUNT(enrolled_at), COUNT(revoked_at), "
            f"SUM(CASE WHEN last_error <> '' THEN 1 ELSE 0 END) FROM {n}) a, "
            f"(SELECT MAX(id) FROM {d}) b, (SELECT COUNT(*), COUNT(closed_on) FROM {sc}) c")
        return tuple(cursor.fetchone())


def school_block(user, school, now=None) -> dict | None:
    """What the school page shows about its NAS: per subscribed collection, the version held vs current and
    the state; the last error only for the contents team. None when the school has no NAS and no collection."""
    from . import access, services

    now = now or timezone.now()
    node = NasNode.objects.filter(school=school).first()
    row = None
    if node is not None:
        active = node.is_active
        row = NodeRow(node.node_id, node.held or {}, node.last_checkin_at, node.last_error, active,
                      active and (node.last_checkin_at is None
                                  or node.last_checkin_at < now - timedelta(days=silent_days())))
    collections = list(services.collections_for_school(school))
    if node is None and not collections:
        return None
    versions: dict[int, list[int]] = {}
    for collection_id, version in (Release.objects.filter(withdrawn_at__isnull=True,
                                                          collection__in=[c.pk for c in collections])
                                   .order_by("collection_id", "version").values_list("collection_id", "version")):
        versions.setdefault(collection_id, []).append(version)
    rows = []
    for c in collections:
        cv = versions.get(c.pk)
        held = (row.held if row else {}).get(c.slug)
        state = state_of(row, c.slug, cv) if cv else ""
        rows.append({"collection": c, "held": held, "current": cv[-1] if cv else None, "state": state,
                     "label": STATES.get(state, _("aucune version publiée")), "colour": COLOURS.get(state, "")})
    return {
        "node": node, "rows": rows, "silent": bool(row and row.silent), "silent_days": silent_days(),
        "show_error": access.can_manage_contents(user), "can_see_node": access.can_see_nodes(user),
    }
