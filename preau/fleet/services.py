"""Writes to the fleet, one function per action (do_*): checks, transaction, timeline event, audit entry.

Views, the API, the agent intake, importers and commands go through here. Every
status change goes through `_set_status`, which asks preau.fleet.lifecycle and
refuses what the state machine does not allow (TransitionRefused, a French sentence).
Other refusals raise FleetError, also a sentence for the user.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from preau.core import audit
from preau.core.models import AuditEntry

from . import eligibility, lifecycle
from .lifecycle import AVAILABLE, IN_PLACE, Status, TransitionRefused
from .models import (
    REQUALIFIABLE,
    Asset,
    AssetEvent,
    BatchItem,
    Category,
    DeviceModel,
    EligibilityRule,
    ErasureCertificate,
    Origin,
    RecyclingRecord,
    RequalificationBatch,
    Site,
    Slot,
)

__all__ = ["FleetError", "TransitionRefused"]


class FleetError(ValueError):
    """An action refused for a reason other than the lifecycle; str() is a sentence for the user."""


def default_depot() -> Site:
    site = Site.objects.filter(kind=Site.Kind.DEPOT).order_by("pk").first()
    return site or Site.objects.create(name=_("Dépôt de l'agglomération"), kind=Site.Kind.DEPOT)


def _locked(asset: Asset) -> Asset:
    """Re-read the asset under a row lock, so two technicians cannot move it at once."""
    return Asset.objects.select_for_update(of=("self",)).select_related("model").get(pk=asset.pk)


def _event(user, asset: Asset, kind: str, before: dict | None, reason: str = "", **extra) -> AssetEvent:
    event = AssetEvent.objects.create(asset=asset, user=user if getattr(user, "is_authenticated", False) else None,
                                      kind=kind, reason=reason[:300], **extra)
    action = AuditEntry.Action.CREATE if before is None else AuditEntry.Action.UPDATE
    audit.record(user, action, asset, before, audit.snapshot(asset), note=reason)
    return event


def _free_slot(asset: Asset) -> Slot | None:
    slot = Slot.objects.filter(asset=asset).first()
    if slot:
        slot.asset = None
        slot.save(update_fields=["asset"])
    return slot


def _place(asset: Asset, *, school=None, school_class=None, site=None) -> None:
    if school_class is not None:
        school = school_class.school
    if sum(x is not None for x in (school, site)) != 1:
        raise FleetError(_("Un appareil est soit dans une école (ou une classe), soit sur un site."))
    asset.school, asset.school_class, asset.site = school, school_class, site


def _set_status(user, asset: Asset, target: str, reason: str, *, kind=AssetEvent.Kind.STATUS,
                before: dict | None = None, **extra) -> AssetEvent:
    lifecycle.check(asset.status, target)
    before = before if before is not None else audit.snapshot(asset)
    previous = asset.status
    asset.status = target
    if previous in IN_PLACE and target not in IN_PLACE:
        _free_slot(asset)
    asset.save()
    return _event(user, asset, kind, before, reason, from_status=previous, to_status=target, **extra)


# --------------------------------------------------------------------------- catalogue


@transaction.atomic
def do_create_model(user, note: str = "", **fields) -> DeviceModel:
    if DeviceModel.objects.filter(maker__iexact=fields.get("maker", ""), name__iexact=fields.get("name", "")).exists():
        raise FleetError(_("Le modèle %(maker)s %(name)s existe déjà.") % {"maker": fields.get("maker"),
                                                                           "name": fields.get("name")})
    model = DeviceModel(**fields)
    model.full_clean()
    model.save()
    audit.record(user, AuditEntry.Action.CREATE, model, None, audit.snapshot(model), note=note)
    return model


@transaction.atomic
def do_update_model(user, model: DeviceModel, **fields) -> DeviceModel:
    """Edit a catalogue entry. Its category only describes new purchases: assets keep their own."""
    before = audit.snapshot(model)
    for name, value in fields.items():
        setattr(model, name, value)
    model.full_clean()
    model.save()
    audit.record(user, AuditEntry.Action.UPDATE, model, before, audit.snapshot(model))
    return model


# --------------------------------------------------------------------------- slots (what should be there)

# The plan's standard equipment: what every class and every school should hold.
CLASS_STANDARD = (Category.THIN_CLIENT, Category.PROJECTOR)
SCHOOL_STANDARD = (Category.NAS, Category.SWITCH)


def slot_label(category: str, school_class=None) -> str:
    """A slot's label, stored: always in French, whatever the language of who applies the standard."""
    with translation.override("fr"):
        name = str(Category(category).label).capitalize()
        if school_class is not None:
            return _("%(what)s — %(klass)s") % {"what": name, "klass": school_class.name}
        return _("%(what)s de l'école") % {"what": name}


@transaction.atomic
def do_apply_standard(user, schools, *, year: int, per_class=CLASS_STANDARD, per_school=SCHOOL_STANDARD) -> dict:
    """Create the slots the standard asks for and that are missing: one per category in each class of the
    school year `year`, one per category in each school. Idempotent (an existing slot of that category
    counts, filled or not); in bulk, one audit entry per school touched."""
    from preau.territory.models import SchoolClass

    school_ids = list(schools.values_list("pk", flat=True))
    have_class, have_school = set(), set()
    for school_id, class_id, category in Slot.objects.filter(school_id__in=school_ids).values_list(
            "school_id", "school_class_id", "category"):
        if class_id is None:
            have_school.add((school_id, category))
        else:
            have_class.add((class_id, category))
    new: list[Slot] = []
    if per_class:
        for klass in SchoolClass.objects.filter(school_id__in=school_ids, year=year).order_by("school_id", "name"):
            new += [Slot(school_id=klass.school_id, school_class=klass, category=c, label=slot_label(c, klass))
                    for c in per_class if (klass.pk, c) not in have_class]
    new += [Slot(school_id=sid, category=c, label=slot_label(c)) for sid in school_ids for c in per_school
            if (sid, c) not in have_school]
    Slot.objects.bulk_create(new, batch_size=2000)
    touched = sorted({slot.school_id for slot in new})
    from preau.territory.models import School

    audit.record_many([audit.entry(user, AuditEntry.Action.UPDATE, school, None,
                                   {"slots_created": sum(1 for slot in new if slot.school_id == school.pk)},
                                   note=_("dotation standard"))
                       for school in School.objects.filter(pk__in=touched)])
    return {"schools": len(school_ids), "created": len(new), "schools_touched": len(touched)}


# --------------------------------------------------------------------------- assets


@transaction.atomic
def do_create_asset(user, *, model, tag: str, reason: str = "", **fields) -> Asset:
    fields.setdefault("category", model.category)
    if not any(fields.get(k) is not None for k in ("school", "school_class", "site")):
        fields["site"] = default_depot()
    if fields.get("school_class") is not None:
        fields["school"] = fields["school_class"].school
    if Asset.objects.filter(tag=tag).exists():
        raise FleetError(_("Le numéro d'inventaire %(tag)s existe déjà.") % {"tag": tag})
    serial = fields.get("serial") or ""
    if serial and Asset.objects.filter(serial=serial).exists():
        raise FleetError(_("Le numéro de série %(s)s est déjà celui d'un autre appareil.") % {"s": serial})
    asset = Asset(model=model, tag=tag, **fields)
    asset.full_clean()
    asset.save()
    _event(user, asset, AssetEvent.Kind.CREATED, None, reason, to_status=asset.status)
    return asset


@transaction.atomic
def do_update_asset(user, asset: Asset, reason: str = "", **fields) -> Asset:
    """Edit descriptive fields (serial, dates, cost, specs, notes). Status and place have their own actions."""
    forbidden = {"status", "school", "school_class", "site", "tag", "category"} & set(fields)
    if forbidden:
        raise FleetError(_("Champs modifiables seulement par une action dédiée : %(f)s.") % {"f": ", ".join(sorted(forbidden))})
    asset = _locked(asset)
    before = audit.snapshot(asset)
    for name, value in fields.items():
        setattr(asset, name, value)
    if asset.serial and Asset.objects.filter(serial=asset.serial).exclude(pk=asset.pk).exists():
        raise FleetError(_("Le numéro de série %(s)s est déjà celui d'un autre appareil.") % {"s": asset.serial})
    asset.full_clean()
    asset.save()
    _event(user, asset, AssetEvent.Kind.EDITED, before, reason, details={"fields": sorted(fields)})
    return asset


@transaction.atomic
def do_transition(user, asset: Asset, target: str, reason: str = "", *, ticket: str = "", batch=None) -> Asset:
    """Change an asset's status (the lifecycle decides). Leaving a class frees its slot; stock goes to the depot.
    Putting in service needs a place: that is do_deploy."""
    if target == Status.DEPLOYED:
        raise FleetError(_("Pour mettre un appareil en service, utilisez l'action « Déployer » (il faut un lieu)."))
    asset = _locked(asset)
    before = audit.snapshot(asset)
    if target in (Status.IN_STOCK, Status.IN_REPAIR, Status.RETIRED) and asset.status in IN_PLACE + (Status.LOST,):
        lifecycle.check(asset.status, target)
        _place(asset, site=default_depot())
    _set_status(user, asset, target, reason, before=before, ticket=ticket, batch=batch)
    return asset


@transaction.atomic
def do_move(user, asset: Asset, *, school=None, school_class=None, site=None, reason: str = "") -> Asset:
    """Move an asset that is not deployed (stock, repair…) to a school, a class or a site."""
    asset = _locked(asset)
    if asset.status in IN_PLACE:
        raise FleetError(_("Un appareil déployé change de place par « déployer » ou « remplacer », "
                           "pas par un simple déplacement."))
    before = audit.snapshot(asset)
    _place(asset, school=school, school_class=school_class, site=site)
    asset.save()
    _event(user, asset, AssetEvent.Kind.MOVED, before, reason)
    return asset


@transaction.atomic
def do_deploy(user, asset: Asset, *, slot: Slot | None = None, school_class=None, school=None,
              reason: str = "", ticket: str = "") -> Asset:
    """Put an available asset in service: into a slot (it takes its place) or into a class or a school."""
    asset = _locked(asset)
    if slot is not None:
        slot = Slot.objects.select_for_update(of=("self",)).select_related("school", "school_class").get(pk=slot.pk)
        if slot.asset_id and slot.asset_id != asset.pk:
            raise FleetError(_("L'emplacement « %(slot)s » est déjà occupé par %(tag)s.")
                             % {"slot": slot.label, "tag": slot.asset.tag})
        if slot.category != asset.category:
            raise FleetError(_("L'emplacement « %(slot)s » attend un appareil de catégorie « %(c)s ».")
                             % {"slot": slot.label, "c": slot.get_category_display()})
        school, school_class = slot.school, slot.school_class
    if school is None and school_class is None:
        raise FleetError(_("Indiquez où déployer l'appareil (emplacement, classe ou école)."))
    before = audit.snapshot(asset)
    lifecycle.check(asset.status, Status.DEPLOYED)
    _place(asset, school=school, school_class=school_class)
    _set_status(user, asset, Status.DEPLOYED, reason, before=before, ticket=ticket)
    if slot is not None:
        slot.asset = asset
        slot.save(update_fields=["asset"])
    return asset


def next_status_after_failure(asset: Asset) -> str:
    """The plan replaces a failed thin client rather than repairing it; other devices go to repair."""
    return Status.RETIRED if asset.category == Category.THIN_CLIENT else Status.IN_REPAIR


@transaction.atomic
def do_replace(user, failed: Asset, replacement: Asset, *, next_status: str | None = None, reason: str = "",
               ticket: str = "") -> tuple[Asset, Asset]:
    """One action: the replacement takes the failed asset's slot and place; the failed one goes on to
    its next status (repair, retired, recycled…) at the depot. Both timelines say so."""
    if failed.pk == replacement.pk:
        raise FleetError(_("Un appareil ne peut pas se remplacer lui-même."))
    failed, replacement = _locked(failed), _locked(replacement)
    if failed.status not in IN_PLACE:
        raise FleetError(_("Seul un appareil en service ou en panne peut être remplacé (%(tag)s est « %(s)s »).")
                         % {"tag": failed.tag, "s": failed.get_status_display()})
    if replacement.status not in AVAILABLE:
        raise FleetError(_("Le remplaçant doit être en stock ou requalifié (%(tag)s est « %(s)s »).")
                         % {"tag": replacement.tag, "s": replacement.get_status_display()})
    slot = Slot.objects.select_for_update(of=("self",)).filter(asset=failed).first()
    wanted = slot.category if slot else failed.category
    if replacement.category != wanted:
        raise FleetError(_("Le remplaçant doit être de catégorie « %(c)s ».") % {"c": Category(wanted).label})
    next_status = next_status or next_status_after_failure(failed)
    if failed.status == Status.DEPLOYED:
        _set_status(user, failed, Status.FAILED, reason or _("panne constatée au remplacement"), ticket=ticket)
    lifecycle.check(Status.FAILED, next_status)
    school, school_class = failed.school, failed.school_class
    # The failed asset leaves its place first (this frees the slot), then the replacement takes it.
    before = audit.snapshot(failed)
    _place(failed, site=default_depot())
    _set_status(user, failed, next_status, reason, before=before, kind=AssetEvent.Kind.REPLACED,
                ticket=ticket, other_asset=replacement)
    before = audit.snapshot(replacement)
    _place(replacement, school=school, school_class=school_class)
    _set_status(user, replacement, Status.DEPLOYED, reason, before=before, kind=AssetEvent.Kind.REPLACES,
                ticket=ticket, other_asset=failed, details={"slot": slot.label if slot else ""})
    if slot is not None:
        slot.asset = replacement
        slot.save(update_fields=["asset"])
    return failed, replacement


# --------------------------------------------------------------------------- requalification batches

B = RequalificationBatch.State
NUMERIC_CRITERIA = (EligibilityRule.Criterion.MIN_RAM_MB, EligibilityRule.Criterion.MAX_AGE_YEARS,
                    EligibilityRule.Criterion.MIN_DISK_GB)


def _next_reference(today: date) -> str:
    prefix = f"LOT-{today.year}-"
    last = (RequalificationBatch.objects.filter(reference__startswith=prefix)
            .order_by("-reference").values_list("reference", flat=True).first())
    number = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{number:03d}"


def _require_state(batch: RequalificationBatch, *states: str) -> None:
    if batch.state not in states:
        raise FleetError(_("Le lot %(ref)s est « %(s)s » : action impossible à ce stade.")
                         % {"ref": batch.reference, "s": batch.get_state_display()})


def _batch_audit(user, batch, before, note=""):
    audit.record(user, AuditEntry.Action.CREATE if before is None else AuditEntry.Action.UPDATE, batch,
                 before, audit.snapshot(batch), note=note)


@transaction.atomic
def do_create_batch(user, *, workshop: Site, assets, notes: str = "") -> RequalificationBatch:
    assets = list(Asset.objects.select_for_update(of=("self",)).filter(pk__in=[a.pk for a in assets]).order_by("tag"))
    if not assets:
        raise FleetError(_("Un lot contient au moins un appareil."))
    if workshop.kind != Site.Kind.WORKSHOP:
        raise FleetError(_("%(site)s n'est pas un atelier partenaire.") % {"site": workshop.name})
    problems = []
    busy = set(BatchItem.objects.filter(asset__in=assets).exclude(batch__state__in=[B.RETURNED, B.CLOSED])
               .values_list("asset__tag", flat=True))
    for a in assets:
        if a.category not in REQUALIFIABLE:
            problems.append(_("%(tag)s : la catégorie « %(c)s » ne se requalifie pas en client léger.")
                            % {"tag": a.tag, "c": a.get_category_display()})
        elif a.tag in busy:
            problems.append(_("%(tag)s : déjà dans un lot en cours.") % {"tag": a.tag})
        elif Status.IN_REQUALIFICATION not in lifecycle.allowed(a.status):
            problems.append(_("%(tag)s : un appareil « %(s)s » ne peut pas partir en requalification.")
                            % {"tag": a.tag, "s": a.get_status_display()})
    if problems:
        raise FleetError(" ".join(problems))
    today = timezone.localdate()
    batch = RequalificationBatch.objects.create(reference=_next_reference(today), workshop=workshop, notes=notes,
                                                created_by=user if user and user.is_authenticated else None)
    slots = {s.asset_id: s for s in Slot.objects.filter(asset__in=assets)}
    BatchItem.objects.bulk_create(BatchItem(batch=batch, asset=a, origin_school=a.school,
                                            origin_slot=slots.get(a.pk)) for a in assets)
    _batch_audit(user, batch, None, _("%(n)s appareils") % {"n": len(assets)})
    return batch


@transaction.atomic
def do_pickup_batch(user, batch: RequalificationBatch, on: date | None = None) -> RequalificationBatch:
    """The workshop takes the devices: each goes to "in requalification" at the workshop, its slot freed."""
    batch = RequalificationBatch.objects.select_for_update(of=("self",)).get(pk=batch.pk)
    _require_state(batch, B.PLANNED)
    before = audit.snapshot(batch)
    for item in batch.items.select_related("asset"):
        asset = _locked(item.asset)
        snap = audit.snapshot(asset)
        _place(asset, site=batch.workshop)
        _set_status(user, asset, Status.IN_REQUALIFICATION, _("enlèvement du lot %(ref)s") % {"ref": batch.reference},
                    before=snap, batch=batch)
    batch.state, batch.picked_up_on = B.PICKED_UP, on or timezone.localdate()
    batch.save()
    _batch_audit(user, batch, before)
    return batch


@transaction.atomic
def do_receive_batch(user, batch: RequalificationBatch, on: date | None = None) -> RequalificationBatch:
    """Intake at the workshop: every device is checked against the eligibility rules."""
    batch = RequalificationBatch.objects.select_for_update(of=("self",)).get(pk=batch.pk)
    _require_state(batch, B.PICKED_UP)
    before = audit.snapshot(batch)
    rules = eligibility.active_rules()
    today = on or timezone.localdate()
    for item in batch.items.select_related("asset__model"):
        ok, reasons = eligibility.evaluate(item.asset, rules, today)
        item.eligibility = BatchItem.Eligibility.ELIGIBLE if ok else BatchItem.Eligibility.INELIGIBLE
        item.reasons = reasons
        item.save(update_fields=["eligibility", "reasons"])
    batch.state, batch.received_on = B.RECEIVED, today
    batch.save()
    _batch_audit(user, batch, before)
    return batch


@transaction.atomic
def do_set_eligibility(user, item: BatchItem, eligible: bool, reason: str) -> BatchItem:
    """The workshop's own verdict after testing the device (overrides the rules, with a reason)."""
    item = _locked_item(item)
    _require_state(item.batch, B.RECEIVED)
    if not reason.strip():
        raise FleetError(_("Donnez le motif de la décision d'éligibilité."))
    before = audit.snapshot(item)
    item.eligibility = BatchItem.Eligibility.ELIGIBLE if eligible else BatchItem.Eligibility.INELIGIBLE
    item.reasons = list(item.reasons) + [reason.strip()[:200]]
    item.save(update_fields=["eligibility", "reasons"])
    audit.record(user, AuditEntry.Action.UPDATE, item, before, audit.snapshot(item), note=reason)
    return item


@transaction.atomic
def do_update_eligibility_rule(user, criterion: str, *, active: bool, value: int | None) -> bool:
    """Set one eligibility rule (created if missing); an inactive numeric rule keeps its last threshold.
    Returns whether anything changed (one audit entry when it did)."""
    numeric = criterion in NUMERIC_CRITERIA
    value = value if numeric else None
    rule = EligibilityRule.objects.select_for_update(of=("self",)).filter(criterion=criterion).first()
    if rule is None:
        if not active and value is None:
            return False
        rule = EligibilityRule(criterion=criterion)
        before = None
    else:
        if numeric and value is None:
            value = rule.value
        if (rule.active, rule.value) == (active, value):
            return False
        before = audit.snapshot(rule)
    if active and numeric and value is None:
        raise FleetError(_("La règle « %(r)s » demande une valeur.") % {"r": EligibilityRule.Criterion(criterion).label})
    rule.active, rule.value = active, value
    rule.save()
    audit.record(user, AuditEntry.Action.CREATE if before is None else AuditEntry.Action.UPDATE, rule, before,
                 audit.snapshot(rule))
    return True


def _locked_item(item: BatchItem, *, pending: bool = True) -> BatchItem:
    """Re-read a batch item (and its batch's current state) under a row lock; with pending=True,
    refuse an item that already has its result (converted or rejected)."""
    item = BatchItem.objects.select_for_update(of=("self",)).select_related("batch", "asset__model").get(pk=item.pk)
    if pending and item.result != BatchItem.Result.PENDING:
        raise FleetError(_("%(tag)s a déjà son résultat : %(r)s.") % {"tag": item.asset.tag, "r": item.get_result_display()})
    return item


def _next_certificate_number(today: date) -> str:
    prefix = f"EFF-{today.year}-"
    numbers = ErasureCertificate.objects.filter(number__startswith=prefix).values_list("number", flat=True)
    suffixes = [int(n[len(prefix):]) for n in numbers if n[len(prefix):].isdigit()]
    return f"{prefix}{max(suffixes, default=0) + 1:05d}"


@transaction.atomic
def do_record_erasure(user, item: BatchItem, **fields) -> ErasureCertificate:
    """A secure-erasure certificate for one disk of a device in the batch (NIST SP 800-88)."""
    item = _locked_item(item)
    _require_state(item.batch, B.RECEIVED)
    fields.setdefault("number", _next_certificate_number(fields.get("performed_on") or timezone.localdate()))
    cert = ErasureCertificate(asset=item.asset, batch=item.batch,
                              recorded_by=user if user and user.is_authenticated else None, **fields)
    try:
        cert.full_clean()
    except ValidationError as exc:
        raise FleetError(" ".join(f"{cert._meta.get_field(name).verbose_name} : {' '.join(msgs)}"
                                  if name != "__all__" else " ".join(msgs)
                                  for name, msgs in exc.message_dict.items())) from exc
    cert.save()
    asset = item.asset
    _event(user, asset, AssetEvent.Kind.ERASED, audit.snapshot(asset),
           _("certificat %(n)s, %(m)s") % {"n": cert.number, "m": cert.get_method_display()}, batch=item.batch,
           details={"certificate": cert.number, "verification": cert.verification})
    return cert


def _verified_erasure(item: BatchItem, methods) -> bool:
    return item.asset.erasures.filter(batch=item.batch, method__in=methods,
                                      verification=ErasureCertificate.Verification.PASSED).exists()


@transaction.atomic
def do_convert(user, item: BatchItem, notes: str = "") -> BatchItem:
    """The device became a thin client: same asset, same tag and history, new category, origin "requalified"."""
    item = _locked_item(item)
    _require_state(item.batch, B.RECEIVED)
    if item.eligibility != BatchItem.Eligibility.ELIGIBLE:
        raise FleetError(_("%(tag)s n'est pas éligible : il ne peut pas être converti.") % {"tag": item.asset.tag})
    if not _verified_erasure(item, [ErasureCertificate.Method.CLEAR, ErasureCertificate.Method.PURGE]):
        raise FleetError(_("%(tag)s : il faut d'abord un certificat d'effacement vérifié (clear ou purge).")
                         % {"tag": item.asset.tag})
    asset = _locked(item.asset)
    before = audit.snapshot(asset)
    previous_category = asset.category
    asset.category, asset.origin = Category.THIN_CLIENT, Origin.REQUALIFIED
    _set_status(user, asset, Status.REQUALIFIED, notes or _("converti en client léger"), before=before,
                kind=AssetEvent.Kind.REQUALIFIED, batch=item.batch,
                details={"from_category": previous_category, "to_category": Category.THIN_CLIENT})
    item.result, item.notes = BatchItem.Result.CONVERTED, notes[:300]
    item.save(update_fields=["result", "notes"])
    return item


@transaction.atomic
def do_reject(user, item: BatchItem, *, weight_kg, recycler: str, certificate: str = "",
              recycled_on: date | None = None, notes: str = "") -> BatchItem:
    """Not convertible: after a verified erasure (or physical destruction), to a DEEE recycler."""
    item = _locked_item(item)
    _require_state(item.batch, B.RECEIVED)
    if not _verified_erasure(item, ErasureCertificate.Method.values):
        raise FleetError(_("%(tag)s : les données doivent être effacées (ou le disque détruit) avant le recyclage.")
                         % {"tag": item.asset.tag})
    if not recycler.strip():
        raise FleetError(_("Indiquez le recycleur DEEE."))
    asset = _locked(item.asset)
    RecyclingRecord.objects.create(asset=asset, batch=item.batch, weight_kg=weight_kg, recycler=recycler,
                                   certificate=certificate, recycled_on=recycled_on or timezone.localdate())
    _set_status(user, asset, Status.RECYCLED, notes or _("rejeté, recyclé (DEEE) : %(r)s") % {"r": recycler},
                batch=item.batch)
    item.result, item.notes = BatchItem.Result.REJECTED, notes[:300]
    item.save(update_fields=["result", "notes"])
    return item


@transaction.atomic
def do_return_batch(user, batch: RequalificationBatch, on: date | None = None) -> RequalificationBatch:
    """The workshop brings the converted devices back to their schools, ready to deploy."""
    batch = RequalificationBatch.objects.select_for_update(of=("self",)).get(pk=batch.pk)
    _require_state(batch, B.RECEIVED)
    pending = list(batch.items.filter(result=BatchItem.Result.PENDING).values_list("asset__tag", flat=True))
    if pending:
        raise FleetError(_("Appareils sans résultat (converti ou rejeté) : %(tags)s.") % {"tags": ", ".join(pending)})
    before = audit.snapshot(batch)
    for item in batch.items.filter(result=BatchItem.Result.CONVERTED).select_related("asset", "origin_school"):
        asset = _locked(item.asset)
        snap = audit.snapshot(asset)
        if item.origin_school_id:
            _place(asset, school=item.origin_school)
        else:
            _place(asset, site=default_depot())
        asset.save()
        _event(user, asset, AssetEvent.Kind.MOVED, snap, _("retour du lot %(ref)s") % {"ref": batch.reference},
               batch=batch)
    batch.state, batch.returned_on = B.RETURNED, on or timezone.localdate()
    batch.save()
    _batch_audit(user, batch, before)
    return batch


@transaction.atomic
def do_deploy_batch(user, batch: RequalificationBatch) -> RequalificationBatch:
    """Each returned thin client goes back into the slot it left (or its school when the slot is taken)."""
    batch = RequalificationBatch.objects.select_for_update(of=("self",)).get(pk=batch.pk)
    _require_state(batch, B.RETURNED)
    before = audit.snapshot(batch)
    for item in batch.items.filter(result=BatchItem.Result.CONVERTED).select_related("asset", "origin_slot"):
        asset = Asset.objects.get(pk=item.asset_id)
        if asset.status != Status.REQUALIFIED:
            continue  # already deployed by hand
        slot = item.origin_slot
        reason = _("déploiement du lot %(ref)s") % {"ref": batch.reference}
        if slot is not None and slot.asset_id is None:
            if slot.category != Category.THIN_CLIENT:
                slot.category = Category.THIN_CLIENT  # the place now holds a thin client
                slot.save(update_fields=["category"])
            do_deploy(user, asset, slot=slot, reason=reason)
        elif asset.school_id:
            do_deploy(user, asset, school=asset.school, reason=reason)
    batch.state, batch.closed_on = B.CLOSED, timezone.localdate()
    batch.save()
    _batch_audit(user, batch, before)
    return batch


def batch_progress(batch: RequalificationBatch) -> dict:
    """Counts for the progress bar and the report: total, evaluated, eligible, erased, converted, rejected."""
    from django.db.models import Count, Q

    c = batch.items.aggregate(
        total=Count("pk"),
        evaluated=Count("pk", filter=~Q(eligibility=BatchItem.Eligibility.PENDING)),
        eligible=Count("pk", filter=Q(eligibility=BatchItem.Eligibility.ELIGIBLE)),
        converted=Count("pk", filter=Q(result=BatchItem.Result.CONVERTED)),
        rejected=Count("pk", filter=Q(result=BatchItem.Result.REJECTED)),
    )
    c["erased"] = batch.erasures.filter(verification=ErasureCertificate.Verification.PASSED) \
        .values("asset").distinct().count()
    c["done"] = c["converted"] + c["rejected"]
    c["percent"] = round(100 * c["done"] / c["total"]) if c["total"] else 0
    return c
