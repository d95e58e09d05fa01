"""The fleet's JSON API: scope (404) and rights (403) per endpoint and role, the lifecycle through the
API (refusals are 400 and change nothing), the replacement, a batch walked from creation to deployment,
and lists whose query count does not grow with their size."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from preau.core.models import AuditEntry
from preau.fleet import services
from preau.fleet.lifecycle import Status
from preau.fleet.models import (
    Asset,
    AssetEvent,
    BatchItem,
    Category,
    DeviceModel,
    NetworkInterface,
    Origin,
    RequalificationBatch,
    Slot,
)

SA1, SB1 = "0429901J", "0429902K"
PC1, PROJ1, TC1, PC_B, TC_SPARE, PC_OLD = (f"SEM-0000{i}" for i in range(1, 7))


@pytest.fixture
def as_user():
    """as_user(user) -> a fresh APIClient authenticated as user."""

    def _as(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return _as


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def tags(response) -> set[str]:
    return {row["tag"] for row in results(response)}


def status_of(tag: str) -> str:
    return Asset.objects.get(tag=tag).status


# ---------------------------------------------------------------- authentication and scope


@pytest.mark.parametrize("url", ["/api/v1/assets/", f"/api/v1/assets/{PC1}/", f"/api/v1/assets/{PC1}/events/",
                                 "/api/v1/device-models/", "/api/v1/batches/", "/api/v1/slots/"])
def test_unauthenticated_is_401(fleet, url):
    assert APIClient().get(url).status_code == 401


def test_unauthenticated_writes_are_401_and_change_nothing(fleet):
    api = APIClient()
    assert api.post(f"/api/v1/assets/{TC_SPARE}/transition/", {"status": "lost"}, format="json").status_code == 401
    assert api.post("/api/v1/assets/", {"tag": "X"}, format="json").status_code == 401
    assert status_of(TC_SPARE) == Status.IN_STOCK


def test_asset_list_follows_each_role_scope(fleet, cast, as_user):
    everything = {PC1, PROJ1, TC1, PC_B, TC_SPARE, PC_OLD}
    sa1 = {PC1, PROJ1, TC1, PC_OLD}
    assert tags(as_user(cast.admin).get("/api/v1/assets/")) == everything
    assert tags(as_user(cast.technician).get("/api/v1/assets/")) == everything
    assert tags(as_user(cast.committee).get("/api/v1/assets/")) == everything
    assert tags(as_user(cast.commune_a_staff).get("/api/v1/assets/")) == sa1
    assert tags(as_user(cast.advisor_c1).get("/api/v1/assets/")) == sa1
    assert tags(as_user(cast.director_sa1).get("/api/v1/assets/")) == sa1
    assert tags(as_user(cast.teacher_sa1).get("/api/v1/assets/")) == sa1
    assert tags(as_user(cast.director_sb1).get("/api/v1/assets/")) == {PC_B}
    assert tags(as_user(cast.workshop).get("/api/v1/assets/")) == set()


def test_asset_list_filters_and_paginates(fleet, cast, as_user):
    api = as_user(cast.admin)
    assert tags(api.get("/api/v1/assets/", {"school": SA1, "status": "deployed"})) == {PC1, PROJ1, TC1, PC_OLD}
    assert tags(api.get("/api/v1/assets/", {"category": "thin_client"})) == {TC1, TC_SPARE}
    assert tags(api.get("/api/v1/assets/", {"q": "CZC4444"})) == {PC_B}
    page = api.get("/api/v1/assets/", {"limit": 2, "offset": 2, "ordering": "tag"}).json()
    assert page["count"] == 6 and [r["tag"] for r in page["results"]] == [TC1, PC_B]
    # A director filtering on another school gets nothing, not that school's assets.
    assert tags(as_user(cast.director_sa1).get("/api/v1/assets/", {"school": SB1})) == set()


def test_asset_list_runs_a_fixed_number_of_queries(fleet, cast, as_user):
    api = as_user(cast.admin)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get("/api/v1/assets/").status_code == 200
        return len(ctx.captured_queries)

    small = count_queries()
    for i in range(30):
        asset = services.do_create_asset(cast.admin, model=fleet.optiplex, tag=f"BULK-{i:03d}", serial=f"S{i}")
        services.do_deploy(cast.admin, asset, school_class=fleet.class1 if i % 2 else None,
                           school=None if i % 2 else cast.sb1)
    assert Asset.objects.count() == 36
    assert count_queries() == small <= 4


def test_asset_detail_has_place_slot_specs_and_interfaces(fleet, cast, as_user):
    NetworkInterface.objects.create(asset=fleet.pc1, mac="00:11:22:33:44:55", name="eth0")
    Asset.objects.filter(pk=fleet.pc1.pk).update(ram_mb=8192)  # the agent reported more memory than the model
    data = as_user(cast.teacher_sa1).get(f"/api/v1/assets/{PC1}/").json()
    assert data["place"] == {"kind": "class", "label": "École des Tilleuls — Classe 1"}
    assert data["slot"]["label"] == "PC de la Classe 1"
    assert data["specs"]["ram_mb"] == 8192 and data["specs"]["cpu"] == "Intel Core i3-4150"
    assert data["interfaces"] == [{"mac": "00:11:22:33:44:55", "name": "eth0"}]
    assert data["model"]["maker"] == "Dell" and data["school"]["uai"] == SA1
    spare = as_user(cast.admin).get(f"/api/v1/assets/{TC_SPARE}/").json()
    assert spare["place"]["kind"] == "site" and spare["slot"] is None and spare["site"]["name"] == fleet.depot.name


def test_asset_detail_out_of_scope_is_404(fleet, cast, as_user):
    assert as_user(cast.director_sb1).get(f"/api/v1/assets/{PC1}/").status_code == 404
    assert as_user(cast.workshop).get(f"/api/v1/assets/{PC1}/").status_code == 404
    assert as_user(cast.director_sb1).get(f"/api/v1/assets/{PC1}/events/").status_code == 404
    assert as_user(cast.admin).get("/api/v1/assets/NOPE-1/").status_code == 404


def test_asset_events_timeline(fleet, cast, as_user):
    services.do_transition(cast.technician, fleet.proj1, Status.FAILED, "lampe grillée", ticket="DEM-12")
    events = results(as_user(cast.director_sa1).get(f"/api/v1/assets/{PROJ1}/events/"))
    assert events[0]["kind"] == "status" and events[0]["to_status"] == "failed"
    assert events[0]["user"] == "technician" and events[0]["ticket"] == "DEM-12"
    assert events[-1]["kind"] == "created"


# ---------------------------------------------------------------- create and update


def test_create_asset_allowed_to_the_fleet_team(fleet, cast, as_user):
    response = as_user(cast.technician).post("/api/v1/assets/", {
        "tag": "SEM-00100", "model": fleet.optiplex.pk, "serial": "CZC0100", "purchased_on": "2024-09-01",
        "cost": "549.90", "school": SB1.lower(), "reason": "livraison"}, format="json")
    assert response.status_code == 201, response.content
    asset = Asset.objects.get(tag="SEM-00100")
    assert asset.category == Category.DESKTOP and asset.status == Status.IN_STOCK and asset.school == cast.sb1
    assert asset.events.get().kind == AssetEvent.Kind.CREATED
    assert AuditEntry.objects.filter(object_type="fleet.asset", object_id=str(asset.pk), user=cast.technician).exists()
    assert response.json()["place"]["kind"] == "school"


@pytest.mark.parametrize("who", ["committee", "commune_a_staff", "director_sa1", "teacher_sa1", "workshop"])
def test_create_asset_denied_to_others(fleet, cast, as_user, who):
    response = as_user(getattr(cast, who)).post("/api/v1/assets/", {"tag": "SEM-00100", "model": fleet.optiplex.pk},
                                                format="json")
    assert response.status_code == 403
    assert not Asset.objects.filter(tag="SEM-00100").exists()


def test_create_asset_refusals_are_400(fleet, cast, as_user):
    api = as_user(cast.admin)
    response = api.post("/api/v1/assets/", {"tag": PC1, "model": fleet.optiplex.pk}, format="json")
    assert response.status_code == 400 and PC1 in response.json()["detail"]
    response = api.post("/api/v1/assets/", {"tag": "SEM-00101", "model": fleet.optiplex.pk, "serial": "CZC1111"},
                        format="json")
    assert response.status_code == 400 and "CZC1111" in response.json()["detail"]
    response = api.post("/api/v1/assets/", {"tag": "SEM-00102", "model": fleet.optiplex.pk, "status": "deployed"},
                        format="json")
    assert response.status_code == 400 and "status" in response.json()
    response = api.post("/api/v1/assets/", {"tag": "SEM-00103", "model": fleet.optiplex.pk, "school": SA1,
                                            "site": fleet.depot.pk}, format="json")
    assert response.status_code == 400
    assert Asset.objects.count() == 6


def test_patch_descriptive_fields(fleet, cast, as_user):
    response = as_user(cast.admin).patch(f"/api/v1/assets/{PC1}/", {"notes": "écran fissuré", "cost": "399.00",
                                                                    "reason": "inventaire"}, format="json")
    assert response.status_code == 200, response.content
    fleet.pc1.refresh_from_db()
    assert fleet.pc1.notes == "écran fissuré" and str(fleet.pc1.cost) == "399.00"
    event = fleet.pc1.events.first()
    assert event.kind == AssetEvent.Kind.EDITED and event.reason == "inventaire"


def test_patch_refuses_status_and_place_and_denies_others(fleet, cast, as_user):
    api = as_user(cast.admin)
    response = api.patch(f"/api/v1/assets/{PC1}/", {"status": "lost"}, format="json")
    assert response.status_code == 400 and "status" in response.json()
    response = api.patch(f"/api/v1/assets/{PC1}/", {"serial": "CZC4444"}, format="json")
    assert response.status_code == 400 and "CZC4444" in response.json()["detail"]
    assert as_user(cast.teacher_sa1).patch(f"/api/v1/assets/{PC1}/", {"notes": "x"}, format="json").status_code == 403
    assert as_user(cast.director_sb1).patch(f"/api/v1/assets/{PC1}/", {"notes": "x"}, format="json").status_code == 404
    fleet.pc1.refresh_from_db()
    assert fleet.pc1.status == Status.DEPLOYED and fleet.pc1.serial == "CZC1111" and fleet.pc1.notes == ""


# ---------------------------------------------------------------- lifecycle actions


def test_transition_through_the_api(fleet, cast, as_user):
    response = as_user(cast.technician).post(f"/api/v1/assets/{PROJ1}/transition/",
                                             {"status": "failed", "reason": "ne s'allume plus", "ticket": "DEM-3"},
                                             format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "failed"
    event = AssetEvent.objects.filter(asset__tag=PROJ1).first()
    assert (event.from_status, event.to_status, event.ticket) == ("deployed", "failed", "DEM-3")


def test_invalid_transition_is_400_and_changes_nothing(fleet, cast, as_user):
    events, entries = AssetEvent.objects.count(), AuditEntry.objects.count()
    response = as_user(cast.admin).post(f"/api/v1/assets/{TC_SPARE}/transition/", {"status": "recycled"},
                                        format="json")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "Transition refusée" in detail and "recyclé" in detail and "déployé" in detail
    response = as_user(cast.admin).post(f"/api/v1/assets/{TC_SPARE}/transition/", {"status": "flying"},
                                        format="json")
    assert response.status_code == 400 and "status" in response.json()
    assert status_of(TC_SPARE) == Status.IN_STOCK
    assert (AssetEvent.objects.count(), AuditEntry.objects.count()) == (events, entries)


def test_actions_denied_in_scope_403_out_of_scope_404(fleet, cast, as_user):
    events, entries = AssetEvent.objects.count(), AuditEntry.objects.count()
    for action, body in [("transition", {"status": "failed"}), ("deploy", {"school": SA1}),
                         ("move", {"site": fleet.depot.pk}), ("replace", {"replacement": TC_SPARE})]:
        url = f"/api/v1/assets/{PC1}/{action}/"
        assert as_user(cast.director_sa1).post(url, body, format="json").status_code == 403, action
        assert as_user(cast.committee).post(url, body, format="json").status_code == 403, action
        assert as_user(cast.director_sb1).post(url, body, format="json").status_code == 404, action
        assert as_user(cast.workshop).post(url, body, format="json").status_code == 404, action
    assert status_of(PC1) == Status.DEPLOYED and status_of(TC_SPARE) == Status.IN_STOCK
    assert (AssetEvent.objects.count(), AuditEntry.objects.count()) == (events, entries)


def test_deploy_into_a_slot_a_class_or_a_school(fleet, cast, as_user):
    api = as_user(cast.admin)
    response = api.post(f"/api/v1/assets/{TC_SPARE}/deploy/", {"slot": fleet.slot_tc2.pk}, format="json")
    assert response.status_code == 400 and "occupé" in response.json()["detail"]
    response = api.post(f"/api/v1/assets/{TC_SPARE}/deploy/", {}, format="json")
    assert response.status_code == 400
    free = Slot.objects.create(school=cast.sb1, school_class=fleet.class_b, category=Category.THIN_CLIENT,
                               label="Client léger 2")
    response = api.post(f"/api/v1/assets/{TC_SPARE}/deploy/", {"slot": free.pk, "ticket": "DEM-9"}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "deployed" and data["slot"]["id"] == free.pk and data["school_class"]["name"] == "Classe 1"
    assert data["school"]["uai"] == SB1


def test_move_a_stocked_asset_but_not_a_deployed_one(fleet, cast, as_user):
    api = as_user(cast.technician)
    response = api.post(f"/api/v1/assets/{TC_SPARE}/move/", {"site": fleet.envie.pk, "reason": "prêt"}, format="json")
    assert response.status_code == 200 and response.json()["site"]["name"] == "Envie Loire"
    response = api.post(f"/api/v1/assets/{PC1}/move/", {"site": fleet.depot.pk}, format="json")
    assert response.status_code == 400 and "déployé" in response.json()["detail"]
    response = api.post(f"/api/v1/assets/{TC_SPARE}/move/", {"site": fleet.depot.pk, "school": SA1}, format="json")
    assert response.status_code == 400
    assert Asset.objects.get(tag=PC1).school_class == fleet.class1


def test_replace_through_the_api(fleet, cast, as_user):
    api = as_user(cast.technician)
    response = api.post(f"/api/v1/assets/{TC1}/replace/", {"replacement": "NOPE"}, format="json")
    assert response.status_code == 400 and "replacement" in response.json()
    response = api.post(f"/api/v1/assets/{TC1}/replace/", {"replacement": PC_B}, format="json")
    assert response.status_code == 400 and "stock ou requalifié" in response.json()["detail"]
    response = api.post(f"/api/v1/assets/{TC1}/replace/", {"replacement": TC_SPARE, "reason": "écran noir",
                                                           "ticket": "DEM-7"}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["replaced"]["status"] == "retired" and data["replaced"]["place"]["kind"] == "site"
    assert data["replacement"]["status"] == "deployed" and data["replacement"]["slot"]["id"] == fleet.slot_tc2.pk
    assert Slot.objects.get(pk=fleet.slot_tc2.pk).asset.tag == TC_SPARE
    kinds = {e["kind"] for e in results(api.get(f"/api/v1/assets/{TC_SPARE}/events/"))}
    assert "replaces" in kinds


def test_replace_with_an_explicit_next_status(fleet, cast, as_user):
    response = as_user(cast.admin).post(f"/api/v1/assets/{TC1}/replace/",
                                        {"replacement": TC_SPARE, "next_status": "in_repair"}, format="json")
    assert response.status_code == 200 and response.json()["replaced"]["status"] == "in_repair"
    response = as_user(cast.admin).post(f"/api/v1/assets/{PROJ1}/replace/",
                                        {"replacement": TC1, "next_status": "deployed"}, format="json")
    assert response.status_code == 400 and "next_status" in response.json()


# ---------------------------------------------------------------- device models


def test_device_models_read_by_all_written_by_the_fleet_team(fleet, cast, as_user):
    listed = results(as_user(cast.teacher_sa1).get("/api/v1/device-models/", {"category": "desktop"}))
    assert {m["name"] for m in listed} == {"OptiPlex 3020", "Compaq dc7800"}
    assert as_user(cast.workshop).get(f"/api/v1/device-models/{fleet.epson.pk}/").json()["maker"] == "Epson"
    body = {"category": "laptop", "maker": "Lenovo", "name": "ThinkPad L13", "ram_mb": 8192}
    assert as_user(cast.teacher_sa1).post("/api/v1/device-models/", body, format="json").status_code == 403
    assert as_user(cast.committee).post("/api/v1/device-models/", body, format="json").status_code == 403
    assert not DeviceModel.objects.filter(name="ThinkPad L13").exists()
    response = as_user(cast.technician).post("/api/v1/device-models/", body, format="json")
    assert response.status_code == 201, response.content
    model = DeviceModel.objects.get(name="ThinkPad L13")
    assert AuditEntry.objects.filter(object_type="fleet.devicemodel", object_id=str(model.pk)).count() == 1
    assert as_user(cast.technician).post("/api/v1/device-models/", body, format="json").status_code == 400
    url = f"/api/v1/device-models/{model.pk}/"
    assert as_user(cast.director_sa1).patch(url, {"ram_mb": 16384}, format="json").status_code == 403
    assert as_user(cast.admin).patch(url, {"ram_mb": 16384}, format="json").status_code == 200
    model.refresh_from_db()
    assert model.ram_mb == 16384
    assert as_user(cast.admin).put(url, body, format="json").status_code == 405
    assert as_user(cast.admin).delete(url).status_code == 405


# ---------------------------------------------------------------- batches


def test_batch_create_allowed_to_the_fleet_team_only(fleet, cast, as_user):
    body = {"workshop": fleet.envie.pk, "assets": [PC1, PC_OLD], "notes": "rentrée"}
    for who in ("committee", "workshop", "director_sa1"):
        assert as_user(getattr(cast, who)).post("/api/v1/batches/", body, format="json").status_code == 403
    response = as_user(cast.admin).post("/api/v1/batches/", {**body, "assets": [PC1, "NOPE"]}, format="json")
    assert response.status_code == 400 and "NOPE" in str(response.json()["assets"])
    response = as_user(cast.admin).post("/api/v1/batches/", {**body, "assets": [PROJ1]}, format="json")
    assert response.status_code == 400 and "requalifie" in response.json()["detail"]
    assert RequalificationBatch.objects.count() == 0
    response = as_user(cast.admin).post("/api/v1/batches/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["reference"].startswith("LOT-") and data["state"] == "planned"
    assert [i["asset"] for i in data["items"]] == [PC1, PC_OLD] and data["progress"]["total"] == 2


def test_batch_scope_per_role(fleet, cast, as_user):
    mine = services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc1])
    other = services.do_create_batch(cast.admin, workshop=fleet.other_workshop, assets=[fleet.pc_b])
    refs = lambda r: {row["reference"] for row in results(r)}  # noqa: E731
    assert refs(as_user(cast.admin).get("/api/v1/batches/")) == {mine.reference, other.reference}
    assert refs(as_user(cast.committee).get("/api/v1/batches/")) == {mine.reference, other.reference}
    assert refs(as_user(cast.workshop).get("/api/v1/batches/")) == {mine.reference}
    assert refs(as_user(cast.director_sa1).get("/api/v1/batches/")) == set()
    assert as_user(cast.workshop).get(f"/api/v1/batches/{other.reference}/").status_code == 404
    assert as_user(cast.director_sa1).get(f"/api/v1/batches/{mine.reference}/").status_code == 404
    assert as_user(cast.workshop).post(f"/api/v1/batches/{other.reference}/pickup/").status_code == 404
    # The committee sees every batch but may not work one.
    assert as_user(cast.committee).post(f"/api/v1/batches/{mine.reference}/pickup/").status_code == 403
    assert RequalificationBatch.objects.get(pk=mine.pk).state == "planned"


def test_batch_list_runs_a_fixed_number_of_queries(fleet, cast, as_user):
    api = as_user(cast.admin)
    services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc1])

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get("/api/v1/batches/").status_code == 200
        return len(ctx.captured_queries)

    small = count_queries()
    for i in range(5):
        asset = services.do_create_asset(cast.admin, model=fleet.optiplex, tag=f"LOTPC-{i}")
        services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[asset])
    assert count_queries() == small


def test_a_batch_walked_through_the_api(fleet, cast, as_user):
    admin, workshop = as_user(cast.admin), as_user(cast.workshop)
    ref = admin.post("/api/v1/batches/", {"workshop": fleet.envie.pk, "assets": [PC1, PC_OLD]},
                     format="json").json()["reference"]
    base = f"/api/v1/batches/{ref}"
    # A step out of order is refused and changes nothing.
    response = workshop.post(f"{base}/receive/")
    assert response.status_code == 400 and ref in response.json()["detail"]
    assert workshop.post(f"{base}/pickup/", {"on": "2026-11-02"}, format="json").status_code == 200
    assert status_of(PC1) == Status.IN_REQUALIFICATION
    data = workshop.post(f"{base}/receive/").json()
    assert data["state"] == "received" and data["progress"]["evaluated"] == 2
    items = {i["asset"]: i for i in data["items"]}
    assert items[PC1]["eligibility"] == "eligible" and items[PC_OLD]["eligibility"] == "ineligible"
    # Converting without an erasure certificate is refused.
    response = workshop.post(f"{base}/items/{PC1}/convert/")
    assert response.status_code == 400 and "certificat" in response.json()["detail"]
    erasure = {"disk_serial": "WD-1", "method": "purge", "tool": "nwipe 0.34", "pattern": "PRNG", "passes": 1,
               "verification": "passed", "operator": "A. Martin", "performed_on": "2026-11-03"}
    assert as_user(cast.director_sa1).post(f"{base}/items/{PC1}/erasure/", erasure,
                                           format="json").status_code == 404
    response = workshop.post(f"{base}/items/{PC1}/erasure/", erasure, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["number"].startswith("EFF-2026-") and response.json()["asset"] == PC1
    response = workshop.post(f"{base}/items/{PC1}/erasure/", {**erasure, "method": "magic"}, format="json")
    assert response.status_code == 400 and "method" in response.json()
    response = workshop.post(f"{base}/items/{PC1}/convert/", {"notes": "RAM ajoutée"}, format="json")
    assert response.status_code == 200 and response.json()["result"] == "converted"
    assert response.json()["category"] == "thin_client" and len(response.json()["erasures"]) == 1
    # The workshop overrides a verdict with a reason; a reason is required.
    assert workshop.post(f"{base}/items/{PC_OLD}/eligibility/", {"eligible": False},
                         format="json").status_code == 400
    response = workshop.post(f"{base}/items/{PC_OLD}/eligibility/", {"eligible": False, "reason": "carte mère HS"},
                             format="json")
    assert response.status_code == 200 and "carte mère HS" in response.json()["reasons"]
    reject = {"weight_kg": "9.50", "recycler": "Ecosystem", "certificate": "BSD-1"}
    response = workshop.post(f"{base}/items/{PC_OLD}/reject/", reject, format="json")
    assert response.status_code == 400 and "effacées" in response.json()["detail"]
    workshop.post(f"{base}/items/{PC_OLD}/erasure/", {**erasure, "disk_serial": "WD-2", "method": "destroy"},
                  format="json")
    response = workshop.post(f"{base}/items/{PC_OLD}/reject/", reject, format="json")
    assert response.status_code == 200 and response.json()["result"] == "rejected"
    assert workshop.post(f"{base}/items/{PROJ1}/convert/").status_code == 404  # not in the batch
    data = workshop.post(f"{base}/return/").json()
    assert data["state"] == "returned" and data["progress"]["percent"] == 100 and data["progress"]["erased"] == 2
    # Deploying into schools is the fleet team's job, not the workshop's.
    assert workshop.post(f"{base}/deploy/").status_code == 403
    assert admin.post(f"{base}/deploy/").json()["state"] == "closed"
    pc1 = Asset.objects.get(tag=PC1)
    assert (pc1.category, pc1.origin, pc1.status) == (Category.THIN_CLIENT, Origin.REQUALIFIED, Status.DEPLOYED)
    assert Slot.objects.get(pk=fleet.slot_pc1.pk).asset_id == pc1.pk
    assert status_of(PC_OLD) == Status.RECYCLED
    assert BatchItem.objects.filter(batch__reference=ref, result="pending").count() == 0
    listed = results(admin.get("/api/v1/batches/", {"state": "closed"}))
    assert listed[0]["progress"] == {"total": 2, "evaluated": 2, "eligible": 1, "erased": 2, "converted": 1,
                                     "rejected": 1, "done": 2, "percent": 100}


def test_batch_item_actions_denied_to_a_non_member(fleet, cast, as_user):
    batch = services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc1])
    services.do_pickup_batch(cast.admin, batch)
    services.do_receive_batch(cast.admin, batch, on=date(2026, 11, 2))
    url = f"/api/v1/batches/{batch.reference}/items/{PC1}/eligibility/"
    body = {"eligible": False, "reason": "test"}
    assert as_user(cast.committee).post(url, body, format="json").status_code == 403
    assert as_user(cast.teacher_sa1).post(url, body, format="json").status_code == 404
    assert BatchItem.objects.get(batch=batch).eligibility == "eligible"


# ---------------------------------------------------------------- slots


def test_slots_by_school_within_scope(fleet, cast, as_user):
    labels = lambda r: sorted(row["label"] for row in results(r))  # noqa: E731
    assert len(results(as_user(cast.admin).get("/api/v1/slots/"))) == 4
    assert labels(as_user(cast.admin).get("/api/v1/slots/", {"school": SB1})) == ["PC de la Classe 1"]
    assert len(results(as_user(cast.director_sa1).get("/api/v1/slots/"))) == 3
    assert results(as_user(cast.director_sa1).get("/api/v1/slots/", {"school": SB1})) == []
    assert results(as_user(cast.workshop).get("/api/v1/slots/")) == []
    services.do_transition(cast.admin, fleet.proj1, Status.FAILED)
    services.do_transition(cast.admin, Asset.objects.get(tag=PROJ1), Status.IN_REPAIR)
    free = results(as_user(cast.teacher_sa1).get("/api/v1/slots/", {"free": "true"}))
    assert [(s["label"], s["asset"]) for s in free] == [("Vidéoprojecteur de la Classe 1", None)]
