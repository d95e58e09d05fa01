"""The lifecycle state machine and the services: transitions, replacement, a whole requalification batch."""

from datetime import date

import pytest

from preau.core.models import AuditEntry
from preau.fleet import lifecycle, services
from preau.fleet.lifecycle import Status, TransitionRefused
from preau.fleet.models import AssetEvent, BatchItem, Category, ErasureCertificate, Origin, Slot


def test_every_status_has_its_transitions_and_targets_are_statuses():
    assert set(lifecycle.TRANSITIONS) == set(Status.values)
    for targets in lifecycle.TRANSITIONS.values():
        assert set(targets) <= set(Status.values)
    assert lifecycle.allowed(Status.RECYCLED) == ()


def test_invalid_transition_is_refused_with_a_clear_message(fleet, cast):
    services.do_transition(cast.admin, fleet.proj1, Status.FAILED, "ne s'allume plus")
    fleet.proj1.refresh_from_db()
    services.do_transition(cast.admin, fleet.proj1, Status.RECYCLED, "irréparable")
    with pytest.raises(TransitionRefused) as exc:
        services.do_transition(cast.admin, fleet.proj1, Status.IN_STOCK)
    assert "recyclé" in str(exc.value) and "en stock" in str(exc.value) and "aucun" in str(exc.value)
    with pytest.raises(services.FleetError, match="Déployer"):
        services.do_transition(cast.admin, fleet.tc_spare, Status.DEPLOYED)
    fleet.proj1.refresh_from_db()
    assert fleet.proj1.status == Status.RECYCLED


def test_transition_records_who_when_why_and_frees_the_slot(fleet, cast):
    services.do_transition(cast.technician, fleet.proj1, Status.FAILED, "lampe grillée", ticket="DEM-12")
    event = fleet.proj1.events.first()
    assert (event.kind, event.from_status, event.to_status) == (AssetEvent.Kind.STATUS, "deployed", "failed")
    assert event.user == cast.technician and event.reason == "lampe grillée" and event.ticket == "DEM-12"
    fleet.slot_proj1.refresh_from_db()
    assert fleet.slot_proj1.asset_id == fleet.proj1.pk  # a failed device still holds its place
    services.do_transition(cast.technician, fleet.proj1, Status.IN_REPAIR, "SAV")
    fleet.slot_proj1.refresh_from_db()
    fleet.proj1.refresh_from_db()
    assert fleet.slot_proj1.asset_id is None and fleet.proj1.site == fleet.depot and fleet.proj1.school is None
    assert AuditEntry.objects.filter(object_type="fleet.asset", object_id=str(fleet.proj1.pk)).count() >= 3


def test_replace_keeps_the_slot_and_both_histories(fleet, cast):
    services.do_transition(cast.technician, fleet.tc1, Status.FAILED, "écran noir")
    failed, new = services.do_replace(cast.technician, fleet.tc1, fleet.tc_spare, reason="remplacement", ticket="DEM-7")
    fleet.slot_tc2.refresh_from_db()
    assert fleet.slot_tc2.asset_id == fleet.tc_spare.pk
    assert new.status == Status.DEPLOYED and new.school_class == fleet.class2
    assert failed.status == Status.RETIRED and failed.site == fleet.depot  # thin clients are replaced, not repaired
    assert failed.events.first().kind == AssetEvent.Kind.REPLACED and failed.events.first().other_asset == new
    assert new.events.first().kind == AssetEvent.Kind.REPLACES and new.events.first().ticket == "DEM-7"


def test_replace_refuses_wrong_category_and_unavailable_devices(fleet, cast):
    services.do_transition(cast.technician, fleet.proj1, Status.FAILED, "panne")
    with pytest.raises(services.FleetError, match="catégorie"):
        services.do_replace(cast.technician, fleet.proj1, fleet.tc_spare)
    with pytest.raises(services.FleetError, match="stock ou requalifié"):
        services.do_replace(cast.technician, fleet.tc1, fleet.pc_b)
    fleet.tc_spare.refresh_from_db()
    assert fleet.tc_spare.status == Status.IN_STOCK


def test_deploy_refuses_an_occupied_slot(fleet, cast):
    with pytest.raises(services.FleetError, match="occupé"):
        services.do_deploy(cast.admin, fleet.tc_spare, slot=fleet.slot_tc2)


def test_duplicate_tag_and_serial_are_refused(fleet, cast):
    with pytest.raises(services.FleetError, match="SEM-00001"):
        services.do_create_asset(cast.admin, model=fleet.optiplex, tag="SEM-00001")
    with pytest.raises(services.FleetError, match="CZC1111"):
        services.do_create_asset(cast.admin, model=fleet.optiplex, tag="SEM-09999", serial="CZC1111")


def _erase(item, cast, method=ErasureCertificate.Method.PURGE, verification="passed"):
    return services.do_record_erasure(cast.workshop, item, disk_serial=f"WD-{item.asset.tag}", method=method,
                                      tool="nwipe 0.34", passes=1, pattern="PRNG", verification=verification,
                                      operator="A. Martin", performed_on=date(2026, 11, 3))


def test_a_batch_from_creation_to_deployment(fleet, cast):
    batch = services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc1, fleet.pc_old])
    assert batch.reference.startswith("LOT-") and batch.items.count() == 2
    services.do_pickup_batch(cast.admin, batch)
    fleet.pc1.refresh_from_db()
    assert fleet.pc1.status == Status.IN_REQUALIFICATION and fleet.pc1.site == fleet.envie
    assert Slot.objects.get(pk=fleet.slot_pc1.pk).asset_id is None
    services.do_receive_batch(cast.workshop, batch, on=date(2026, 11, 2))
    good = batch.items.get(asset=fleet.pc1)
    bad = batch.items.get(asset=fleet.pc_old)
    assert good.eligibility == BatchItem.Eligibility.ELIGIBLE
    assert bad.eligibility == BatchItem.Eligibility.INELIGIBLE and any("32 bits" in r for r in bad.reasons)
    with pytest.raises(services.FleetError, match="certificat"):
        services.do_convert(cast.workshop, good)
    _erase(good, cast)
    services.do_convert(cast.workshop, good)
    with pytest.raises(services.FleetError, match="éligible"):
        services.do_convert(cast.workshop, bad)
    with pytest.raises(services.FleetError, match="effacées"):
        services.do_reject(cast.workshop, bad, weight_kg=9, recycler="Ecosystem")
    _erase(bad, cast, method=ErasureCertificate.Method.DESTROY)
    services.do_reject(cast.workshop, bad, weight_kg=9.5, recycler="Ecosystem", certificate="BSD-1")
    assert services.batch_progress(batch)["percent"] == 100
    services.do_return_batch(cast.workshop, batch)
    services.do_deploy_batch(cast.admin, batch)
    pc1 = fleet.pc1.__class__.objects.get(pk=fleet.pc1.pk)
    assert pc1.tag == "SEM-00001" and pc1.category == Category.THIN_CLIENT and pc1.origin == Origin.REQUALIFIED
    assert pc1.status == Status.DEPLOYED and pc1.school_class == fleet.class1
    assert Slot.objects.get(pk=fleet.slot_pc1.pk).asset_id == pc1.pk
    kinds = list(pc1.events.order_by("at", "pk").values_list("kind", flat=True))
    assert kinds[0] == "created" and "requalified" in kinds and "erased" in kinds
    fleet.pc_old.refresh_from_db()
    assert fleet.pc_old.status == Status.RECYCLED and fleet.pc_old.recycling.certificate == "BSD-1"


def test_batch_refuses_non_requalifiable_and_busy_devices(fleet, cast):
    with pytest.raises(services.FleetError, match="requalifie"):
        services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.proj1])
    services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc1])
    with pytest.raises(services.FleetError, match="déjà dans un lot"):
        services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc1])


def test_return_refuses_items_without_result(fleet, cast):
    batch = services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc1])
    services.do_pickup_batch(cast.admin, batch)
    services.do_receive_batch(cast.admin, batch)
    with pytest.raises(services.FleetError, match="SEM-00001"):
        services.do_return_batch(cast.admin, batch)


def test_an_item_with_a_result_is_not_acted_on_twice(fleet, cast):
    batch = services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc_old])
    services.do_pickup_batch(cast.admin, batch)
    services.do_receive_batch(cast.workshop, batch)
    item = batch.items.get()
    _erase(item, cast, method=ErasureCertificate.Method.DESTROY)
    services.do_reject(cast.workshop, item, weight_kg=9, recycler="Ecosystem")
    with pytest.raises(services.FleetError, match="déjà son résultat"):
        services.do_reject(cast.workshop, item, weight_kg=9, recycler="Ecosystem")
    with pytest.raises(services.FleetError, match="déjà son résultat"):
        _erase(item, cast)


def test_certificate_numbers_follow_the_highest_and_duplicates_are_refused(fleet, cast):
    batch = services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc1, fleet.pc_b])
    services.do_pickup_batch(cast.admin, batch)
    services.do_receive_batch(cast.workshop, batch)
    first, second = batch.items.order_by("asset__tag")
    services.do_record_erasure(cast.workshop, first, number="EFF-2026-00007", disk_serial="D1", method="purge",
                               tool="nwipe", verification="passed", operator="A", performed_on=date(2026, 11, 3))
    assert _erase(second, cast).number == "EFF-2026-00008"
    with pytest.raises(services.FleetError, match="certificat"):
        services.do_record_erasure(cast.workshop, second, number="EFF-2026-00007", disk_serial="D2",
                                   method="purge", tool="nwipe", verification="passed", operator="A",
                                   performed_on=date(2026, 11, 3))


def test_eligibility_rule_update_keeps_the_threshold_and_audits(cast):
    from preau.fleet.models import EligibilityRule

    assert services.do_update_eligibility_rule(cast.admin, "min_ram_mb", active=False, value=None)
    rule = EligibilityRule.objects.get(criterion="min_ram_mb")
    assert (rule.active, rule.value) == (False, 2048)
    assert not services.do_update_eligibility_rule(cast.admin, "min_ram_mb", active=False, value=None)
    assert AuditEntry.objects.filter(object_type="fleet.eligibilityrule").count() == 1
