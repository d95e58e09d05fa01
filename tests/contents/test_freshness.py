"""Freshness of the contents (issue 5): the computation per collection, the dashboard (allowed, denied, bounded
queries) and the "Contenus" block of the school page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from preau.contents import freshness
from preau.contents.models import Collection, NasNode, Release, Subscription
from preau.territory.models import School

pytestmark = pytest.mark.django_db


def make_node(school, held=None, *, days=0, error="", enrolled=True, revoked=False):
    now = timezone.now()
    return NasNode.objects.create(
        school=school, node_id=f"nas-{school.uai.lower()}", held=held or {}, last_error=error,
        enrolled_at=now - timedelta(days=60) if enrolled else None,
        revoked_at=now if revoked else None, last_checkin_at=now - timedelta(days=days) if enrolled else None)


def make_school(cast, uai, name, commune=None, **extra):
    return School.objects.create(uai=uai, name=name, kind="primaire", commune=commune or cast.commune_a,
                                 lat=45.43, lon=4.40, **extra)


@pytest.fixture
def built(cast, settings):
    """One collection for every school (v1, v2, v3 current, v4 withdrawn), one only for sa1 (v1), and a
    school in each state."""
    settings.PREAU_NAS_SILENT_DAYS = 7
    b = type("Built", (), {})()
    b.cast = cast
    b.c = Collection.objects.create(slug="cycle2", name="Ressources cycle 2")
    Subscription.objects.create(collection=b.c, scope=Subscription.Scope.ALL)
    for v in (1, 2, 3, 4):
        Release.objects.create(collection=b.c, version=v, manifest=f"m{v}",
                               withdrawn_at=timezone.now() if v == 4 else None)
    b.only = Collection.objects.create(slug="projet-sa1", name="Projet Tilleuls")
    Subscription.objects.create(collection=b.only, scope=Subscription.Scope.SCHOOL, school=cast.sa1)
    Release.objects.create(collection=b.only, version=1, manifest="p1")
    make_node(cast.sa1, {"cycle2": 3, "projet-sa1": 1})  # up to date (both)
    make_node(cast.sa2, {"cycle2": 2})  # late by one
    make_node(cast.sb1, {"cycle2": 1})  # late by two
    b.s_none = make_school(cast, "0429910T", "École sans NAS")  # never: no node
    b.s_empty = make_school(cast, "0429911U", "École NAS vide")
    make_node(b.s_empty, {})  # never: holds nothing
    b.s_fail = make_school(cast, "0429912V", "École en panne")
    make_node(b.s_fail, {"cycle2": 3}, error="disque plein")  # failing
    b.s_silent = make_school(cast, "0429913W", "École muette", commune=cast.commune_b)
    make_node(b.s_silent, {"cycle2": 3}, days=30)  # silent
    b.s_revoked = make_school(cast, "0429914X", "École révoquée")
    make_node(b.s_revoked, {"cycle2": 3}, revoked=True)  # never (revoked node)
    return b


def test_counts_per_state(built):
    data = freshness.compute(School.objects.all())
    by_slug = {cf.collection.slug: cf for cf in data.collections}
    cf = by_slug["cycle2"]
    assert cf.current == 3
    assert cf.counts == {"uptodate": 1, "late1": 1, "late": 1, "never": 3, "failing": 1, "silent": 1}
    assert cf.states[built.cast.sa2.pk] == "late1" and cf.states[built.s_fail.pk] == "failing"
    only = by_slug["projet-sa1"]
    assert only.counts["uptodate"] == 1 and only.total == 1  # only the subscribed school counts
    assert [s.uai for s, _n in data.silent] == ["0429913W"]
    assert [(s.uai, n.last_error) for s, n in data.failing] == [("0429912V", "disque plein")]


def test_withdrawing_the_current_release_moves_the_target(built):
    Release.objects.filter(collection=built.c, version=3).update(withdrawn_at=timezone.now())
    cf = {c.collection.slug: c for c in freshness.compute(School.objects.all()).collections}["cycle2"]
    assert cf.current == 2
    # sa1 holds the withdrawn v3: not up to date; sa2 now up to date; sb1 one behind.
    assert cf.states[built.cast.sa1.pk] == "late1"
    assert cf.states[built.cast.sa2.pk] == "uptodate"
    assert cf.states[built.cast.sb1.pk] == "late1"


def test_scope_limits_the_schools(built):
    data = freshness.compute(School.objects.filter(commune=built.cast.commune_b))
    cf = {c.collection.slug: c for c in data.collections}["cycle2"]
    assert cf.counts == {"uptodate": 0, "late1": 0, "late": 1, "never": 0, "failing": 0, "silent": 1}
    assert data.failing == []


def test_dashboard_allowed_for_committee_and_technician(built, login):
    for user in (built.cast.committee, built.cast.technician):
        page = login(user).get(reverse("contents:freshness"))
        assert page.status_code == 200
        html = page.content.decode()
        assert "Ressources cycle 2" in html and "disque plein" in html and "École muette" in html
        assert 'class="bar"' in html and '<svg class="map"' in html
        assert html.count('data-state="failing"') >= 2  # table row + map point
        assert reverse("contents:node", args=["0429912V"]) in html


def test_dashboard_scoped_for_commune_staff(built, login):
    html = login(built.cast.commune_a_staff).get(reverse("contents:freshness")).content.decode()
    assert "École en panne" in html and "École muette" not in html  # sb-commune school out of scope
    assert 'data-uai="0429902K"' not in html


def test_dashboard_map_for_chosen_collection(built, login):
    html = login(built.cast.committee).get(reverse("contents:freshness") + "?collection=projet-sa1")\
        .content.decode()
    map_part = html[html.index('id="map"'):]
    assert 'data-uai="0429901J"' in map_part and 'data-uai="0429903L"' not in map_part


def test_dashboard_denied(built, login, client):
    assert login(built.cast.workshop).get(reverse("contents:freshness")).status_code == 403
    client.logout()
    anonymous = client.get(reverse("contents:freshness"))
    assert anonymous.status_code == 302


def _query_count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_dashboard_queries_do_not_grow_with_nodes(cast, login, django_assert_max_num_queries):
    c = Collection.objects.create(slug="c", name="C")
    Subscription.objects.create(collection=c, scope=Subscription.Scope.ALL)
    Release.objects.create(collection=c, version=1, manifest="m1")
    Release.objects.create(collection=c, version=2, manifest="m2")
    client = login(cast.committee)
    url = reverse("contents:freshness")

    def add(n, start):
        for i in range(start, start + n):
            school = make_school(cast, f"05{i:05d}A", f"École {i}")
            make_node(school, {"c": 1 + i % 2}, error="e" if i % 7 == 0 else "", days=20 if i % 5 == 0 else 0)

    add(5, 0)
    few = _query_count(client, url)
    add(45, 5)
    with django_assert_max_num_queries(few):
        page = client.get(url)
    assert page.status_code == 200
    assert page.content.decode().count("data-uai=") >= 50


def test_school_block_shown(built, login):
    url = reverse("territory:school", args=[built.cast.sa2.uai])
    html = login(built.cast.director_sb1).get(url)
    assert html.status_code == 404  # not their school: the page itself is out of scope
    html = login(built.cast.commune_a_staff).get(url).content.decode()
    assert 'id="contents"' in html and 'data-slug="cycle2" data-state="late1"' in html
    assert "v2" in html and "v3" in html and reverse("contents:node", args=[built.cast.sa2.uai]) in html


def test_school_block_error_only_for_managers(built, login):
    url = reverse("territory:school", args=[built.s_fail.uai])
    staff = login(built.cast.commune_a_staff).get(url).content.decode()
    assert 'data-state="failing"' in staff and "disque plein" not in staff
    tech = login(built.cast.technician).get(url).content.decode()
    assert "disque plein" in tech


def test_school_block_never_and_silent(built, login):
    html = login(built.cast.admin).get(reverse("territory:school", args=[built.s_none.uai])).content.decode()
    assert "pas encore de NAS" in html and 'data-state="never"' in html
    html = login(built.cast.admin).get(reverse("territory:school", args=[built.s_silent.uai])).content.decode()
    assert 'data-state="silent"' in html and "silencieux" in html


def test_commune_and_kind_subscriptions(built):
    c = Collection.objects.create(slug="maternelles", name="Maternelles et Saint-Chamond")
    Subscription.objects.create(collection=c, scope=Subscription.Scope.KIND, school_kind="maternelle")
    Subscription.objects.create(collection=c, scope=Subscription.Scope.COMMUNE, commune=built.cast.commune_b)
    Release.objects.create(collection=c, version=1, manifest="x1")
    cf = {x.collection.slug: x for x in freshness.compute(School.objects.all()).collections}["maternelles"]
    # sb1 (maternelle, commune B, holds nothing of it) and the silent school of commune B; nobody else.
    assert cf.states == {built.cast.sb1.pk: "never", built.s_silent.pk: "silent"}


def test_dashboard_map_defaults_to_the_widest_collection(built, login):
    html = login(built.cast.committee).get(reverse("contents:freshness")).content.decode()
    assert "Carte : Ressources cycle 2" in html
    map_part = html[html.index('id="map"'):]
    assert 'data-uai="0429913W"' in map_part and 'id="late"' in map_part


def test_dashboard_lists_are_capped_with_links_to_the_whole_lists(cast, login, monkeypatch):
    """Counts are whole; the lists show their first rows and point to the NAS list's filters (silent, in
    error) and to the tours (late schools)."""
    from preau.contents import views_freshness

    monkeypatch.setattr(views_freshness, "ALERT_ROWS", 3)
    monkeypatch.setattr(views_freshness, "LATE_ROWS", 4)
    c = Collection.objects.create(slug="c", name="C")
    Subscription.objects.create(collection=c, scope=Subscription.Scope.ALL)
    Release.objects.create(collection=c, version=1, manifest="m1")
    Release.objects.create(collection=c, version=2, manifest="m2")
    for i in range(6):  # silent and late
        make_node(make_school(cast, f"06{i:05d}A", f"Muette {i}"), {"c": 1}, days=30)
    for i in range(5):  # failing and late
        make_node(make_school(cast, f"07{i:05d}A", f"Panne {i}"), {"c": 1}, error="disque plein")
    html = login(cast.technician).get(reverse("contents:freshness") + "?collection=c").content.decode()
    silent = html[html.index('id="silent"'):html.index('id="failing"')]
    assert silent.count("<li>") == 3 and "6 NAS silencieux" in silent
    assert reverse("contents:nodes") + "?status=silent" in silent and "Voir les 6 NAS silencieux" in silent
    failing = html[html.index('id="failing"'):html.index("Par collection")]
    assert failing.count("<tr><td>") == 3 and reverse("contents:nodes") + "?status=error" in failing
    late = html[html.index('id="late"'):]
    assert late.count("<tr data-state=") == 4 and "écoles pas à jour (les 4 premières)" in late
    assert reverse("contents:tours") in late
    # a reader without the tours (a commune) gets the lists without the planning link
    html = login(cast.commune_a_staff).get(reverse("contents:freshness") + "?collection=c").content.decode()
    assert reverse("contents:tours") not in html[html.index('id="late"'):]
