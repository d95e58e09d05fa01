"""The demo contents: collections published through the real engine, NAS nodes in mixed states, counts in
`preau stats`, and the same result for the same seed."""

import random

import pytest

from preau.contents import demo
from preau.contents.models import Collection, Delivery, NasNode, Release, Subscription, Tour
from preau.contents.stats import contents_stats
from preau.territory.models import School

pytestmark = pytest.mark.django_db


@pytest.fixture
def schools(cast):
    School.objects.bulk_create([
        School(uai=f"04299{i:02d}X", name=f"École {i}", kind=["maternelle", "elementaire", "primaire"][i % 3],
               commune=cast.commune_a if i % 2 else cast.commune_b, circonscription=cast.circ1)
        for i in range(60)])
    return list(School.objects.order_by("uai"))


def build(settings, tmp_path, schools, name: str) -> dict:
    settings.PREAU_CONTENT_STORE = str(tmp_path / name / "store")
    settings.PREAU_CONTENT_KEY = str(tmp_path / name / "publisher.key")
    settings.DATA_DIR = tmp_path / name
    return demo.build_contents(random.Random("2016:contents"), {"schools": schools})


def fingerprint():
    nodes = sorted((n.node_id, n.mode, sorted(n.held.items()), n.last_error, n.enrolled_at is None,
                    n.revoked_at is None, n.last_checkin_at is None) for n in NasNode.objects.all())
    releases = sorted(Release.objects.values_list("collection__slug", "version", "files", "total_bytes",
                                                  "new_bytes", "notes"))
    deliveries = sorted(Delivery.objects.values_list("node__node_id", "release__collection__slug",
                                                     "release__version", "via"))
    return nodes, releases, deliveries


def test_demo_contents_counts_states_and_determinism(settings, tmp_path, schools):
    counts = build(settings, tmp_path, schools, "first")
    assert counts["collections"] == Collection.objects.count() == 3
    assert counts["releases"] == Release.objects.count() == 7
    assert counts["nodes"] == NasNode.objects.count() and 50 <= counts["nodes"] < len(schools)
    assert counts["deliveries"] == Delivery.objects.count() > counts["nodes"]
    assert all(r.total_bytes < 20_000 and r.files >= 4 for r in Release.objects.all())
    assert Release.objects.filter(version__gt=1, new_bytes__lt=models_total()).exists()
    # Mixed states: enrolled, never enrolled (code issued), revoked, silent, never delivered, late by one.
    stats = contents_stats()
    assert stats["nodes"] == counts["nodes"] and 0 < stats["enrolled"] < stats["nodes"]
    assert stats["silent"] > 0 and stats["revoked"] > 0
    assert NasNode.objects.filter(enrolled_at__isnull=True).exists()
    assert NasNode.objects.filter(enrolled_at__isnull=False, revoked_at__isnull=True, held={}).exists()
    assert NasNode.objects.filter(held__cycle2=2).exists() and NasNode.objects.filter(held__cycle2=3).exists()
    for slug in ("cycle2", "cycle3", "client-leger-2026"):
        share = stats["collections"][slug]["share"]
        assert 0.3 < share < 1, (slug, share)
    # The thin-client image goes to elementary schools only.
    assert Subscription.objects.get(collection__slug="client-leger-2026").school_kind == "elementaire"
    assert not NasNode.objects.exclude(school__kind="elementaire").filter(
        held__has_key="client-leger-2026").exists()
    # A tour in progress: planned for the late offline schools of one commune, its disk built by the engine, one
    # school visited (its receipt ingested: deliveries by this tour), the others still to visit.
    tour = Tour.objects.get()
    assert counts["tours"] == 1 and tour.state == Tour.State.ON_TOUR and tour.bundle_id
    assert len({stop.school.commune_id for stop in tour.stops.select_related("school")}) == 1
    visited = Delivery.objects.filter(via=Delivery.Via.TOUR, tour=tour.name)
    assert visited.exists() and visited.values("node").distinct().count() == 1 < tour.stops.count()
    first = fingerprint()
    # Same seed, emptied database and a fresh store: the same contents again.
    for model in (Tour, Delivery, NasNode, Subscription, Release, Collection):
        model.objects.all().delete()
    build(settings, tmp_path, schools, "second")
    assert fingerprint() == first


def models_total() -> int:
    return max(Release.objects.values_list("total_bytes", flat=True))


def test_demo_survives_a_leftover_store(settings, tmp_path, schools):
    build(settings, tmp_path, schools, "same")
    releases = sorted(Release.objects.values_list("collection__slug", "version", "total_bytes"))
    for model in (Tour, Delivery, NasNode, Subscription, Release, Collection):
        model.objects.all().delete()
    build(settings, tmp_path, schools, "same")  # the store still holds the previous demo's versions
    assert sorted(Release.objects.values_list("collection__slug", "version", "total_bytes")) == releases
