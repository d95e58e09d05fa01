"""Fleet counts for `preau stats --json` (everything) and the dashboard (a user's scope)."""

from django.db.models import Count

from . import access
from .models import Asset, RequalificationBatch


def fleet_stats(user=None) -> dict:
    assets = Asset.objects.all() if user is None else access.assets_for(user)
    by_category: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for category, status, n in assets.order_by().values_list("category", "status").annotate(n=Count("pk")):
        by_category[category] = by_category.get(category, 0) + n
        by_status[status] = by_status.get(status, 0) + n
    batches = RequalificationBatch.objects.all() if user is None else access.batches_for(user)
    return {
        "assets": sum(by_category.values()),
        "by_category": dict(sorted(by_category.items())),
        "by_status": dict(sorted(by_status.items())),
        "batches": dict(sorted(batches.order_by().values_list("state").annotate(n=Count("pk")))),
    }

