"""One inventory -> one AgentSubmission: match the machine to an asset and update it, or queue it, or refuse it.

Matching, strongest key first (placeholders never count, see identity.py):
1. serial number (Asset.serial);
2. SMBIOS UUID (Asset.system_uuid, also in the other byte order of old SMBIOS tables);
3. a real MAC address (NetworkInterface.mac).
A weaker key that leads to an asset whose stronger key says otherwise (same MAC, another serial)
is a conflict: the inventory is queued with the reason, nothing is updated. Several assets for
one inventory (two MACs, two devices) is also queued.

The agent's TAG is the UAI of the school (FusionInventory --tag, GLPI Agent tag). An unknown
TAG is refused; a known asset that Préau places at another school than the TAG's is refused and
left untouched (moving it is a human's decision). Without a TAG the inventory is still taken.

A known asset gets what the machine says (hostname, UUID, CPU, RAM, disk, OS, its MAC
addresses, last inventory date); fields the agent did not report are left as they are. When
something changed, the timeline gets one "inventory" event naming the fields, and the audit log
the before/after. Each intake is one transaction and a handful of indexed queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from preau.core import audit
from preau.core.models import AuditEntry
from preau.territory.codes import normalize_uai
from preau.territory.models import School

from ..lifecycle import GONE
from ..models import AgentSubmission, Asset, AssetEvent, NetworkInterface
from .identity import Interface, swapped_uuid, usable_serial, usable_uuid
from .parse import Inventory

Outcome = AgentSubmission.Outcome
MAX_INT = 2**31 - 1
# Asset.serial is indexed only by the partial unique index "WHERE NOT (serial = '')": repeating its condition
# literally lets SQLite use it (a bound '' parameter would not), instead of scanning every asset.
SERIAL_INDEXED = RawSQL("""NOT ("fleet_asset"."serial" = '')""", [], output_field=BooleanField())
SOURCES = {"fusion_xml": "FusionInventory", "glpi_json": "GLPI Agent"}
MATCHED_BY = {"serial": gettext_lazy("numéro de série"), "uuid": gettext_lazy("UUID système"),
              "mac": gettext_lazy("adresse MAC")}


@dataclass
class Match:
    asset: Asset | None = None
    by: str = ""
    problem: str = ""  # why the inventory cannot be applied automatically (conflict, ambiguity)


def _differs(known: str, reported: str) -> bool:
    return bool(known) and bool(reported) and known.lower() != reported.lower()


def _uuid_variants(uuid: str) -> list[str]:
    swapped = swapped_uuid(uuid)
    return [uuid, uuid.upper(), swapped, swapped.upper()]


def find_asset(inventory: Inventory) -> Match:
    """The asset this inventory describes, by serial, then UUID, then MAC (at most 3 indexed queries)."""
    serial, uuid = inventory.usable_serial, inventory.usable_uuid
    if serial:
        asset = Asset.objects.filter(SERIAL_INDEXED, serial__in=list({serial, serial.upper()})).first()
        if asset is not None:
            return Match(asset, "serial")
    if uuid:
        assets = list(Asset.objects.filter(system_uuid__in=_uuid_variants(uuid))[:2])
        if len(assets) > 1:
            return Match(problem=_("UUID %(u)s partagé par %(a)s et %(b)s : à vérifier.")
                         % {"u": uuid, "a": assets[0].tag, "b": assets[1].tag})
        if assets:
            asset = assets[0]
            if _differs(usable_serial(asset.serial), serial):
                return Match(problem=_("L'UUID correspond à %(tag)s mais son numéro de série est %(known)s, "
                                       "l'agent déclare %(s)s : à vérifier.")
                             % {"tag": asset.tag, "known": asset.serial, "s": serial})
            return Match(asset, "uuid")
    macs = [i.mac for i in inventory.interfaces]
    if macs:
        owners = {ni.asset_id: ni.asset for ni in NetworkInterface.objects.filter(mac__in=macs).select_related("asset")}
        if len(owners) > 1:
            tags = sorted(a.tag for a in owners.values())
            return Match(problem=_("Ses adresses MAC appartiennent à plusieurs appareils (%(tags)s) : à vérifier.")
                         % {"tags": ", ".join(tags)})
        if owners:
            asset = next(iter(owners.values()))
            if _differs(usable_serial(asset.serial), serial):
                return Match(problem=_("Une adresse MAC correspond à %(tag)s mais son numéro de série est %(known)s, "
                                       "l'agent déclare %(s)s : à vérifier.")
                             % {"tag": asset.tag, "known": asset.serial, "s": serial})
            known_uuid = usable_uuid(asset.system_uuid)
            if _differs(known_uuid, uuid) and uuid not in _uuid_variants(known_uuid):
                return Match(problem=_("Une adresse MAC correspond à %(tag)s mais son UUID est différent : à vérifier.")
                             % {"tag": asset.tag})
            return Match(asset, "mac")
    return Match()


# --------------------------------------------------------------------------- writes


def _bounded(value):
    return value if value is None or 0 <= value <= MAX_INT else None


def reported_fields(inventory: Inventory) -> dict:
    """The asset fields the inventory gives a value for (unreported ones are absent, never blanked)."""
    values = {
        "hostname": inventory.hostname, "system_uuid": inventory.usable_uuid, "cpu": inventory.cpu,
        "cpu_64bit": inventory.cpu_64bit, "ram_mb": _bounded(inventory.ram_mb),
        "disk_gb": _bounded(inventory.disk_gb), "os": inventory.os,
    }
    return {k: v for k, v in values.items() if v not in (None, "")}


def sync_interfaces(asset: Asset, interfaces: list[Interface]) -> dict:
    """Make the asset's NetworkInterface rows the reported real MACs. A MAC seen on another asset moves here
    (a USB adapter changed hands); that asset's timeline says so. Returns what changed."""
    wanted = {i.mac: i.name for i in interfaces}
    current = {ni.mac: ni for ni in NetworkInterface.objects.filter(asset=asset)}
    removed = sorted(m for m in current if m not in wanted)
    added = [m for m in wanted if m not in current]
    moved = {}
    if removed:
        NetworkInterface.objects.filter(asset=asset, mac__in=removed).delete()
    if added:
        for ni in NetworkInterface.objects.filter(mac__in=added).select_related("asset"):
            moved[ni.mac] = ni.asset.tag
            AssetEvent.objects.create(
                asset=ni.asset, kind=AssetEvent.Kind.INVENTORY,
                reason=_("adresse MAC %(mac)s désormais vue sur %(tag)s") % {"mac": ni.mac, "tag": asset.tag},
                other_asset=asset, details={"interfaces": {"removed": [ni.mac]}})
        if moved:
            NetworkInterface.objects.filter(mac__in=list(moved)).delete()
        NetworkInterface.objects.bulk_create(NetworkInterface(asset=asset, mac=m, name=wanted[m]) for m in added)
    for mac, ni in current.items():
        if mac in wanted and ni.name != wanted[mac]:
            NetworkInterface.objects.filter(pk=ni.pk).update(name=wanted[mac])
    changes = {k: v for k, v in (("added", added), ("removed", removed), ("moved_from", moved)) if v}
    return changes


def apply_inventory(asset: Asset, inventory: Inventory, *, reason: str, details: dict | None = None) -> list[str]:
    """Update a (row-locked) asset from an inventory; one "inventory" event + audit entry when anything changed.

    Returns the names of the changed fields ("interfaces" when its MAC addresses changed)."""
    before = audit.snapshot(asset)
    fields = reported_fields(inventory)
    serial = inventory.usable_serial
    if not asset.serial and serial and not Asset.objects.filter(serial=serial).exclude(pk=asset.pk).exists():
        fields["serial"] = serial  # filled in, never overwritten
    changed = [name for name, value in fields.items() if getattr(asset, name) != value]
    for name in changed:
        setattr(asset, name, fields[name])
    asset.last_inventory_at = timezone.now()
    asset.save(update_fields=[*changed, "last_inventory_at", "updated_at"])
    interfaces = sync_interfaces(asset, inventory.interfaces) if inventory.networks_reported else {}
    if interfaces:
        changed.append("interfaces")
    if changed:
        AssetEvent.objects.create(asset=asset, kind=AssetEvent.Kind.INVENTORY, reason=reason[:300],
                                  details={"fields": changed, "interfaces": interfaces, **(details or {})})
        audit.record(None, AuditEntry.Action.UPDATE, asset, before, audit.snapshot(asset), note=reason)
    return changed


def _label(name: str) -> str:
    if name == "interfaces":
        return str(NetworkInterface._meta.verbose_name_plural)
    return str(Asset._meta.get_field(name).verbose_name)


def _save(submission: AgentSubmission | None, **fields) -> AgentSubmission:
    fields["message"] = (fields.get("message") or "")[:300]
    if submission is None:
        return AgentSubmission.objects.create(**fields)
    for name, value in fields.items():
        setattr(submission, name, value)
    submission.received_at = timezone.now()
    submission.save()
    return submission


def _pending(deviceid: str, outcome: str) -> AgentSubmission | None:
    """The device's waiting queue (or refusal) row, refreshed instead of piling up one row per agent run."""
    return (AgentSubmission.objects.select_for_update().filter(deviceid=deviceid, outcome=outcome)
            .order_by("-received_at").first())


def record_rejection(*, deviceid: str, fmt: str, message: str, tag: str = "", remote_addr=None,
                     data: dict | None = None) -> AgentSubmission:
    """A refused submission (unreadable body whose deviceid was read, unknown TAG, school mismatch)."""
    with transaction.atomic():
        return _save(_pending(deviceid, Outcome.REJECTED), format=fmt, deviceid=deviceid[:120],
                     agent_tag=tag[:40], outcome=Outcome.REJECTED, message=message, remote_addr=remote_addr,
                     data=data or {}, school=None, asset=None, matched_by="")


@transaction.atomic
def intake(inventory: Inventory, *, remote_addr=None) -> AgentSubmission:
    """Match, then update the asset / queue the device / refuse; always exactly one AgentSubmission row."""
    tag = normalize_uai(inventory.tag)
    common = {"format": inventory.format, "deviceid": inventory.deviceid[:120], "agent_tag": tag[:40],
              "remote_addr": remote_addr, "data": inventory.summary()}
    if inventory.itemtype.lower() != "computer":
        return _save(None, **common, outcome=Outcome.IGNORED,
                     message=_("Type « %(t)s » non pris en charge : seuls les ordinateurs sont inventoriés.")
                     % {"t": inventory.itemtype[:40]})
    school = None
    if tag:
        school = School.objects.filter(uai=tag).only("pk", "uai", "name").first()
        if school is None:
            return _save(_pending(inventory.deviceid, Outcome.REJECTED), **common, outcome=Outcome.REJECTED,
                         school=None, asset=None, matched_by="",
                         message=_("TAG « %(tag)s » inconnu : aucune école n'a cet UAI. Donnez à l'agent "
                                   "l'UAI de l'école (--tag=UAI).") % {"tag": tag})
    match = find_asset(inventory)
    if match.asset is None:
        message = match.problem or _("Appareil inconnu : à placer.")
        return _save(_pending(inventory.deviceid, Outcome.QUEUED), **common, outcome=Outcome.QUEUED,
                     school=school, asset=None, matched_by="", message=message)
    asset = Asset.objects.select_for_update(of=("self",)).select_related("school").get(pk=match.asset.pk)
    if school is not None and asset.school_id is not None and asset.school_id != school.pk:
        return _save(_pending(inventory.deviceid, Outcome.REJECTED), **common, outcome=Outcome.REJECTED,
                     school=school, asset=asset, matched_by=match.by,
                     message=_("L'appareil %(tag)s est inventorié à l'école %(known)s (%(known_uai)s), l'agent "
                               "déclare %(declared)s (%(uai)s) : rien n'a été modifié.")
                     % {"tag": asset.tag, "known": asset.school.name, "known_uai": asset.school.uai,
                        "declared": school.name, "uai": school.uai})
    source = SOURCES.get(inventory.format, inventory.format)
    reason = _("inventaire automatique (%(src)s, rapproché par %(by)s)") % {"src": source, "by": MATCHED_BY[match.by]}
    submission = _save(None, **common, outcome=Outcome.MATCHED, school=school or asset.school, asset=asset,
                       matched_by=match.by, message="")
    changed = apply_inventory(asset, inventory, reason=reason,
                              details={"submission": submission.pk, "matched_by": match.by})
    notes = [_("Modifié : %(f)s.") % {"f": ", ".join(_label(name) for name in changed)} if changed
             else _("Aucun changement.")]
    if asset.status in GONE:
        notes.append(_("Attention : cet appareil est « %(s)s » dans Préau et il vient de se signaler.")
                     % {"s": asset.get_status_display()})
    if school is not None and asset.school_id is None:
        notes.append(_("L'agent déclare l'école %(uai)s mais l'appareil n'y est pas placé.") % {"uai": school.uai})
    submission.message = " ".join(notes)[:300]
    submission.save(update_fields=["message"])
    # Earlier queue rows of this device are settled by this match.
    AgentSubmission.objects.filter(deviceid=inventory.deviceid, outcome__in=[Outcome.QUEUED, Outcome.REJECTED]) \
        .update(outcome=Outcome.IGNORED, asset=asset,
                message=_("Rapproché de %(tag)s par un inventaire ultérieur.") % {"tag": asset.tag})
    return submission
