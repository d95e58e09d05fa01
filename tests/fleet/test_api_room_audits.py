"""Room audits through the API: start, scan (tag or QR URL), finish; who may do it."""

import pytest
from rest_framework.test import APIClient

from preau.fleet.models import AssetEvent, RoomAudit

pytestmark = pytest.mark.django_db
BASE = "/api/v1/room-audits/"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_director_walks_a_class_through_the_api(fleet, cast):
    client = api(cast.director_sa1)
    response = client.post(BASE, {"school": cast.sa1.uai, "school_class": fleet.class1.pk}, format="json")
    assert response.status_code == 201, response.content
    audit_id = response.json()["id"]
    assert response.json()["expected"] == ["SEM-00001", "SEM-00002"]
    client.post(f"{BASE}{audit_id}/seen/", {"tag": "https://x.example/parc/appareils/SEM-00001/"}, format="json")
    response = client.post(f"{BASE}{audit_id}/seen/", {"tag": "SEM-00004"}, format="json")
    assert response.json()["differences"] == {"present": ["SEM-00001"], "missing": ["SEM-00002"],
                                              "misplaced": ["SEM-00004"], "unknown": []}
    response = client.post(f"{BASE}{audit_id}/finish/")
    assert response.status_code == 200 and response.json()["finished_at"]
    assert AssetEvent.objects.filter(kind=AssetEvent.Kind.AUDIT).count() == 3
    response = client.post(f"{BASE}{audit_id}/seen/", {"tag": "SEM-00002"}, format="json")
    assert response.status_code == 400 and "terminé" in response.json()["detail"]
    assert [a["id"] for a in client.get(BASE).json()["results"]] == [audit_id]


def test_room_audit_api_denied(fleet, cast):
    audit = RoomAudit.objects.create(school=cast.sa1, school_class=fleet.class1, expected=["SEM-00001"])
    # Teacher: in scope but no right (403); another school's director: out of scope (404).
    assert api(cast.teacher_sa1).post(BASE, {"school": cast.sa1.uai}, format="json").status_code == 403
    assert api(cast.teacher_sa1).get(f"{BASE}{audit.pk}/").status_code == 403
    assert api(cast.director_sb1).get(f"{BASE}{audit.pk}/").status_code == 404
    assert api(cast.director_sb1).post(BASE, {"school": cast.sa1.uai}, format="json").status_code == 404
    # Committee reads, cannot scan.
    assert api(cast.committee).get(f"{BASE}{audit.pk}/").status_code == 200
    assert api(cast.committee).post(f"{BASE}{audit.pk}/seen/", {"tag": "SEM-00001"}, format="json").status_code == 403
    audit.refresh_from_db()
    assert audit.seen == []
    assert APIClient().get(BASE).status_code in (401, 403)
