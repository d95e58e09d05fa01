"""Requalification batch pages under /parc/lots/: list, creation from a selection, a batch's intake steps and
per-device actions (htmx swaps the device's rows, plain POST + redirect without JavaScript), the printable
report (HTML and PDF) and the eligibility rules.

Who: the fleet team (admins, technicians) and committees see every batch, a partner workshop sees its own;
others get a 403 on the list and a 404 on a batch. Acting on a batch: the fleet team or the batch's workshop
(preau.fleet.access.can_work_batch); creating and deploying a batch: the fleet team; editing the rules:
admins. Every refusal (FleetError, TransitionRefused, form errors) is a French message with HTTP 400, and
nothing is written (the services are atomic).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from preau.accounts import access as territory_access
from preau.accounts.models import Role
from preau.core.pagination import paginate

from . import eligibility, services
from .access import (
    assets_for,
    batches_for,
    can_manage_fleet,
    can_work_batch,
    get_batch,
    require_manage_fleet,
    require_work_batch,
)
from .forms_batches import (
    BatchCreateForm,
    BatchSelectionForm,
    ConvertForm,
    DateStepForm,
    EligibilityForm,
    ErasureForm,
    RejectForm,
    RuleForm,
)
from .lifecycle import TRANSITIONS, Status, TransitionRefused
from .models import REQUALIFIABLE, BatchItem, EligibilityRule, RequalificationBatch, Site
from .report import build as build_report
from .report import render_pdf
from .services import FleetError

B = RequalificationBatch.State
OPEN_STATES = (B.PLANNED, B.PICKED_UP, B.RECEIVED)
# Statuses from which the lifecycle lets a device leave for requalification.
STARTABLE = [s for s, targets in TRANSITIONS.items() if Status.IN_REQUALIFICATION in targets]
REFUSALS = (FleetError, TransitionRefused, ValidationError)


def _refusal_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        if hasattr(exc, "message_dict"):
            return " ".join(f"{field} : {' '.join(msgs)}" if field != "__all__" else " ".join(msgs)
                            for field, msgs in exc.message_dict.items())
        return " ".join(exc.messages)
    return str(exc)


def _form_error_text(form) -> str:
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts.append(f"{label} : {' '.join(errors)}" if label else " ".join(errors))
    return _("Formulaire incomplet ou invalide, rien n'a été enregistré. %(e)s") % {"e": " ".join(parts)}


def _require_batch_role(user) -> None:
    """The batch pages exist for the fleet team, committees and partner workshops only."""
    if not (user.sees_whole_territory or user.role == Role.WORKSHOP):
        raise PermissionDenied(_("Les lots de requalification sont réservés à l'équipe du parc, aux comités "
                                 "et aux ateliers partenaires."))


def _asset_url(tag: str) -> str:
    try:
        return reverse("fleet:asset", args=[tag])
    except NoReverseMatch:  # the asset pages are another module's; the batch pages work without them
        return ""


# --------------------------------------------------------------------------- list


@login_required
def batch_list(request: HttpRequest) -> HttpResponse:
    _require_batch_role(request.user)
    qs = batches_for(request.user).select_related("workshop").annotate(
        total=Count("items", distinct=True),
        converted=Count("items", filter=Q(items__result=BatchItem.Result.CONVERTED), distinct=True),
        rejected=Count("items", filter=Q(items__result=BatchItem.Result.REJECTED), distinct=True),
    )
    state = request.GET.get("state", "")
    if state in B.values:
        qs = qs.filter(state=state)
    page = paginate(request, qs.order_by("-created_at", "-pk"))
    for batch in page:
        batch.done = batch.converted + batch.rejected
        batch.percent = round(100 * batch.done / batch.total) if batch.total else 0
    return render(request, "fleet/batches/list.html", {
        "page": page, "states": B.choices, "state": state,
        "can_create": can_manage_fleet(request.user),
    })


# --------------------------------------------------------------------------- creation


def _candidates(user, school, categories, tags):
    """The school's devices that may leave for requalification (not already in an open batch), plus the
    devices named by tag (whatever they are: the service says clearly why one cannot go)."""
    q = Q(pk__in=[])
    if school is not None:
        q |= (Q(school=school, category__in=categories, status__in=STARTABLE)
              & ~Q(pk__in=BatchItem.objects.filter(batch__state__in=OPEN_STATES).values("asset_id")))
    if tags:
        q |= Q(tag__in=tags)
    return (assets_for(user).filter(q).select_related("model", "school", "school_class", "slot")
            .order_by("school__name", "school_class__name", "tag"))


@login_required
def batch_new(request: HttpRequest) -> HttpResponse:
    require_manage_fleet(request.user)
    source = request.POST if request.method == "POST" else request.GET
    selection = BatchSelectionForm(source, schools=territory_access.schools_for(request.user))
    school, categories, tags = None, [c.value for c in REQUALIFIABLE], []
    if selection.is_valid():
        school, categories, tags = (selection.cleaned_data["school"], selection.cleaned_data["categories"],
                                    selection.cleaned_data["tags"])
    candidates = _candidates(request.user, school, categories, tags)
    error, status = "", 200
    if request.method == "POST":
        form = BatchCreateForm(request.POST, candidates=candidates)
        if form.is_valid():
            try:
                batch = services.do_create_batch(request.user, workshop=form.cleaned_data["workshop"],
                                                 assets=list(form.cleaned_data["assets"]),
                                                 notes=form.cleaned_data["notes"])
            except REFUSALS as exc:
                error, status = _("Lot non créé : %(e)s") % {"e": _refusal_text(exc)}, 400
            else:
                n = batch.items.count()
                messages.success(request, ngettext("Lot %(ref)s créé avec %(n)s appareil, pour %(w)s.",
                                                   "Lot %(ref)s créé avec %(n)s appareils, pour %(w)s.", n) % {
                    "ref": batch.reference, "n": n, "w": batch.workshop.name})
                return redirect("fleet:batch", reference=batch.reference)
        else:
            error, status = _form_error_text(form), 400
        checked = set(request.POST.getlist("assets"))
    else:
        form = BatchCreateForm(candidates=candidates)
        checked = set(tags) if tags else None  # None: all checked
    rows = []
    rules = eligibility.active_rules()
    today = timezone.localdate()
    for asset in candidates:
        ok, reasons = eligibility.evaluate(asset, rules, today)
        rows.append({"asset": asset, "checked": checked is None or asset.tag in checked, "eligible": ok,
                     "reasons": reasons, "url": _asset_url(asset.tag)})
    found = {r["asset"].tag for r in rows}
    missing = [t for t in tags if t not in found]
    schools_with_pcs = (territory_access.schools_for(request.user)
                        .filter(assets__category__in=REQUALIFIABLE, assets__status__in=STARTABLE)
                        .distinct().order_by("name").values_list("uai", "name")[:2000])
    template = "fleet/batches/_candidates.html" if request.htmx and request.method == "GET" else \
        "fleet/batches/new.html"
    return render(request, template, {
        "selection": selection, "form": form, "rows": rows, "school": school, "categories": categories,
        "tags": tags, "missing": missing, "error": error, "schools_with_pcs": schools_with_pcs,
        "selected": school is not None or bool(tags),
        "workshops": Site.objects.filter(kind=Site.Kind.WORKSHOP).exists(),
    }, status=status)


# --------------------------------------------------------------------------- a batch


TIMELINE = [(B.PLANNED, "created_at"), (B.PICKED_UP, "picked_up_on"), (B.RECEIVED, "received_on"),
            (B.RETURNED, "returned_on"), (B.CLOSED, "closed_on")]


def _timeline(batch: RequalificationBatch) -> list[dict]:
    order = [s for s, _attr in TIMELINE]
    current = order.index(batch.state)
    steps = []
    for i, (state, attr) in enumerate(TIMELINE):
        when = getattr(batch, attr)
        if attr == "created_at" and when:
            when = timezone.localdate(when)
        steps.append({"state": state, "label": B(state).label, "on": when,
                      "status": "done" if i < current else "current" if i == current else "todo"})
    return steps


ACTION_FORMS = {"eligibility": EligibilityForm, "erasure": ErasureForm, "convert": ConvertForm,
                "reject": RejectForm}


def _item_forms(request, item: BatchItem, bound: dict | None = None) -> dict:
    """Unbound forms (one prefix per device and action, so labels stay unique), or the bound one in error."""
    forms = {}
    for action, form_class in ACTION_FORMS.items():
        prefix = f"i{item.pk}-{action}"
        if bound and bound.get("action") == action:
            forms[action] = bound["form"]
            continue
        initial = {}
        if action == "erasure":
            initial = {"disk_size_gb": item.asset.spec("disk_gb"),
                       "operator": request.user.get_full_name() or request.user.get_username()}
        forms[action] = form_class(prefix=prefix, initial=initial)
    return forms


def _rows(request, batch: RequalificationBatch, items=None, errors: dict | None = None) -> list[dict]:
    if items is None:
        items = batch.items.select_related("asset__model", "origin_school", "origin_slot").order_by("asset__tag")
    items = list(items)
    asset_ids = [i.asset_id for i in items]
    certs: dict[int, list] = {}
    for cert in batch.erasures.filter(asset_id__in=asset_ids).order_by("performed_on", "number"):
        certs.setdefault(cert.asset_id, []).append(cert)
    recyclings = {r.asset_id: r for r in batch.recyclings.filter(asset_id__in=asset_ids)}
    can_work = can_work_batch(request.user, batch)
    acting = can_work and batch.state == B.RECEIVED
    rows = []
    for item in items:
        bound = (errors or {}).get(item.pk)
        rows.append({
            "item": item, "asset": item.asset, "url": _asset_url(item.asset.tag),
            "certificates": certs.get(item.asset_id, []), "recycling": recyclings.get(item.asset_id),
            "acting": acting and item.result == BatchItem.Result.PENDING,
            "forms": _item_forms(request, item, bound) if acting else {},
            "open": bound["action"] if bound else "", "error": bound["message"] if bound else "",
            "saved": "",
        })
    return rows


def _detail_context(request, batch: RequalificationBatch, *, errors=None, step_error="", step_forms=None) -> dict:
    can_work = can_work_batch(request.user, batch)
    step_forms = step_forms or {}
    return {
        "batch": batch, "timeline": _timeline(batch), "progress": services.batch_progress(batch),
        "rows": _rows(request, batch, errors=errors), "can_work": can_work,
        "can_deploy": can_manage_fleet(request.user) and batch.state == B.RETURNED,
        "step_form": step_forms.get("form") or DateStepForm(), "step_error": step_error,
        "step_action": STEP_FOR_STATE.get(batch.state, ""),
    }


@login_required
def batch_detail(request: HttpRequest, reference: str) -> HttpResponse:
    batch = get_batch(request.user, reference)
    return render(request, "fleet/batches/detail.html", _detail_context(request, batch))


# Which batch-level step each state leads to, and what it does.
STEP_FOR_STATE = {B.PLANNED: "pickup", B.PICKED_UP: "receive", B.RECEIVED: "return", B.RETURNED: "deploy"}
STEP_MESSAGES = {
    "pickup": lambda ref: _("Lot %(ref)s enlevé : les appareils sont à l'atelier.") % {"ref": ref},
    "receive": lambda ref: _("Lot %(ref)s réceptionné : éligibilité évaluée selon les règles.") % {"ref": ref},
    "return": lambda ref: _("Lot %(ref)s retourné : les clients légers sont revenus dans leurs écoles.")
    % {"ref": ref},
    "deploy": lambda ref: _("Lot %(ref)s déployé dans les emplacements d'origine, et clos.") % {"ref": ref},
}


def _step(request: HttpRequest, reference: str, step: str) -> HttpResponse:
    batch = get_batch(request.user, reference)
    if step == "deploy":
        require_manage_fleet(request.user)
    require_work_batch(request.user, batch)
    form = None
    try:
        if step == "deploy":
            services.do_deploy_batch(request.user, batch)
        else:
            form = DateStepForm(request.POST)
            if not form.is_valid():
                raise FleetError(_form_error_text(form))
            on = form.cleaned_data["on"]
            {"pickup": services.do_pickup_batch, "receive": services.do_receive_batch,
             "return": services.do_return_batch}[step](request.user, batch, on=on)
    except REFUSALS as exc:
        batch.refresh_from_db()
        ctx = _detail_context(request, batch, step_error=_refusal_text(exc),
                              step_forms={"form": form} if form is not None and form.errors else None)
        return render(request, "fleet/batches/detail.html", ctx, status=400)
    messages.success(request, STEP_MESSAGES[step](batch.reference))
    return redirect("fleet:batch", reference=batch.reference)


@login_required
@require_POST
def batch_pickup(request, reference):
    return _step(request, reference, "pickup")


@login_required
@require_POST
def batch_receive(request, reference):
    return _step(request, reference, "receive")


@login_required
@require_POST
def batch_return(request, reference):
    return _step(request, reference, "return")


@login_required
@require_POST
def batch_deploy(request, reference):
    return _step(request, reference, "deploy")


# --------------------------------------------------------------------------- per-device actions


def _do(request, action: str, item: BatchItem, data: dict, form) -> str:
    """Run one per-device action through the services; the success message."""
    user, tag = request.user, item.asset.tag
    if item.result != BatchItem.Result.PENDING:
        raise FleetError(_("%(tag)s a déjà un résultat (« %(r)s ») : plus d'action possible sur cet appareil.")
                         % {"tag": tag, "r": item.get_result_display()})
    if action == "eligibility":
        services.do_set_eligibility(user, item, data["eligible"], data["reason"])
        return _("%(tag)s : éligibilité mise à jour.") % {"tag": tag}
    if action == "erasure":
        cert = services.do_record_erasure(user, item, **form.service_fields())
        return _("%(tag)s : certificat d'effacement %(n)s enregistré.") % {"tag": tag, "n": cert.number}
    if action == "convert":
        services.do_convert(user, item, notes=data["notes"])
        return _("%(tag)s : converti en client léger.") % {"tag": tag}
    services.do_reject(user, item, weight_kg=data["weight_kg"], recycler=data["recycler"],
                       certificate=data["certificate"], recycled_on=data["recycled_on"], notes=data["notes"])
    return _("%(tag)s : rejeté, remis au recyclage DEEE.") % {"tag": tag}


def _item_action(request: HttpRequest, reference: str, tag: str, action: str) -> HttpResponse:
    batch = get_batch(request.user, reference)
    require_work_batch(request.user, batch)
    item = get_object_or_404(batch.items.select_related("asset__model", "origin_school"), asset__tag=tag)
    form = ACTION_FORMS[action](request.POST, prefix=f"i{item.pk}-{action}")
    error = ""
    if form.is_valid():
        try:
            message = _do(request, action, item, form.cleaned_data, form)
        except REFUSALS as exc:
            error = _refusal_text(exc)
    else:
        error = _form_error_text(form)
    if error:
        errors = {item.pk: {"action": action, "form": form, "message": error}}
        if request.htmx:
            return _item_fragment(request, batch, item, errors=errors, status=400)
        batch.refresh_from_db()
        return render(request, "fleet/batches/detail.html", _detail_context(request, batch, errors=errors),
                      status=400)
    if request.htmx:
        return _item_fragment(request, batch, item, saved=message)
    messages.success(request, message)
    return redirect(reverse("fleet:batch", args=[batch.reference]) + f"#item-{item.pk}")


def _item_fragment(request, batch, item, *, errors=None, saved="", status=200) -> HttpResponse:
    """The device's rows (swapped by htmx), with the progress section out of band."""
    batch.refresh_from_db()
    items = batch.items.filter(pk=item.pk).select_related("asset__model", "origin_school", "origin_slot")
    row = _rows(request, batch, items=items, errors=errors)[0]
    row["saved"] = saved
    return render(request, "fleet/batches/_item.html", {
        "row": row, "batch": batch, "progress": services.batch_progress(batch), "oob": True,
    }, status=status)


@login_required
@require_POST
def item_eligibility(request, reference, tag):
    return _item_action(request, reference, tag, "eligibility")


@login_required
@require_POST
def item_erasure(request, reference, tag):
    return _item_action(request, reference, tag, "erasure")


@login_required
@require_POST
def item_convert(request, reference, tag):
    return _item_action(request, reference, tag, "convert")


@login_required
@require_POST
def item_reject(request, reference, tag):
    return _item_action(request, reference, tag, "reject")


# --------------------------------------------------------------------------- report


@login_required
def batch_report(request: HttpRequest, reference: str) -> HttpResponse:
    batch = get_batch(request.user, reference)
    report = build_report(batch)
    for row in report.rows:
        row.url = _asset_url(row.item.asset.tag)
    return render(request, "fleet/batches/report.html", {"batch": batch, "report": report})


@login_required
def batch_report_pdf(request: HttpRequest, reference: str) -> HttpResponse:
    batch = get_batch(request.user, reference)
    response = HttpResponse(render_pdf(build_report(batch)), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="rapport-{batch.reference}.pdf"'
    return response


# --------------------------------------------------------------------------- eligibility rules


def _save_rules(user, forms) -> int:
    """Write the rules that changed, in one transaction (services.do_update_eligibility_rule)."""
    with transaction.atomic():
        return sum(services.do_update_eligibility_rule(
            user, form.criterion, active=form.cleaned_data["active"],
            value=form.cleaned_data.get("value") if form.numeric else None) for form in forms)


@login_required
def eligibility_rules(request: HttpRequest) -> HttpResponse:
    _require_batch_role(request.user)
    can_edit = request.user.is_admin
    if request.method == "POST" and not can_edit:
        raise PermissionDenied(_("Seule l'équipe numérique de l'agglomération modifie les règles d'éligibilité."))
    existing = {r.criterion: r for r in EligibilityRule.objects.all()}
    forms, status, error = [], 200, ""
    for criterion in EligibilityRule.Criterion.values:
        rule = existing.get(criterion)
        initial = {"active": rule.active if rule else False, "value": rule.value if rule else None}
        data = request.POST if request.method == "POST" else None
        forms.append(RuleForm(data, prefix=criterion, criterion=criterion, initial=initial))
    if request.method == "POST":
        if all(f.is_valid() for f in forms):
            n = _save_rules(request.user, forms)
            messages.success(request, ngettext(
                "Règles d'éligibilité enregistrées (%(n)s modifiée). Elles s'appliquent aux prochaines réceptions "
                "de lots.",
                "Règles d'éligibilité enregistrées (%(n)s modifiées). Elles s'appliquent aux prochaines réceptions "
                "de lots.", n) % {"n": n})
            return redirect("fleet:eligibility-rules")
        status = 400
        error = " ".join(e for f in forms for errs in f.errors.values() for e in errs)
    return render(request, "fleet/batches/rules.html", {"forms": forms, "can_edit": can_edit, "error": error},
                  status=status)


urlpatterns = [
    path("lots/", batch_list, name="batches"),
    path("lots/nouveau/", batch_new, name="batch-new"),
    path("lots/regles/", eligibility_rules, name="eligibility-rules"),
    path("lots/<str:reference>/", batch_detail, name="batch"),
    path("lots/<str:reference>/rapport/", batch_report, name="batch-report"),
    path("lots/<str:reference>/rapport.pdf", batch_report_pdf, name="batch-report-pdf"),
    path("lots/<str:reference>/enlevement/", batch_pickup, name="batch-pickup"),
    path("lots/<str:reference>/reception/", batch_receive, name="batch-receive"),
    path("lots/<str:reference>/retour/", batch_return, name="batch-return"),
    path("lots/<str:reference>/deploiement/", batch_deploy, name="batch-deploy"),
    path("lots/<str:reference>/appareils/<str:tag>/eligibilite/", item_eligibility, name="batch-item-eligibility"),
    path("lots/<str:reference>/appareils/<str:tag>/effacement/", item_erasure, name="batch-item-erasure"),
    path("lots/<str:reference>/appareils/<str:tag>/conversion/", item_convert, name="batch-item-convert"),
    path("lots/<str:reference>/appareils/<str:tag>/rejet/", item_reject, name="batch-item-reject"),
]
