"""JSON API /api/v1/: authentication, scopes (same as the web), reads, writes and their audit entries."""

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from preau.core.models import AuditEntry
from preau.territory.models import Access, Connectivity, FibreNetwork, SchoolClass

from .conftest import PASSWORD

ALL = {"0429901J", "0429903L", "0429902K"}  # sa1, sa2 (commune A, circ. C1), sb1 (commune B, circ. C2)
SA1, SA2, SB1 = "0429901J", "0429903L", "0429902K"
A, B = "42218", "42207"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """The cast hashes 9 passwords: a fast hasher for these tests (autouse runs before `cast`)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def as_user(api):
    """as_user(user) -> an APIClient authenticated as user (DRF force_authenticate)."""

    def _as(user):
        api.force_authenticate(user)
        return api

    return _as


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def uais(response) -> set[str]:
    return {row["uai"] for row in results(response)}


# ---------------------------------------------------------------- authentication

LIST_URLS = ["/api/v1/communes/", "/api/v1/schools/", "/api/v1/classes/", "/api/v1/connectivity/"]
DETAIL_URLS = [f"/api/v1/communes/{A}/", f"/api/v1/schools/{SA1}/", f"/api/v1/schools/{SA1}/connectivity/",
               f"/api/v1/connectivity/{SA1}/"]


@pytest.mark.parametrize("url", LIST_URLS + DETAIL_URLS)
def test_unauthenticated_is_401(cast, api, url):
    response = api.get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_unauthenticated_class_detail_and_writes_are_401(cast, api):
    klass = SchoolClass.objects.filter(school=cast.sa1).first()
    assert api.get(f"/api/v1/classes/{klass.pk}/").status_code == 401
    assert api.patch(f"/api/v1/connectivity/{SA1}/", {"access": "adsl"}, format="json").status_code == 401
    assert api.post("/api/v1/classes/", {}, format="json").status_code == 401
    assert api.delete(f"/api/v1/classes/{klass.pk}/").status_code == 401
    assert AuditEntry.objects.count() == 0


def test_token_end_to_end(cast, api):
    response = api.post("/api/v1/token/", {"username": "director_sa1", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=cast.director_sa1).key
    # Same token on a second request.
    again = api.post("/api/v1/token/", {"username": "director_sa1", "password": PASSWORD}, format="json")
    assert again.json()["token"] == token

    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert uais(fresh.get("/api/v1/schools/")) == {SA1}
    assert fresh.get(f"/api/v1/schools/{SB1}/").status_code == 404


def test_token_patch_end_to_end(cast, api):
    token = api.post("/api/v1/token/", {"username": "commune_a", "password": PASSWORD}).json()["token"]
    client = APIClient(enforce_csrf_checks=True)  # a token request needs no CSRF token
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.patch(f"/api/v1/schools/{SA1}/connectivity/", {"bandwidth_mbps": 500}, format="json")
    assert response.status_code == 200, response.content
    assert AuditEntry.objects.get(object_type="territory.connectivity").user == cast.commune_a_staff


def test_token_wrong_password_is_400(cast, api):
    response = api.post("/api/v1/token/", {"username": "admin", "password": "wrong"}, format="json")
    assert response.status_code == 400
    assert "token" not in response.json()
    assert not Token.objects.exists()


def test_token_inactive_user_is_400(cast, api):
    cast.admin.is_active = False
    cast.admin.save()
    response = api.post("/api/v1/token/", {"username": "admin", "password": PASSWORD}, format="json")
    assert response.status_code == 400


def test_token_requests_are_throttled(cast, api):
    for _ in range(20):
        assert api.post("/api/v1/token/", {"username": "admin", "password": "wrong"}).status_code == 400
    assert api.post("/api/v1/token/", {"username": "admin", "password": "wrong"}).status_code == 429
    # Another username is not blocked by the attempts on this one.
    assert api.post("/api/v1/token/", {"username": "committee", "password": PASSWORD}).status_code == 200


def test_invalid_token_is_401(cast, api):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert api.get("/api/v1/schools/").status_code == 401


def test_session_auth_works_for_the_browser(cast, client):
    client.force_login(cast.director_sb1)
    response = client.get("/api/v1/schools/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert {row["uai"] for row in response.json()["results"]} == {SB1}


def test_session_write_needs_csrf(cast):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(cast.admin)
    response = client.patch(f"/api/v1/connectivity/{SA1}/", {"access": "adsl"}, format="json")
    assert response.status_code == 403
    assert Connectivity.objects.get(school=cast.sa1).access == Access.FIBRE


# ---------------------------------------------------------------- scopes of the lists

SCHOOL_SCOPES = {
    "admin": ALL, "technician": ALL, "committee": ALL,
    "commune_a_staff": {SA1, SA2}, "advisor_c1": {SA1, SA2},
    "director_sa1": {SA1}, "teacher_sa1": {SA1}, "director_sb1": {SB1}, "workshop": set(),
}


@pytest.mark.parametrize(("who", "expected"), SCHOOL_SCOPES.items())
def test_school_list_scope(cast, as_user, who, expected):
    response = as_user(getattr(cast, who)).get("/api/v1/schools/")
    assert uais(response) == expected
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize(("who", "expected"), {
    "admin": {A, B}, "committee": {A, B}, "commune_a_staff": {A}, "advisor_c1": {A},
    "director_sa1": {A}, "director_sb1": {B}, "workshop": set(),
}.items())
def test_commune_list_scope(cast, as_user, who, expected):
    rows = results(as_user(getattr(cast, who)).get("/api/v1/communes/"))
    assert {row["insee"] for row in rows} == expected


@pytest.mark.parametrize(("who", "expected"), {
    "admin": {SA1: 3, SB1: 1}, "committee": {SA1: 3, SB1: 1}, "commune_a_staff": {SA1: 3},
    "advisor_c1": {SA1: 3}, "teacher_sa1": {SA1: 3}, "director_sb1": {SB1: 1}, "workshop": {},
}.items())
def test_class_list_scope(cast, as_user, who, expected):
    rows = results(as_user(getattr(cast, who)).get("/api/v1/classes/"))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["school"]] = counts.get(row["school"], 0) + 1
    assert counts == expected


@pytest.mark.parametrize(("who", "expected"), {
    "admin": {SA1, SB1}, "committee": {SA1, SB1}, "commune_a_staff": {SA1}, "advisor_c1": {SA1},
    "director_sa1": {SA1}, "director_sb1": {SB1}, "workshop": set(),
}.items())
def test_connectivity_list_scope(cast, as_user, who, expected):
    rows = results(as_user(getattr(cast, who)).get("/api/v1/connectivity/"))
    assert {row["school"] for row in rows} == expected


# ---------------------------------------------------------------- details: allowed and out of scope

def test_director_details_in_and_out_of_scope(cast, as_user):
    api = as_user(cast.director_sa1)
    own_class = SchoolClass.objects.filter(school=cast.sa1).first()
    other_class = SchoolClass.objects.get(school=cast.sb1)
    for url in (f"/api/v1/schools/{SA1}/", f"/api/v1/communes/{A}/", f"/api/v1/classes/{own_class.pk}/",
                f"/api/v1/connectivity/{SA1}/", f"/api/v1/schools/{SA1}/connectivity/"):
        assert api.get(url).status_code == 200, url
    for url in (f"/api/v1/schools/{SB1}/", f"/api/v1/communes/{B}/", f"/api/v1/classes/{other_class.pk}/",
                f"/api/v1/connectivity/{SB1}/", f"/api/v1/schools/{SB1}/connectivity/"):
        assert api.get(url).status_code == 404, url


def test_commune_staff_details(cast, as_user):
    api = as_user(cast.commune_a_staff)
    assert api.get(f"/api/v1/schools/{SA2}/").status_code == 200
    assert api.get(f"/api/v1/communes/{A}/").status_code == 200
    assert api.get(f"/api/v1/schools/{SB1}/").status_code == 404
    assert api.get(f"/api/v1/communes/{B}/").status_code == 404


def test_advisor_details(cast, as_user):
    api = as_user(cast.advisor_c1)
    assert api.get(f"/api/v1/schools/{SA1}/").status_code == 200
    assert api.get(f"/api/v1/schools/{SB1}/").status_code == 404


def test_workshop_sees_nothing(cast, as_user):
    api = as_user(cast.workshop)
    for url in LIST_URLS:
        assert results(api.get(url)) == [], url
    for url in DETAIL_URLS:
        assert api.get(url).status_code == 404, url


def test_unknown_codes_are_404(cast, as_user):
    api = as_user(cast.admin)
    assert api.get("/api/v1/schools/0429999A/").status_code == 404
    assert api.get("/api/v1/communes/42999/").status_code == 404
    assert api.get("/api/v1/classes/999999/").status_code == 404


def test_lookups_are_case_insensitive(cast, as_user):
    assert as_user(cast.admin).get(f"/api/v1/schools/{SA1.lower()}/").json()["uai"] == SA1


def test_school_detail_content(cast, as_user):
    data = as_user(cast.admin).get(f"/api/v1/schools/{SA1}/").json()
    assert data["name"] == "École des Tilleuls"
    assert data["commune"] == {"insee": A, "name": "Saint-Étienne"}
    assert data["circonscription"] == {"id": cast.circ1.pk, "name": "Saint-Étienne Centre"}
    assert data["connectivity"]["access"] == "fibre"
    assert data["connectivity"]["network"] == "amii"
    assert data["class_count"] == 3
    sa2 = as_user(cast.admin).get(f"/api/v1/schools/{SA2}/").json()
    assert sa2["connectivity"] is None
    assert sa2["class_count"] == 0
    assert sa2["sector"] == "private"


def test_class_count_is_the_current_school_year(cast, as_user):
    SchoolClass.objects.create(school=cast.sb1, year=2020, name="Ancienne", level="MS")
    assert as_user(cast.admin).get(f"/api/v1/schools/{SB1}/").json()["class_count"] == 1


def test_commune_detail_content(cast, as_user):
    data = as_user(cast.admin).get(f"/api/v1/communes/{A}/").json()
    assert data["name"] == "Saint-Étienne"
    assert data["epci"] == {"siren": "244200770", "name": "Saint-Étienne Métropole"}
    assert data["fibre"]["network"] == "amii"
    assert data["school_count"] == 2
    assert "boundary" in data
    # school_count counts only the schools the user sees.
    assert as_user(cast.director_sa1).get(f"/api/v1/communes/{A}/").json()["school_count"] == 1


def test_class_detail_content(cast, as_user):
    klass = SchoolClass.objects.get(school=cast.sb1)
    data = as_user(cast.director_sb1).get(f"/api/v1/classes/{klass.pk}/").json()
    assert data == {"id": klass.pk, "school": SB1, "school_name": "École maternelle Le Pré",
                    "commune": {"insee": B, "name": "Saint-Chamond"}, "year": 2026, "name": "Classe 1",
                    "level": "PS", "pupils": 24}


def test_connectivity_detail_without_record(cast, as_user):
    data = as_user(cast.admin).get(f"/api/v1/connectivity/{SA2}/").json()
    assert data["school"] == SA2
    assert data["access"] == ""
    assert data["updated_at"] is None
    assert not Connectivity.objects.filter(school=cast.sa2).exists()


# ---------------------------------------------------------------- read-only endpoints

@pytest.mark.parametrize(("method", "url"), [
    ("post", "/api/v1/schools/"), ("put", f"/api/v1/schools/{SA1}/"), ("patch", f"/api/v1/schools/{SA1}/"),
    ("delete", f"/api/v1/schools/{SA1}/"), ("post", "/api/v1/communes/"), ("patch", f"/api/v1/communes/{A}/"),
    ("delete", f"/api/v1/communes/{A}/"), ("post", "/api/v1/connectivity/"),
    ("put", f"/api/v1/connectivity/{SA1}/"), ("delete", f"/api/v1/connectivity/{SA1}/"),
    ("put", f"/api/v1/schools/{SA1}/connectivity/"),
])
def test_read_only_methods_are_405(cast, as_user, method, url):
    response = getattr(as_user(cast.admin), method)(url, {"name": "x"}, format="json")
    assert response.status_code == 405
    assert AuditEntry.objects.count() == 0


def test_class_update_is_405(cast, as_user):
    klass = SchoolClass.objects.get(school=cast.sb1)
    assert as_user(cast.admin).patch(f"/api/v1/classes/{klass.pk}/", {"name": "x"}, format="json").status_code == 405


# ---------------------------------------------------------------- PATCH connectivity

@pytest.mark.parametrize("url", ["/api/v1/schools/{uai}/connectivity/", "/api/v1/connectivity/{uai}/"])
def test_admin_patches_connectivity_with_audit(cast, as_user, url):
    response = as_user(cast.admin).patch(url.format(uai=SB1),
                                         {"access": "fibre", "bandwidth_mbps": 1000, "connected_on": "2026-11-30"},
                                         format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["access"] == "fibre" and data["bandwidth_mbps"] == 1000 and data["source"] == "manual"
    conn = Connectivity.objects.get(school=cast.sb1)
    assert (conn.access, conn.network, conn.bandwidth_mbps, str(conn.connected_on)) == \
        ("fibre", FibreNetwork.RIP, 1000, "2026-11-30")
    entry = AuditEntry.objects.get()
    assert entry.user == cast.admin
    assert entry.action == AuditEntry.Action.UPDATE
    assert entry.object_type == "territory.connectivity" and entry.object_id == str(cast.sb1.pk)
    assert entry.before["access"] == "adsl" and entry.after["access"] == "fibre"
    assert entry.after["bandwidth_mbps"] == 1000


def test_commune_staff_creates_connectivity_of_its_school(cast, as_user):
    response = as_user(cast.commune_a_staff).patch(f"/api/v1/connectivity/{SA2}/",
                                                   {"access": "4g", "operator": "Orange"}, format="json")
    assert response.status_code == 200, response.content
    assert Connectivity.objects.get(school=cast.sa2).access == "4g"
    entry = AuditEntry.objects.get()
    assert entry.action == AuditEntry.Action.CREATE and entry.user == cast.commune_a_staff


def test_commune_staff_cannot_patch_another_commune(cast, as_user):
    api = as_user(cast.commune_a_staff)
    assert api.patch(f"/api/v1/connectivity/{SB1}/", {"access": "none"}, format="json").status_code == 404
    assert api.patch(f"/api/v1/schools/{SB1}/connectivity/", {"access": "none"}, format="json").status_code == 404
    assert Connectivity.objects.get(school=cast.sb1).access == Access.ADSL
    assert AuditEntry.objects.count() == 0


@pytest.mark.parametrize("who", ["committee", "technician", "advisor_c1", "director_sa1", "teacher_sa1"])
@pytest.mark.parametrize("url", ["/api/v1/schools/{uai}/connectivity/", "/api/v1/connectivity/{uai}/"])
def test_readers_cannot_patch_connectivity(cast, as_user, who, url):
    # Even invalid data gets the 403: rights are checked before validation.
    for payload in ({"access": "none"}, {"access": "wifi"}):
        response = as_user(getattr(cast, who)).patch(url.format(uai=SA1), payload, format="json")
        assert response.status_code == 403, response.content
    assert Connectivity.objects.get(school=cast.sa1).access == Access.FIBRE
    assert AuditEntry.objects.count() == 0


def test_director_patch_out_of_scope_is_404(cast, as_user):
    response = as_user(cast.director_sa1).patch(f"/api/v1/connectivity/{SB1}/", {"access": "none"}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize(("payload", "fields"), [
    ({"access": "wifi"}, {"access"}),
    ({"bandwidth_mbps": -5}, {"bandwidth_mbps"}),
    ({"bandwidth_mbps": "vite"}, {"bandwidth_mbps"}),
    ({"connected_on": "hier"}, {"connected_on"}),
    ({"network": "5g", "planned_on": "2026-13-01"}, {"network", "planned_on"}),
    ({"operator": "x" * 61}, {"operator"}),
    ({"acces": "fibre"}, {"acces"}),
    ({"source": "arcep"}, {"source"}),
    ({"school": SB1}, {"school"}),
    ({}, {"non_field_errors"}),
])
def test_patch_validation_errors_are_400_with_field_errors(cast, as_user, payload, fields):
    response = as_user(cast.admin).patch(f"/api/v1/schools/{SA1}/connectivity/", payload, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()) == fields
    assert Connectivity.objects.get(school=cast.sa1).access == Access.FIBRE
    assert AuditEntry.objects.count() == 0


def test_patch_with_a_list_body_is_400(cast, as_user):
    response = as_user(cast.admin).patch(f"/api/v1/connectivity/{SA1}/", [1, 2], format="json")
    assert response.status_code == 400


def test_patch_clearing_dates_and_bandwidth(cast, as_user):
    Connectivity.objects.filter(school=cast.sa1).update(bandwidth_mbps=100, planned_on="2027-01-01")
    response = as_user(cast.admin).patch(f"/api/v1/connectivity/{SA1}/",
                                         {"bandwidth_mbps": None, "planned_on": None, "access": ""}, format="json")
    assert response.status_code == 200, response.content
    conn = Connectivity.objects.get(school=cast.sa1)
    assert (conn.bandwidth_mbps, conn.planned_on, conn.access) == (None, None, "")


# ---------------------------------------------------------------- classes: create and delete

NEW_CLASS = {"school": SB1, "year": 2026, "name": "Petits-moyens", "level": "MS", "pupils": 22}


def test_admin_creates_class_with_audit(cast, as_user):
    response = as_user(cast.admin).post("/api/v1/classes/", {**NEW_CLASS, "school": SB1.lower()}, format="json")
    assert response.status_code == 201, response.content
    klass = SchoolClass.objects.get(pk=response.json()["id"])
    assert (klass.school, klass.name, klass.level, klass.pupils) == (cast.sb1, "Petits-moyens", "MS", 22)
    entry = AuditEntry.objects.get()
    assert entry.action == AuditEntry.Action.CREATE and entry.user == cast.admin
    assert entry.object_type == "territory.schoolclass" and entry.after["name"] == "Petits-moyens"


@pytest.mark.parametrize(("change", "field"), [
    ({"name": "Classe 1"}, "non_field_errors"),  # already exists in sb1 for 2026
    ({"level": "CM3"}, "level"),
    ({"school": "0429999A"}, "school"),
    ({"year": "deux mille"}, "year"),
    ({"name": ""}, "name"),
])
def test_create_class_validation(cast, as_user, change, field):
    response = as_user(cast.admin).post("/api/v1/classes/", {**NEW_CLASS, **change}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert AuditEntry.objects.count() == 0


@pytest.mark.parametrize("who", ["committee", "technician", "commune_a_staff", "advisor_c1", "director_sb1",
                                 "teacher_sa1", "workshop"])
def test_only_admins_create_classes(cast, as_user, who):
    response = as_user(getattr(cast, who)).post("/api/v1/classes/", NEW_CLASS, format="json")
    assert response.status_code == 403
    assert not SchoolClass.objects.filter(name="Petits-moyens").exists()


def test_admin_deletes_class_with_audit(cast, as_user):
    klass = SchoolClass.objects.get(school=cast.sb1)
    assert as_user(cast.admin).delete(f"/api/v1/classes/{klass.pk}/").status_code == 204
    assert not SchoolClass.objects.filter(pk=klass.pk).exists()
    entry = AuditEntry.objects.get()
    assert entry.action == AuditEntry.Action.DELETE and entry.before["name"] == "Classe 1"


def test_delete_class_denied(cast, as_user):
    own = SchoolClass.objects.filter(school=cast.sa1).first()
    other = SchoolClass.objects.get(school=cast.sb1)
    api = as_user(cast.director_sa1)
    assert api.delete(f"/api/v1/classes/{own.pk}/").status_code == 403
    assert api.delete(f"/api/v1/classes/{other.pk}/").status_code == 404
    assert as_user(cast.committee).delete(f"/api/v1/classes/{other.pk}/").status_code == 403
    assert SchoolClass.objects.count() == 4
    assert AuditEntry.objects.count() == 0


# ---------------------------------------------------------------- browsable API (session, HTML)

@pytest.mark.parametrize("url", LIST_URLS + DETAIL_URLS)
def test_browsable_api_renders_html(cast, client, url):
    client.force_login(cast.admin)
    response = client.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
