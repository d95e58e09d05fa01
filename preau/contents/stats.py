"""Contents counts for `preau stats --json` (everything) and the dashboard (a user's scope): NAS nodes
(total, enrolled, silent, revoked) and, per collection, its current version and the share of enrolled NAS
receiving it that hold it."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from . import access
from .models import NasNode, Release, Subscription


def subscribed_q(collection) -> Q | None:
    """A filter on NasNode for the schools receiving the collection (None: no school)."""
    q = None
    for scope, commune_id, kind, school_id in collection.subscriptions.values_list(
            "scope", "commune_id", "school_kind", "school_id"):
        if scope == Subscription.Scope.ALL:
            return Q()
        part = {Subscription.Scope.COMMUNE: Q(school__commune_id=commune_id),
                Subscription.Scope.KIND: Q(school__kind=kind),
                Subscription.Scope.SCHOOL: Q(school_id=school_id)}.get(scope)
        if part is not None:
            q = part if q is None else q | part
    return q


def contents_stats(user=None) -> dict:
    nodes = NasNode.objects.all() if user is None else access.nodes_for(user)
    active = nodes.filter(enrolled_at__isnull=False, revoked_at__isnull=True)
    limit = timezone.now() - timedelta(days=int(getattr(settings, "PREAU_NAS_SILENT_DAYS", 7)))
    current: dict = {}
    for release in (Release.objects.filter(withdrawn_at__isnull=True).select_related("collection")
                    .order_by("collection__slug", "-version")):
        current.setdefault(release.collection.slug, release)
    collections = {}
    for slug, release in current.items():
        q = subscribed_q(release.collection)
        receiving = active.filter(q) if q is not None else active.none()
        total = receiving.count()
        up = receiving.filter(**{f"held__{slug}__gte": release.version}).count() if total else 0
        collections[slug] = {"version": release.version, "nodes": total, "up_to_date": up,
                             "share": round(up / total, 3) if total else None}
    return {
        "nodes": nodes.count(),
        "enrolled": active.count(),
        "silent": active.filter(Q(last_checkin_at__lt=limit) | Q(last_checkin_at__isnull=True)).count(),
        "revoked": nodes.filter(revoked_at__isnull=False).count(),
        "collections": collections,
    }
