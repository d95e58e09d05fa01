"""The equipment standard (dotation): the slots every class and school should have, created once."""

import pytest
from django.urls import reverse

from preau.fleet import services
from preau.fleet.models import Category, Slot
from preau.territory.models import School

pytestmark = pytest.mark.django_db


def test_apply_standard_creates_missing_slots_once(fleet, cast):
    before = Slot.objects.count()
    result = services.do_apply_standard(cast.admin, School.objects.filter(pk=cast.sa1.pk), year=2026)
    # sa1 has 3 classes of 2026: Classe 1 already has a projector slot, Classe 2 a thin client slot.
    assert result["created"] == 3 * 2 - 2 + 2
    assert Slot.objects.filter(school=cast.sa1, school_class__isnull=True, category=Category.NAS).count() == 1
    assert Slot.objects.filter(school_class=fleet.class2, category=Category.PROJECTOR).get().label \
        == "Vidéoprojecteur interactif — Classe 2"
    again = services.do_apply_standard(cast.admin, School.objects.filter(pk=cast.sa1.pk), year=2026)
    assert again["created"] == 0 and Slot.objects.count() == before + result["created"]


def test_standard_page_for_fleet_managers_only(fleet, cast, login):
    url = reverse("fleet:standard")
    assert login(cast.teacher_sa1).get(url).status_code == 403
    assert login(cast.committee).post(url, {"everywhere": "on", "year": 2026, "per_school": ["nas"]}).status_code == 403
    assert Slot.objects.filter(category=Category.NAS).count() == 0
    client = login(cast.technician)
    assert client.get(url).status_code == 200
    response = client.post(url, {"commune": "42207", "year": 2026, "per_class": ["thin_client"],
                                 "per_school": ["nas"]})
    assert response.status_code == 302
    assert Slot.objects.filter(school=cast.sb1, category=Category.NAS).count() == 1
    assert Slot.objects.filter(school=cast.sa1, category=Category.NAS).count() == 0  # other commune untouched
    response = client.post(url, {"school": cast.sa1.uai, "commune": "42207", "year": 2026, "per_school": ["nas"]})
    assert response.status_code == 400 and "un seul" in response.content.decode()
