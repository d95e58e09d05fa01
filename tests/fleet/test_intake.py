"""The intake: matching order (serial, UUID, MAC), placeholders never matched, conflicts queued, TAG = UAI
(unknown refused, another school refused), updates with timeline event and audit entry, queue rows that do
not pile up, placement of a queued device and the next inventory matching it."""

import dataclasses
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from preau.core.models import AuditEntry
from preau.fleet import services
from preau.fleet.agent import identity, intake, parse, payload, placement
from preau.fleet.lifecycle import Status
from preau.fleet.models import (
    AgentSubmission,
    Asset,
    AssetEvent,
    Category,
    DeviceModel,
    NetworkInterface,
    Slot,
)
from preau.fleet.services import FleetError

DATA = Path(__file__).parent / "data"
OUT = AgentSubmission.Outcome


def load(name: str, **changes) -> parse.Inventory:
    inv = parse.parse(payload.decode((DATA / name).read_bytes())).inventory
    return dataclasses.replace(inv, **changes)


def desktop(**changes) -> parse.Inventory:
    """The Dell OptiPlex 7010 of sa1 (TAG 0429901j), serial 4XKQ2Z1, MAC 18:db:f2:4a:11:01."""
    return load("fusion_desktop.xml", **changes)


BOGUS = {"serial": "To be filled by OUT.E.M.", "system_uuid": "00000000-0000-0000-0000-000000000000"}


def nic(asset, mac, name="eth0"):
    return NetworkInterface.objects.create(asset=asset, mac=mac, name=name)


# --------------------------------------------------------------------------- matching


def test_match_by_serial_updates_the_asset(fleet):
    sub = intake.intake(desktop(serial="CZC1111"), remote_addr="10.42.1.37")
    pc1 = Asset.objects.get(pk=fleet.pc1.pk)
    assert (sub.outcome, sub.asset_id, sub.matched_by) == (OUT.MATCHED, pc1.pk, "serial")
    assert sub.school == fleet.pc1.school and sub.agent_tag == "0429901J" and sub.remote_addr == "10.42.1.37"
    assert pc1.hostname == "tilleuls-cp-01"
    assert pc1.system_uuid == "4c4c4544-0058-4b10-8051-b4c04f325a31"
    assert (pc1.cpu, pc1.cpu_64bit, pc1.ram_mb, pc1.disk_gb) == ("Intel(R) Core(TM) i5-3470 CPU @ 3.20GHz", True,
                                                                 8192, 620)
    assert pc1.os == "Debian GNU/Linux 12 (bookworm) 12.8"
    assert pc1.last_inventory_at is not None
    assert pc1.status == Status.DEPLOYED and pc1.school_class == fleet.class1  # place and status untouched
    assert list(pc1.interfaces.values_list("mac", "name")) == [("18:db:f2:4a:11:01", "eno1")]
    event = pc1.events.get(kind=AssetEvent.Kind.INVENTORY)
    assert set(event.details["fields"]) == {"hostname", "system_uuid", "cpu", "cpu_64bit", "ram_mb", "disk_gb", "os",
                                            "interfaces"}
    assert event.details["matched_by"] == "serial" and event.details["submission"] == sub.pk
    assert "numéro de série" in event.reason
    entry = AuditEntry.objects.filter(object_type="fleet.asset", object_id=str(pc1.pk),
                                      action=AuditEntry.Action.UPDATE).latest("pk")
    assert entry.after["hostname"] == "tilleuls-cp-01" and entry.before["hostname"] == ""
    assert "Modifié" in sub.message


def test_same_inventory_again_changes_nothing(fleet):
    intake.intake(desktop(serial="CZC1111"))
    first = Asset.objects.get(pk=fleet.pc1.pk).last_inventory_at
    sub = intake.intake(desktop(serial="CZC1111"))
    assert sub.outcome == OUT.MATCHED and sub.message == "Aucun changement."
    assert fleet.pc1.events.filter(kind=AssetEvent.Kind.INVENTORY).count() == 1
    assert Asset.objects.get(pk=fleet.pc1.pk).last_inventory_at > first


def test_match_by_uuid_in_either_byte_order_and_fills_the_missing_serial(fleet, cast):
    a = services.do_create_asset(cast.admin, model=fleet.optiplex,
                                 tag="SEM-00100", school=fleet.pc1.school,
                                 system_uuid="44454C4C-5800-104B-8051-B4C04F325A31")  # the other byte order
    sub = intake.intake(desktop())
    a.refresh_from_db()
    assert (sub.outcome, sub.asset_id, sub.matched_by) == (OUT.MATCHED, a.pk, "uuid")
    assert a.serial == "4XKQ2Z1"  # filled in from the agent
    assert a.system_uuid == "4c4c4544-0058-4b10-8051-b4c04f325a31"


def test_match_by_mac_when_serial_and_uuid_are_placeholders(fleet):
    nic(fleet.pc1, "18:db:f2:4a:11:01")
    sub = intake.intake(desktop(**BOGUS))
    assert (sub.outcome, sub.asset_id, sub.matched_by) == (OUT.MATCHED, fleet.pc1.pk, "mac")
    pc1 = Asset.objects.get(pk=fleet.pc1.pk)
    assert pc1.serial == "CZC1111" and pc1.system_uuid == ""  # placeholders never written


def test_serial_wins_over_uuid_and_mac(fleet):
    services.do_update_asset(None, fleet.pc_b, system_uuid="4c4c4544-0058-4b10-8051-b4c04f325a31")
    nic(fleet.pc_b, "18:db:f2:4a:11:01")
    sub = intake.intake(desktop(serial="CZC1111", tag="0429901J"))
    assert (sub.asset_id, sub.matched_by) == (fleet.pc1.pk, "serial")
    # pc1's new MAC was pc_b's: it moves, and pc_b's timeline says so
    assert NetworkInterface.objects.get(mac="18:db:f2:4a:11:01").asset_id == fleet.pc1.pk
    moved = fleet.pc_b.events.get(kind=AssetEvent.Kind.INVENTORY)
    assert moved.other_asset_id == fleet.pc1.pk and "18:db:f2:4a:11:01" in moved.reason


def test_uuid_wins_over_mac(fleet):
    services.do_update_asset(None, fleet.pc1, system_uuid="4c4c4544-0058-4b10-8051-b4c04f325a31")
    nic(fleet.pc_old, "18:db:f2:4a:11:01")
    sub = intake.intake(desktop(serial=""))
    assert (sub.asset_id, sub.matched_by) == (fleet.pc1.pk, "uuid")


@pytest.mark.parametrize("serial", ["To be filled by OUT.E.M.", "Default string", "0", "None",
                                    "System Serial Number", "123456789", ""])
def test_placeholder_serial_on_an_asset_is_never_matched(fleet, serial):
    if serial:
        Asset.objects.filter(pk=fleet.tc_spare.pk).update(serial=serial)
    sub = intake.intake(desktop(serial=serial, system_uuid=""))
    assert sub.outcome == OUT.QUEUED and sub.asset is None


@pytest.mark.parametrize("uuid", ["00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
                                  "03000200-0400-0500-0006-000700080009"])
def test_placeholder_uuid_on_an_asset_is_never_matched(fleet, uuid):
    Asset.objects.filter(pk=fleet.pc1.pk).update(system_uuid=uuid)
    sub = intake.intake(desktop(serial="", system_uuid=uuid))
    assert sub.outcome == OUT.QUEUED


def test_uuid_match_with_another_serial_is_a_conflict(fleet):
    services.do_update_asset(None, fleet.pc1, system_uuid="4c4c4544-0058-4b10-8051-b4c04f325a31")
    sub = intake.intake(desktop())  # serial 4XKQ2Z1, pc1's is CZC1111
    assert sub.outcome == OUT.QUEUED and sub.asset is None
    assert "SEM-00001" in sub.message and "CZC1111" in sub.message
    assert Asset.objects.get(pk=fleet.pc1.pk).hostname == ""


def test_mac_match_with_another_serial_or_uuid_is_a_conflict(fleet):
    nic(fleet.pc1, "18:db:f2:4a:11:01")
    assert intake.intake(desktop(system_uuid="")).outcome == OUT.QUEUED  # serial differs
    services.do_update_asset(None, fleet.pc1, system_uuid="11111111-2222-3333-4444-555555555555")
    sub = intake.intake(desktop(serial=""))
    assert sub.outcome == OUT.QUEUED and "UUID" in sub.message
    assert Asset.objects.get(pk=fleet.pc1.pk).hostname == ""


def test_macs_of_two_assets_are_ambiguous(fleet):
    inv = desktop(**BOGUS)
    inv.interfaces.append(identity.Interface("eno2", "18:db:f2:4a:11:02"))
    nic(fleet.pc1, "18:db:f2:4a:11:01")
    nic(fleet.pc_old, "18:db:f2:4a:11:02")
    sub = intake.intake(inv)
    assert sub.outcome == OUT.QUEUED and "SEM-00001" in sub.message and "SEM-00006" in sub.message


def test_virtual_and_null_macs_are_never_matched(fleet):
    nic(fleet.pc1, "02:42:5c:9e:0a:17")  # docker0 of the sample, wrongly recorded on pc1
    sub = intake.intake(desktop(**BOGUS))
    assert sub.outcome == OUT.QUEUED


# --------------------------------------------------------------------------- TAG = school UAI


def test_unknown_tag_is_refused(fleet):
    sub = intake.intake(desktop(serial="CZC1111", tag="9999999Z"))
    assert sub.outcome == OUT.REJECTED and "9999999Z" in sub.message and "UAI" in sub.message
    assert Asset.objects.get(pk=fleet.pc1.pk).hostname == ""
    assert not NetworkInterface.objects.exists()


def test_asset_of_another_school_is_refused_and_untouched(fleet):
    sub = intake.intake(desktop(serial="CZC1111", tag="0429902K"))
    assert sub.outcome == OUT.REJECTED and sub.asset_id == fleet.pc1.pk
    assert sub.message.startswith("L'appareil SEM-00001 est inventorié à l'école École des Tilleuls (0429901J), "
                                  "l'agent déclare École maternelle Le Pré (0429902K)")
    pc1 = Asset.objects.get(pk=fleet.pc1.pk)
    assert pc1.hostname == "" and pc1.last_inventory_at is None
    assert not fleet.pc1.events.filter(kind=AssetEvent.Kind.INVENTORY).exists()


def test_asset_at_the_depot_is_updated_and_noted(fleet):
    sub = intake.intake(desktop(serial="TC5555"))
    assert sub.outcome == OUT.MATCHED and sub.asset_id == fleet.tc_spare.pk
    assert "0429901J" in sub.message and "pas placé" in sub.message


def test_a_lost_device_that_reports_is_flagged(fleet, cast):
    services.do_transition(cast.admin, fleet.pc1, Status.LOST, "volé pendant les vacances")
    sub = intake.intake(desktop(serial="CZC1111", tag=""))
    assert sub.outcome == OUT.MATCHED and "perdu / volé" in sub.message
    assert Asset.objects.get(pk=fleet.pc1.pk).status == Status.LOST  # the intake never changes a status


def test_without_tag(fleet):
    assert intake.intake(desktop(serial="CZC1111", tag="")).outcome == OUT.MATCHED
    sub = intake.intake(load("fusion_whitebox_bogus.xml", tag=""))
    assert sub.outcome == OUT.QUEUED and sub.school is None


# --------------------------------------------------------------------------- queue


def test_unknown_device_is_queued_once_per_agent(fleet):
    sub = intake.intake(load("fusion_whitebox_bogus.xml"))
    assert sub.outcome == OUT.QUEUED and sub.school == fleet.pc_b.school  # TAG 0429902K = sb1
    assert sub.data["hostname"] == "PRE-SALLE-INFO-07" and sub.data["interfaces"][0][1] == "30:5a:3a:7b:c1:07"
    again = intake.intake(load("fusion_whitebox_bogus.xml", hostname="PRE-SALLE-INFO-07B"))
    assert again.pk == sub.pk and again.data["hostname"] == "PRE-SALLE-INFO-07B"
    assert AgentSubmission.objects.filter(outcome=OUT.QUEUED).count() == 1
    assert not Asset.objects.filter(hostname__startswith="PRE-SALLE").exists()


def test_other_item_types_are_set_aside(fleet):
    sub = intake.intake(load("glpi_laptop.json", itemtype="Printer"))
    assert sub.outcome == OUT.IGNORED and "Printer" in sub.message


def test_partial_inventory_without_networks_keeps_the_macs(fleet):
    nic(fleet.pc1, "aa:bb:cc:00:11:22")
    sub = intake.intake(desktop(serial="CZC1111", interfaces=[], networks_reported=False, ram_mb=None))
    assert sub.outcome == OUT.MATCHED
    assert list(fleet.pc1.interfaces.values_list("mac", flat=True)) == ["aa:bb:cc:00:11:22"]
    assert Asset.objects.get(pk=fleet.pc1.pk).ram_mb is None  # not reported: left as it was


def test_placement_then_next_inventory_matches_by_mac(fleet, cast):
    sub = intake.intake(load("fusion_vm_mac_only.xml"))
    assert sub.outcome == OUT.QUEUED
    model = placement.model_for(cast.technician, maker="QEMU", name="Standard PC (Q35 + ICH9, 2009)",
                                category=Category.DESKTOP, inventory=parse.Inventory.from_summary(sub.data))
    tag = placement.next_free_tag()
    assert tag == "SEM-00007"
    asset = placement.place(cast.technician, sub, tag=tag, model=model, school_class=fleet.class2)
    assert (asset.status, asset.school_class, asset.serial, asset.system_uuid) == (
        Status.DEPLOYED, fleet.class2, "", "")
    assert (asset.hostname, asset.ram_mb, asset.disk_gb) == ("vm-tc-build", 3924, 21)
    assert list(asset.interfaces.values_list("mac", flat=True)) == ["52:54:00:12:34:56"]
    sub.refresh_from_db()
    assert (sub.outcome, sub.asset_id) == (OUT.PLACED, asset.pk)
    assert AuditEntry.objects.filter(object_type="fleet.devicemodel", object_id=str(model.pk)).exists()
    again = intake.intake(load("fusion_vm_mac_only.xml", hostname="vm-tc-build-2"))
    assert (again.outcome, again.asset_id, again.matched_by) == (OUT.MATCHED, asset.pk, "mac")
    assert Asset.objects.get(pk=asset.pk).hostname == "vm-tc-build-2"
    with pytest.raises(FleetError, match="plus en attente"):
        placement.place(cast.technician, sub, tag="SEM-00099", model=model)


def test_placement_refuses_a_device_that_became_known(fleet, cast):
    sub = intake.intake(desktop())
    assert sub.outcome == OUT.QUEUED
    services.do_update_asset(cast.admin, fleet.tc_spare, notes="x")
    Asset.objects.filter(pk=fleet.pc_old.pk).update(serial="4XKQ2Z1")
    with pytest.raises(FleetError, match="SEM-00006"):
        placement.place(cast.technician, sub, tag="SEM-00100", model=fleet.optiplex)
    assert not Asset.objects.filter(tag="SEM-00100").exists()


def test_placement_into_a_slot_of_another_category_rolls_back(fleet, cast):
    sub = intake.intake(desktop())
    with pytest.raises(FleetError):
        placement.place(cast.technician, sub, tag="SEM-00100", model=fleet.optiplex, slot=fleet.slot_proj1)
    assert not Asset.objects.filter(tag="SEM-00100").exists() and not NetworkInterface.objects.exists()
    assert AgentSubmission.objects.get(pk=sub.pk).outcome == OUT.QUEUED


def test_match_settles_older_queue_rows(fleet):
    queued = intake.intake(desktop())
    assert queued.outcome == OUT.QUEUED
    Asset.objects.filter(pk=fleet.tc_spare.pk).update(serial="4XKQ2Z1")
    intake.intake(desktop())
    queued.refresh_from_db()
    assert queued.outcome == OUT.IGNORED and queued.asset_id == fleet.tc_spare.pk


def test_next_free_tag_counts_numerically(fleet):
    Asset.objects.filter(pk=fleet.tc_spare.pk).update(tag="SEM-99999")
    Asset.objects.filter(pk=fleet.pc_old.pk).update(tag="SEM-100000")
    assert placement.next_free_tag() == "SEM-100001"


def test_model_for_reuses_the_catalogue(fleet, cast):
    inv = desktop()
    assert placement.model_for(cast.admin, maker="dell", name="optiplex 3020", category="desktop",
                               inventory=inv) == fleet.optiplex
    assert placement.model_for(cast.admin, maker="Dell Inc.", name="OptiPlex 3020", category="desktop",
                               inventory=inv) == fleet.optiplex  # firmware's maker name, catalogue's model
    created = placement.model_for(cast.admin, maker="Dell Inc.", name="OptiPlex 7010", category="desktop",
                                  inventory=inv)
    assert (created.maker, created.ram_mb, created.cpu_64bit) == ("Dell", 8192, True)
    assert DeviceModel.objects.filter(name="OptiPlex 7010").count() == 1


def test_intake_is_a_handful_of_queries(fleet):
    nic(fleet.pc1, "18:db:f2:4a:11:01")
    inv = desktop(**BOGUS)
    with CaptureQueriesContext(connection) as ctx:
        sub = intake.intake(inv)
    assert sub.outcome == OUT.MATCHED
    assert len(ctx.captured_queries) <= 16, [q["sql"] for q in ctx.captured_queries]
    with CaptureQueriesContext(connection) as ctx:
        assert intake.intake(load("fusion_whitebox_bogus.xml")).outcome == OUT.QUEUED
    assert len(ctx.captured_queries) <= 8


def test_slot_placement(fleet, cast):
    slot = Slot.objects.create(school=cast.sa1, school_class=fleet.class2, category=Category.DESKTOP,
                               label="PC élèves 2")
    sub = intake.intake(desktop())
    asset = placement.place(cast.technician, sub, tag="SEM-00200", model=fleet.optiplex, slot=slot)
    slot.refresh_from_db()
    assert slot.asset_id == asset.pk and asset.school_class == fleet.class2 and asset.serial == "4XKQ2Z1"


def test_serial_lookup_uses_the_partial_unique_index(db):
    if connection.vendor != "sqlite":
        pytest.skip("plan checked on SQLite; PostgreSQL picks by table statistics (a tiny test table is scanned)")
    plan = Asset.objects.filter(intake.SERIAL_INDEXED, serial__in=["A", "B"]).explain()
    assert "unique_asset_serial" in plan, plan
