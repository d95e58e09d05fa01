"""The assistance blocks of other apps' pages: a school's page and a device's page (fleet)."""

from __future__ import annotations

from urllib.parse import quote

from django.db.models import Q
from django.urls import reverse

from . import access, lifecycle

BLOCK_ROWS = 10


def school_tickets(user, school) -> dict:
    """The school's latest requests (those the user sees), its open count and the links. Two queries."""
    qs = access.tickets_for(user).filter(school=school)
    recent = list(qs.select_related("category", "school_class", "device").order_by("-created_at", "-pk")[:BLOCK_ROWS])
    return {
        "recent": recent,
        "open": qs.filter(status__in=lifecycle.OPEN).count(),
        "list_url": reverse("helpdesk:school", args=[school.uai]),
        "new_url": (reverse("helpdesk:new") + (f"?ecole={school.uai}" if access.is_agglomeration(user) else ""))
        if access.can_file(user, school) else "",
    }


def device_tickets(user, asset) -> dict:
    """The latest requests about a device (named by them, or installed by their replacement). One query."""
    recent = list(access.tickets_for(user).filter(Q(device=asset) | Q(replacement=asset))
                  .select_related("category").order_by("-created_at", "-pk")[:BLOCK_ROWS])
    can_file = asset.school_id is not None and access.can_file(user, asset.school)
    return {
        "recent": recent,
        "new_url": reverse("helpdesk:new") + f"?appareil={quote(asset.tag)}" if can_file else "",
    }

