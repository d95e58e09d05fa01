"""Room-by-room audit: walk a class with a phone, scan or tick what is there, get the differences.

An audit freezes what should be in the room when it starts (`expected`: the tags of the assets
placed in that class, or at the school outside any class, deployed or failed). Each scanned,
typed or ticked tag goes into `seen`. The differences:

- present: expected and seen;
- missing: expected, not seen;
- misplaced: seen here, but recorded elsewhere (another class, school or site);
- unknown: a tag no asset has.

Finishing writes an "audit" event on the timeline of every asset concerned (present, missing,
misplaced). Nothing changes place or status by itself: a missing device may be in the next room;
the technician then acts on each asset page (declare lost, move, deploy).
"""

import re

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .lifecycle import IN_PLACE
from .models import Asset, AssetEvent, RoomAudit

TAG_IN_URL = re.compile(r"/parc/appareils/([^/?#]+)/?")


def scanned_tag(text: str) -> str:
    """What a scanner or a phone gives: the tag itself, or the URL of the asset page printed in the QR label."""
    text = (text or "").strip()
    found = TAG_IN_URL.search(text)
    return (found.group(1) if found else text).strip().upper()[:32]


def expected_assets(school, school_class=None):
    qs = Asset.objects.filter(status__in=IN_PLACE, school=school)
    return qs.filter(school_class=school_class) if school_class else qs.filter(school_class__isnull=True)


@transaction.atomic
def start(user, school, school_class=None) -> RoomAudit:
    tags = sorted(expected_assets(school, school_class).values_list("tag", flat=True))
    return RoomAudit.objects.create(school=school, school_class=school_class, user=user, expected=tags, seen=[])


@transaction.atomic
def mark_seen(audit: RoomAudit, raw: str, seen: bool = True) -> str:
    audit = RoomAudit.objects.select_for_update().get(pk=audit.pk)
    if audit.finished_at:
        raise ValueError(_("Cet inventaire de salle est terminé."))
    tag = scanned_tag(raw)
    if not tag:
        raise ValueError(_("Saisissez ou scannez un numéro d'inventaire."))
    tags = set(audit.seen)
    if seen:
        tags.add(tag)
    else:
        tags.discard(tag)
    audit.seen = sorted(tags)
    audit.save(update_fields=["seen"])
    return tag


def differences(audit: RoomAudit) -> dict:
    """present / missing / misplaced / unknown, with the assets (one query for all of them)."""
    expected, seen = set(audit.expected), set(audit.seen)
    assets = {a.tag: a for a in Asset.objects.filter(tag__in=expected | seen)
              .select_related("model", "school", "school_class", "site")}
    return {
        "present": [assets[t] for t in sorted(expected & seen) if t in assets],
        "missing": [assets[t] for t in sorted(expected - seen) if t in assets],
        "misplaced": [assets[t] for t in sorted(seen - expected) if t in assets],
        "unknown": sorted(t for t in seen - expected if t not in assets),
    }


@transaction.atomic
def finish(user, audit: RoomAudit) -> dict:
    audit = RoomAudit.objects.select_for_update().get(pk=audit.pk)
    if audit.finished_at:
        raise ValueError(_("Cet inventaire de salle est déjà terminé."))
    diff = differences(audit)
    room = str(audit.school_class or audit.school)
    labels = {"present": _("constaté présent : %(room)s"), "missing": _("absent lors de l'inventaire : %(room)s"),
              "misplaced": _("trouvé ailleurs que prévu : %(room)s")}
    events = [AssetEvent(asset=asset, user=user, kind=AssetEvent.Kind.AUDIT, reason=labels[key] % {"room": room},
                         details={"audit": audit.pk, "result": key})
              for key in ("present", "missing", "misplaced") for asset in diff[key]]
    AssetEvent.objects.bulk_create(events)
    audit.finished_at = timezone.now()
    audit.save(update_fields=["finished_at"])
    return diff
