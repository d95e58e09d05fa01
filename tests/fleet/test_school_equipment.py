"""The equipment section of a school's page: slots against what fills them (ok, missing, failed, too old),
devices without slot, counts; the scope of the school page; a bounded number of queries."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from preau.fleet import services
from preau.fleet.lifecycle import Status
from preau.fleet.models import Asset, Category, Slot
from preau.fleet.views_assets import school_equipment
from preau.territory.models import SchoolClass

pytestmark = pytest.mark.django_db


def rows_by_label(equipment):
    return {r["slot"].label: r["state"] for g in equipment["groups"] for r in g["rows"]}


def test_states_and_counts(cast, fleet, settings):
    settings.PREAU_FLEET_OLD_YEARS = 10
    eq = school_equipment(cast.director_sa1, cast.sa1)
    assert eq["slots"] == 3
    assert eq["counts"] == {"ok": 2, "missing": 0, "failed": 0, "old": 1}
    assert rows_by_label(eq) == {"PC de la Classe 1": "old", "Vidéoprojecteur de la Classe 1": "ok",
                                 "Client léger enseignant de la Classe 2": "ok"}
    assert [(r["asset"].tag, r["state"]) for r in eq["loose"]] == [("SEM-00006", "old")]
    assert [g["school_class"].name for g in eq["groups"]] == ["Classe 1", "Classe 2"]

    services.do_transition(cast.admin, fleet.proj1, Status.FAILED, "lampe")
    services.do_transition(cast.admin, fleet.tc1, Status.IN_STOCK, "retour au dépôt")
    eq = school_equipment(cast.director_sa1, cast.sa1)
    assert eq["counts"] == {"ok": 0, "missing": 1, "failed": 1, "old": 1}
    assert rows_by_label(eq) == {"PC de la Classe 1": "old", "Vidéoprojecteur de la Classe 1": "failed",
                                 "Client léger enseignant de la Classe 2": "missing"}
    settings.PREAU_FLEET_OLD_YEARS = 20
    assert school_equipment(cast.director_sa1, cast.sa1)["counts"]["old"] == 0


def test_school_page_shows_the_section(login, cast, fleet, settings):
    settings.PREAU_FLEET_OLD_YEARS = 10
    services.do_transition(cast.admin, fleet.proj1, Status.FAILED, "lampe")
    html = login(cast.director_sa1).get(reverse("territory:school", args=["0429901J"])).content.decode()
    assert 'id="h-equipment"' in html
    assert "PC de la Classe 1" in html and "SEM-00001" in html and "trop ancien" in html
    assert "SEM-00006" in html and "Appareils sans emplacement" in html
    assert reverse("fleet:assets") + "?school=0429901J" in html
    assert "SEM-00004" not in html  # another school's device
    assert reverse("fleet:asset-replace", args=["SEM-00002"]) not in html  # no actions for a director
    html = login(cast.technician).get(reverse("territory:school", args=["0429901J"])).content.decode()
    assert reverse("fleet:asset-replace", args=["SEM-00002"]) in html


def test_school_page_scope(login, cast, fleet):
    client = login(cast.director_sb1)
    assert client.get(reverse("territory:school", args=["0429901J"])).status_code == 404
    html = client.get(reverse("territory:school", args=["0429902K"])).content.decode()
    assert "SEM-00004" in html and "SEM-00001" not in html
    assert login(cast.workshop).get(reverse("territory:school", args=["0429901J"])).status_code == 404


def test_school_without_slots(login, cast, fleet):
    eq = school_equipment(cast.admin, cast.sa2)
    assert eq["slots"] == 0 and eq["groups"] == [] and eq["loose"] == []
    html = login(cast.admin).get(reverse("territory:school", args=["0429903L"])).content.decode()
    assert "Aucun emplacement défini pour cette école." in html


def _big_school(cast, fleet, classes=30):
    """sa2 with 30 classes of 3 slots each, most filled, some failed or old, and devices without slot."""
    klasses = SchoolClass.objects.bulk_create([SchoolClass(school=cast.sa2, year=2026, name=f"C{i:02d}", level="CP")
                                               for i in range(classes)])
    assets, slots = [], []
    for i, k in enumerate(klasses):
        for j, (category, model) in enumerate([(Category.DESKTOP, fleet.optiplex), (Category.PROJECTOR, fleet.epson),
                                               (Category.THIN_CLIENT, fleet.tc_model)]):
            n = i * 3 + j
            asset = None
            if n % 7:
                asset = Asset(tag=f"BIG-{n:04d}", model=model, category=category, school=cast.sa2, school_class=k,
                              status=Status.FAILED if n % 11 == 0 else Status.DEPLOYED,
                              purchased_on=date(2010 if n % 5 == 0 else 2024, 1, 1))
                assets.append(asset)
            slots.append((k, category, asset))
    for n in range(40):
        assets.append(Asset(tag=f"LOOSE-{n:03d}", model=fleet.optiplex, category=Category.DESKTOP, school=cast.sa2,
                            status=Status.DEPLOYED, purchased_on=date(2020, 1, 1)))
    Asset.objects.bulk_create(assets)
    Slot.objects.bulk_create([Slot(school=cast.sa2, school_class=k, category=c, label=f"{c} {k.name}", asset=a)
                              for k, c, a in slots])
    return len(slots)


def test_bounded_queries_on_a_big_school(login, cast, fleet, django_assert_max_num_queries, settings):
    settings.PREAU_FLEET_OLD_YEARS = 7
    client = login(cast.admin)
    url = reverse("territory:school", args=["0429903L"])
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    n_slots = _big_school(cast, fleet)
    with django_assert_max_num_queries(2):
        eq = school_equipment(cast.admin, cast.sa2)
    assert eq["slots"] == n_slots == 90
    assert len(eq["groups"]) == 30 and len(eq["loose"]) == 40
    expected_missing = sum(1 for n in range(90) if n % 7 == 0)
    assert eq["counts"]["missing"] == expected_missing
    assert eq["counts"]["failed"] == sum(1 for n in range(90) if n % 7 and n % 11 == 0)
    assert sum(eq["counts"].values()) == 90
    with CaptureQueriesContext(connection) as big:
        response = client.get(url)
    assert response.status_code == 200 and "BIG-0001" in response.content.decode()
    assert len(big.captured_queries) == len(small.captured_queries)  # does not grow with the school
