"""A human places a queued device: it becomes an Asset (through preau.fleet.services), with its MAC addresses,
so that the agent's next inventory matches it."""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import services
from ..models import AgentSubmission, Asset, Category, DeviceModel
from ..services import FleetError
from .intake import MATCHED_BY, find_asset, reported_fields, sync_interfaces
from .parse import Inventory

TAG_PREFIX = "SEM-"
TAG_WIDTH = 5
_TAG_RE = re.compile(r"^SEM-(\d+)$")


def next_free_tag(prefix: str = TAG_PREFIX) -> str:
    """The tag after the highest SEM-nnnnn in use (longest first, so SEM-100000 comes after SEM-99999)."""
    tags = (Asset.objects.filter(tag__startswith=prefix).annotate(n=Length("tag"))
            .order_by("-n", "-tag").values_list("tag", flat=True)[:20])
    numbers = [int(m.group(1)) for t in tags if (m := _TAG_RE.match(t))]
    number = max(numbers, default=0) + 1
    while True:
        tag = f"{prefix}{number:0{TAG_WIDTH}d}"
        if not Asset.objects.filter(tag=tag).exists():
            return tag
        number += 1


# How firmware names makers -> how the catalogue does (so that "Dell Inc." finds the "Dell" models).
MAKERS = {
    "dell": "Dell", "dell inc": "Dell", "dell computer corporation": "Dell",
    "hewlett-packard": "HP", "hp": "HP", "hpe": "HP", "hewlett packard": "HP",
    "lenovo": "Lenovo", "asustek computer inc": "ASUS", "asus": "ASUS", "acer": "Acer",
    "fujitsu": "Fujitsu", "fujitsu siemens": "Fujitsu", "toshiba": "Toshiba", "dynabook inc": "Dynabook",
    "micro-star international co., ltd": "MSI", "micro-star international": "MSI",
    "gigabyte technology co., ltd": "Gigabyte", "apple inc": "Apple", "microsoft corporation": "Microsoft",
    "samsung electronics co., ltd": "Samsung", "intel corporation": "Intel", "medion": "Medion",
}


def canonical_maker(maker: str) -> str:
    text = " ".join((maker or "").split())
    key = text.lower().rstrip(".")
    return MAKERS.get(key, text)


def category_for(chassis: str) -> str:
    return Inventory(format="", deviceid="", chassis=chassis or "").category


def model_for(user, *, maker: str, name: str, category: str, inventory: Inventory) -> DeviceModel:
    """The catalogue model maker+name, created (with the machine's specs as the model's) when missing."""
    maker, name = canonical_maker(maker)[:80], name.strip()[:120]
    existing = DeviceModel.objects.filter(maker__iexact=maker, name__iexact=name).first()
    if existing is not None:
        return existing
    return services.do_create_model(user, maker=maker, name=name, category=category, cpu=inventory.cpu,
                                    cpu_64bit=inventory.cpu_64bit, ram_mb=inventory.ram_mb, disk_gb=inventory.disk_gb,
                                    note=_("créé depuis un inventaire d'agent"))


@transaction.atomic
def place(user, submission: AgentSubmission, *, tag: str, model: DeviceModel, category: str | None = None,
          school=None, school_class=None, slot=None, deploy: bool = True) -> Asset:
    """Create the asset of a queued submission, deploy it when asked, give it the reported MACs; "placed"."""
    submission = AgentSubmission.objects.select_for_update().get(pk=submission.pk)
    if submission.outcome != AgentSubmission.Outcome.QUEUED:
        raise FleetError(_("Cet inventaire n'est plus en attente (« %(o)s ») : rien à placer.")
                         % {"o": submission.get_outcome_display()})
    inventory = Inventory.from_summary(submission.data)
    known = find_asset(inventory)
    if known.asset is not None:
        raise FleetError(_("Cet appareil correspond déjà à %(tag)s (par %(by)s) : il n'est pas nouveau.")
                         % {"tag": known.asset.tag, "by": MATCHED_BY[known.by]})
    category = category or model.category
    if category not in Category.values:
        raise FleetError(_("Catégorie inconnue : %(c)s.") % {"c": category})
    if slot is not None:
        school, school_class = slot.school, slot.school_class
    elif school_class is not None:
        school = school_class.school
    place_fields = {"school": school, "school_class": school_class} if school is not None else {}
    fields = reported_fields(inventory)
    asset = services.do_create_asset(
        user, model=model, tag=tag.strip(), category=category, serial=inventory.usable_serial,
        last_inventory_at=submission.received_at or timezone.now(), **fields, **place_fields,
        reason=_("placé depuis la file des inventaires d'agent (%(id)s)") % {"id": submission.deviceid})
    if deploy:
        if school is None:
            raise FleetError(_("Pour mettre l'appareil en service, choisissez une école, une classe ou un emplacement."))
        asset = services.do_deploy(user, asset, slot=slot, school_class=None if slot else school_class,
                                   school=None if slot or school_class else school,
                                   reason=_("mise en service après inventaire automatique"))
    sync_interfaces(asset, inventory.interfaces)
    submission.outcome = AgentSubmission.Outcome.PLACED
    submission.asset = asset
    submission.school = school or submission.school
    submission.message = (_("Placé par %(user)s : %(tag)s.") % {"user": user, "tag": asset.tag})[:300]
    submission.save(update_fields=["outcome", "asset", "school", "message"])
    return asset


@transaction.atomic
def dismiss(user, submission: AgentSubmission, reason: str = "") -> AgentSubmission:
    """Set a queued or refused submission aside (a personal device, a test machine…)."""
    submission = AgentSubmission.objects.select_for_update().get(pk=submission.pk)
    if submission.outcome not in (AgentSubmission.Outcome.QUEUED, AgentSubmission.Outcome.REJECTED):
        raise FleetError(_("Seul un inventaire en attente ou refusé peut être écarté."))
    submission.outcome = AgentSubmission.Outcome.IGNORED
    text = _("Écarté par %(user)s.") % {"user": user}
    submission.message = f"{text} {reason.strip()}".strip()[:300]
    submission.save(update_fields=["outcome", "message"])
    return submission
