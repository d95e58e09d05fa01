"""API lists: filters (the filter sets shared with the web lists), ordering, pagination, SQL query count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from preau.accounts.access import communes_for, schools_for
from preau.accounts.models import Role, User
from preau.territory.api.views import ApiPagination
from preau.territory.codes import uai_check_letter
from preau.territory.filters import CommuneFilter, SchoolFilter
from preau.territory.models import Access, Commune, Connectivity, School, SchoolClass, Stratum

from .conftest import make_user

SA1, SA2, SB1 = "0429901J", "0429903L", "0429902K"
A, B = "42218", "42207"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """The cast hashes 9 passwords: a fast hasher for these tests (autouse runs before `cast`)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_api(cast):
    api = APIClient()
    api.force_authenticate(cast.admin)
    return api


def get_uais(api, query: str) -> list[str]:
    response = api.get(f"/api/v1/schools/?{query}")
    assert response.status_code == 200, response.content
    return [row["uai"] for row in response.json()["results"]]


# ---------------------------------------------------------------- SchoolFilter through the API

@pytest.mark.parametrize(("query", "expected"), [
    ("commune=42218", {SA1, SA2}),
    ("commune=42207", {SB1}),
    ("sector=private", {SA2}),
    ("sector=public", {SA1, SB1}),
    ("kind=maternelle", {SB1}),
    ("access=fibre", {SA1}),
    ("access=adsl", {SB1}),
    ("access=unknown", {SA2}),  # no connectivity record
    ("access=", {SA1, SA2, SB1}),  # empty = no filter, as in an HTML form
    ("network=rip", {SB1}),
    ("network=unknown", {SA2}),
    ("stratum=s5", {SA1, SA2}),
    ("stratum=s4", {SB1}),
    ("q=tilleuls", {SA1}),
    ("q=TILLEULS", {SA1}),
    ("q=Saint-Chamond", {SB1}),
    ("q=saint", {SA1, SA2, SB1}),
    ("q=0429902", {SB1}),
    ("q=0429902k", {SB1}),
    ("q=42207", {SB1}),
    ("q=Marie Saint", {SA2}),  # every word must match
    ("q=Marie Chamond", set()),
    ("sector=public&commune=42218", {SA1}),
])
def test_school_filters(admin_api, query, expected):
    assert set(get_uais(admin_api, query)) == expected


def test_school_filter_circonscription(cast, admin_api):
    assert set(get_uais(admin_api, f"circonscription={cast.circ1.pk}")) == {SA1, SA2}
    assert set(get_uais(admin_api, f"circonscription={cast.circ2.pk}")) == {SB1}


def test_unknown_access_includes_empty_records(cast, admin_api):
    Connectivity.objects.create(school=cast.sa2, access="")
    assert set(get_uais(admin_api, "access=unknown")) == {SA2}
    Connectivity.objects.filter(school=cast.sa2).update(access="satellite")
    assert get_uais(admin_api, "access=unknown") == []


@pytest.mark.parametrize("query", ["kind=lycee", "sector=x", "access=wifi", "stratum=s9", "circonscription=999999",
                                   "circonscription=abc", "ordering=secret"])
def test_invalid_filter_values_are_400(admin_api, query):
    response = admin_api.get(f"/api/v1/schools/?{query}")
    assert response.status_code == 400
    assert set(response.json()) == {query.split("=")[0]}


def test_filters_never_widen_the_scope(cast):
    api = APIClient()
    api.force_authenticate(cast.commune_a_staff)
    assert get_uais(api, "commune=42207") == []
    assert get_uais(api, "q=Chamond") == []
    api.force_authenticate(cast.director_sa1)
    assert get_uais(api, f"circonscription={cast.circ1.pk}") == [SA1]


@pytest.mark.parametrize(("query", "expected"), [
    ("ordering=-pupils", [SA1, SA2, SB1]),
    ("ordering=pupils", [SB1, SA2, SA1]),
    ("ordering=uai", [SA1, SB1, SA2]),
    ("ordering=-uai", [SA2, SB1, SA1]),
    ("ordering=-commune,-pupils", [SA1, SA2, SB1]),
])
def test_school_ordering(admin_api, query, expected):
    assert get_uais(admin_api, query) == expected


def test_school_ordering_by_name(admin_api):
    by_name = get_uais(admin_api, "ordering=name")
    assert get_uais(admin_api, "") == by_name  # the default order
    assert get_uais(admin_api, "ordering=-name") == by_name[::-1]


# ---------------------------------------------------------------- other lists

@pytest.mark.parametrize(("query", "expected"), [
    ("q=chamond", {B}), ("q=42218", {A}), ("network=rip", {B}), ("network=amii", {A}), ("network=unknown", set()),
    ("stratum=s5", {A}), ("epci=244200770", {A, B}), ("epci=200000000", set()), ("department=42", {A, B}),
])
def test_commune_filters(admin_api, query, expected):
    response = admin_api.get(f"/api/v1/communes/?{query}")
    assert response.status_code == 200, response.content
    assert {row["insee"] for row in response.json()["results"]} == expected


def test_commune_ordering(admin_api):
    rows = admin_api.get("/api/v1/communes/?ordering=-population").json()["results"]
    assert [row["insee"] for row in rows] == [A, B]


@pytest.mark.parametrize(("query", "count"), [
    (f"school={SA1}", 3), (f"school={SA1.lower()}", 3), (f"commune={B}", 1), ("level=PS", 1), ("year=2026", 4),
    ("year=2025", 0), (f"school={SB1}&level=CP", 0),
])
def test_class_filters(admin_api, query, count):
    response = admin_api.get(f"/api/v1/classes/?{query}")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == count


def test_class_ordering(admin_api):
    rows = admin_api.get("/api/v1/classes/?ordering=-name").json()["results"]
    assert [row["name"] for row in rows] == ["Classe 3", "Classe 2", "Classe 1", "Classe 1"]


@pytest.mark.parametrize(("query", "expected"), [
    ("access=fibre", {SA1}), ("access=adsl", {SB1}), ("network=amii", {SA1}), (f"commune={B}", {SB1}),
    ("access=unknown", set()),
])
def test_connectivity_filters(admin_api, query, expected):
    response = admin_api.get(f"/api/v1/connectivity/?{query}")
    assert response.status_code == 200, response.content
    assert {row["school"] for row in response.json()["results"]} == expected


# ---------------------------------------------------------------- the shared filter sets, as web views use them

def test_school_filter_for_web_views(cast):
    f = SchoolFilter({"q": "école", "sector": "public", "ordering": "-pupils"}, queryset=schools_for(cast.admin))
    assert f.is_valid()
    assert [s.uai for s in f.qs] == [SA1, SB1]
    assert "access" in f.form.fields and "q" in f.form.fields
    html = f.form.as_div()
    assert 'name="circonscription"' in html and 'value="unknown"' in html
    # Unbound (no GET parameters): everything in scope.
    assert SchoolFilter(None, queryset=schools_for(cast.commune_a_staff)).qs.count() == 2


def test_school_filter_invalid_data_for_web_views(cast):
    f = SchoolFilter({"kind": "lycee"}, queryset=schools_for(cast.admin))
    assert not f.is_valid()
    assert "kind" in f.errors


def test_commune_filter_for_web_views(cast):
    f = CommuneFilter({"network": "rip"}, queryset=communes_for(cast.admin))
    assert [c.insee for c in f.qs] == [B]


# ---------------------------------------------------------------- pagination

def test_limit_offset_pagination(admin_api):
    first = admin_api.get("/api/v1/schools/?limit=2").json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["next"]
    second = admin_api.get("/api/v1/schools/?limit=2&offset=2").json()
    assert len(second["results"]) == 1 and second["next"] is None
    assert {r["uai"] for r in first["results"] + second["results"]} == {SA1, SA2, SB1}


def test_page_size_default_100_max_1000():
    factory = APIRequestFactory()
    paginator = ApiPagination()
    assert paginator.get_limit(Request(factory.get("/api/v1/schools/"))) == 100
    assert paginator.get_limit(Request(factory.get("/api/v1/schools/?limit=5000"))) == 1000
    assert paginator.get_limit(Request(factory.get("/api/v1/schools/?limit=250"))) == 250


# ---------------------------------------------------------------- bounded number of SQL queries

def populate(cast, n: int = 200) -> None:
    """n more schools in 10 communes, each with connectivity and 3 classes (600 classes)."""
    communes = [Commune(insee=f"42{300 + i:03d}", name=f"Commune {i}", population=800 + i,
                        stratum=Stratum.UNDER_1500, department="42", epci=cast.epci) for i in range(10)]
    Commune.objects.bulk_create(communes)
    communes = list(Commune.objects.filter(insee__startswith="423"))
    schools = []
    for i in range(n):
        digits = f"0428{i:03d}"
        schools.append(School(uai=digits + uai_check_letter(digits), name=f"École {i:03d}",
                              commune=communes[i % 10], circonscription=cast.circ1 if i % 2 else cast.circ2,
                              pupils=100 + i))
    School.objects.bulk_create(schools)
    schools = list(School.objects.filter(uai__startswith="0428"))
    Connectivity.objects.bulk_create([Connectivity(school=s, access=Access.FIBRE, network="rip") for s in schools])
    SchoolClass.objects.bulk_create([SchoolClass(school=s, year=2026, name=f"C{k}", level="CP")
                                     for s in schools for k in range(3)])
    staff = make_user("commune_many", Role.COMMUNE)
    staff.communes.add(*communes)
    advisor = make_user("advisor_many", Role.ADVISOR)
    advisor.circonscriptions.add(cast.circ1, cast.circ2)


def count_queries(api, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


LIST_QUERIES = ["/api/v1/schools/?limit=1000", "/api/v1/communes/?limit=1000", "/api/v1/classes/?limit=1000",
                "/api/v1/connectivity/?limit=1000", "/api/v1/schools/?limit=1000&access=fibre&q=cole&ordering=-pupils"]


@pytest.mark.parametrize("username", ["admin", "commune_many", "advisor_many"])
def test_list_queries_bounded(cast, django_assert_max_num_queries, username):
    api = APIClient()
    api.force_authenticate(cast.admin)
    small = {url: count_queries(api, url) for url in LIST_QUERIES}  # with the 3 schools of the cast
    populate(cast)
    api.force_authenticate(User.objects.get(username=username))
    for url in LIST_QUERIES:
        with django_assert_max_num_queries(4):
            response = api.get(url)
        assert response.status_code == 200
        assert response.json()["count"] >= 10
        assert len(response.json()["results"]) == response.json()["count"]
        if username == "admin":
            assert count_queries(api, url) == small[url], url  # the same with 3 or 203 schools


def test_list_of_200_schools_with_token(cast, django_assert_max_num_queries):
    populate(cast)
    api = APIClient()
    token = api.post("/api/v1/token/", {"username": "admin", "password": "pw-Preau-2026"}).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    with django_assert_max_num_queries(5):
        response = api.get("/api/v1/schools/?limit=1000")
    data = response.json()
    assert data["count"] == 203 and len(data["results"]) == 203
    row = next(r for r in data["results"] if r["uai"].startswith("0428"))
    assert row["class_count"] == 3 and row["connectivity"]["access"] == "fibre" and row["commune"]["insee"]
    with django_assert_max_num_queries(5):
        assert len(api.get("/api/v1/schools/").json()["results"]) == 100
