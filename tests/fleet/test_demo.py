"""The demo fleet (preau.fleet.demo): realistic counts, consistent places and slots, deterministic."""

import pytest
from django.db import transaction
from django.db.models import Count, F

from preau.accounts.models import User
from preau.core import demo
from preau.fleet import access
from preau.fleet.lifecycle import IN_PLACE, Status
from preau.fleet.models import (
    AgentSubmission,
    Asset,
    AssetEvent,
    BatchItem,
    Category,
    ErasureCertificate,
    RequalificationBatch,
    Site,
    Slot,
)

pytestmark = pytest.mark.django_db


class _Rollback(Exception):
    pass


def _fingerprint() -> tuple:
    return (
        list(Asset.objects.order_by("tag").values_list("tag", "status", "category", "serial", "school__uai",
                                                       "school_class__name", "model__name", "purchased_on")),
        list(Slot.objects.order_by("school__uai", "label").values_list("school__uai", "label", "asset__tag")),
        list(BatchItem.objects.order_by("batch__reference", "asset__tag")
             .values_list("batch__reference", "batch__state", "asset__tag", "eligibility", "result")),
    )


def test_demo_fleet_is_realistic_and_consistent():
    counts = demo.build(2016)["fleet"]
    assets = Asset.objects.all()
    total = assets.count()
    assert counts["assets"] == total
    assert 4_500 <= total <= 6_000
    # Tags SEM-00001… with no gap.
    tags = list(assets.order_by("tag").values_list("tag", flat=True))
    assert tags[0] == "SEM-00001" and tags[-1] == f"SEM-{total:05d}"
    # Every category of the catalogue is there, teachers' seats are the bulk.
    by_category = dict(assets.values_list("category").annotate(n=Count("pk")))
    assert set(by_category) == set(Category.values)
    assert by_category[Category.THIN_CLIENT] + by_category[Category.DESKTOP] > 1_500
    assert by_category[Category.PROJECTOR] + by_category[Category.SCREEN] > 1_200
    # Mixed ages: PCs from 2008 to 2020, 32-bit and 64-bit, with and without network boot.
    pcs = assets.filter(category=Category.DESKTOP)
    years = sorted(set(pcs.values_list("model__released_year", flat=True)))
    assert years[0] == 2008 and years[-1] == 2020
    assert pcs.filter(model__cpu_64bit=False).exists() and pcs.filter(model__cpu_64bit=True).exists()
    assert pcs.filter(model__netboot=False).exists()
    by_status = dict(assets.values_list("status").annotate(n=Count("pk")))
    assert by_status[Status.DEPLOYED] > 0.8 * total
    assert 50 <= by_status[Status.FAILED] <= 0.08 * total
    for status in (Status.IN_STOCK, Status.IN_REPAIR, Status.RETIRED, Status.RECYCLED, Status.IN_REQUALIFICATION):
        assert by_status.get(status, 0) > 0, status

    # Slots: most filled, some empty; at most one asset each, and that asset is in place there.
    slots = Slot.objects.all()
    assert slots.count() >= 4_000
    empty = slots.filter(asset__isnull=True).count()
    assert 0.02 * slots.count() <= empty <= 0.12 * slots.count()
    filled = slots.filter(asset__isnull=False)
    assert filled.values("asset").distinct().count() == filled.count()
    assert not filled.exclude(asset__status__in=IN_PLACE).exists()
    assert not filled.exclude(asset__school=F("school")).exists()
    assert not filled.filter(school_class__isnull=False).exclude(asset__school_class=F("school_class")).exists()
    assert not filled.exclude(asset__category=F("category")).exists()
    assert slots.filter(school_class__isnull=True, category=Category.NAS).count() > 200

    # Places: every deployed or failed asset is at a school (and in a class of that school); the rest on a site.
    assert not assets.filter(status__in=IN_PLACE, school__isnull=True).exists()
    assert not assets.filter(school_class__isnull=False).exclude(school_class__school=F("school")).exists()
    assert not assets.filter(site__isnull=False, school__isnull=False).exists()
    assert not assets.filter(site__isnull=True, school__isnull=True).exists()
    depot = Site.objects.get(kind=Site.Kind.DEPOT)
    assert assets.filter(site=depot, status=Status.IN_STOCK, category=Category.THIN_CLIENT).count() >= 50

    # One "created" event per asset (bulk), more for failures and batches.
    assert AssetEvent.objects.filter(kind=AssetEvent.Kind.CREATED).count() == total
    assert AssetEvent.objects.filter(kind=AssetEvent.Kind.STATUS, to_status=Status.FAILED).exists()

    # Two workshops, batches at every stage; the received one has erasure certificates.
    workshops = list(Site.objects.filter(kind=Site.Kind.WORKSHOP).order_by("pk"))
    assert len(workshops) == 2
    states = set(RequalificationBatch.objects.values_list("state", flat=True))
    assert {"planned", "picked_up", "received", "closed"} <= states
    received = RequalificationBatch.objects.get(state="received")
    assert ErasureCertificate.objects.filter(batch=received).exists()
    closed = RequalificationBatch.objects.get(state="closed")
    converted = closed.items.filter(result=BatchItem.Result.CONVERTED)
    assert converted.exists()
    assert not converted.exclude(asset__status=Status.DEPLOYED, asset__category=Category.THIN_CLIENT).exists()

    # The demo workshop user sees the batches of its own workshop only.
    atelier = User.objects.get(username="atelier")
    assert list(workshops[0].members.all()) == [atelier]
    seen = set(access.batches_for(atelier))
    assert seen == set(RequalificationBatch.objects.filter(workshop=workshops[0]))
    assert RequalificationBatch.objects.filter(workshop=workshops[1]).exists()
    assert not seen & set(RequalificationBatch.objects.filter(workshop=workshops[1]))

    # Agent inventories: some waiting to be placed, some refused, with plausible data.
    queued = AgentSubmission.objects.filter(outcome=AgentSubmission.Outcome.QUEUED)
    assert queued.count() >= 5
    assert all(s.school_id and s.data.get("interfaces") and s.data.get("hostname") for s in queued)
    assert AgentSubmission.objects.filter(outcome=AgentSubmission.Outcome.REJECTED).count() >= 2
    matched = AgentSubmission.objects.filter(outcome=AgentSubmission.Outcome.MATCHED)
    assert matched.count() >= 10 and not matched.filter(asset__isnull=True).exists()
    assert AssetEvent.objects.filter(kind=AssetEvent.Kind.INVENTORY).exists()


def test_demo_fleet_is_deterministic():
    def build(seed: int) -> tuple:
        try:
            with transaction.atomic():
                demo.build(seed)
                fingerprint = _fingerprint()
                raise _Rollback
        except _Rollback:
            pass
        assert not Asset.objects.exists()
        return fingerprint

    first = build(2016)
    assert len(first[0]) > 4_000
    assert build(2016) == first
    assert build(7)[0] != first[0]
