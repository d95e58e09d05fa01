"""Asset pages under /parc/: the list (filters, CSV/XLSX, QR labels), an asset's page with its timeline and
actions, the stock, and the equipment section of a school's page.

Objects are read only through preau.fleet.access (scope: out of scope is a 404); every write goes
through preau.fleet.services (the lifecycle decides, the timeline and the audit log are written
there). Acting needs access.can_manage_fleet (else 403). A refused action (TransitionRefused,
FleetError) is shown on the page with status 400 and nothing is changed.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from preau.accounts import access as territory_access
from preau.accounts.models import Role
from preau.core.exports import export_response
from preau.core.pagination import PAGE_SIZE, CappedPaginator, paginate
from preau.helpdesk.blocks import device_tickets
from preau.territory.codes import normalize_uai
from preau.territory.models import School

from . import access, lifecycle, services
from .filters import AssetFilter, years_ago
from .forms import (
    AssetCreateForm,
    AssetEditForm,
    DeployForm,
    MoveForm,
    PlaceSchoolForm,
    ReplaceForm,
    TransitionForm,
    transition_targets,
)
from .labels import MAX_LABELS, Label, labels_pdf
from .lifecycle import AVAILABLE, GONE, IN_PLACE, Status, TransitionRefused
from .models import Asset, Category, Origin, RecyclingRecord, Site, Slot
from .services import FleetError

# Counting stops here: beyond, the list says "plus de 10 000" (see asset_list).
# An XLSX workbook is built in memory: beyond this many rows, the CSV export (streamed) is the way.
XLSX_MAX_ROWS = 100_000
TIMELINE_MAX = 200
STOCK_CANDIDATES = 25
SCHOOL_LOOSE_MAX = 300


def old_years() -> int:
    """A device bought more than this many years ago is "too old" (setting PREAU_FLEET_OLD_YEARS, default 7)."""
    return int(getattr(settings, "PREAU_FLEET_OLD_YEARS", 7))


def age_years(purchased_on: date | None, today: date | None = None) -> int | None:
    if purchased_on is None:
        return None
    today = today or timezone.localdate()
    return today.year - purchased_on.year - ((today.month, today.day) < (purchased_on.month, purchased_on.day))


def _slot_of(asset: Asset) -> Slot | None:
    try:
        return asset.slot
    except ObjectDoesNotExist:
        return None


# --------------------------------------------------------------------------- list, exports, labels


def _page(request: HttpRequest, queryset, per_page: int = PAGE_SIZE):
    """paginate() with the capped count: a million-row fleet answers "plus de 10 000" (see CappedPaginator)."""
    page = paginate(request, queryset, per_page, paginator_class=CappedPaginator)
    page.object_list = list(page.object_list)
    return page


def _filterset(request: HttpRequest) -> AssetFilter:
    qs = access.assets_for(request.user).select_related("model", "school", "school_class", "site")
    return AssetFilter(request.GET, queryset=qs, request=request)


def _listed(request: HttpRequest, filterset: AssetFilter):
    """The filtered assets in the list's order: the one asked (?ordering=), else creation order (pk).

    Creation order rather than the tag: every index on the filtered columns (category, status,
    school, site, model…) is also ordered by the primary key, so a page of a filtered list is read
    straight from the index. Ordered by tag, SQLite sorts all the matching rows first: on a million
    assets, ?category=thin_client took ~200 ms that way against ~4 ms by pk. Tags are usually given
    in sequence, so both orders mostly agree; "Tri" offers the tag order explicitly.
    """
    qs = filterset.qs
    return qs if request.GET.get("ordering") else qs.order_by("pk")


@login_required
def asset_list(request: HttpRequest) -> HttpResponse:
    """The assets the user sees, filtered (AssetFilter), 50 a page.

    Queries do not grow with the data: the count (capped, see CappedPaginator), the page (one
    query, models, schools, classes and sites joined), and the two short choice lists of the
    filter form (device models, sites: a few dozen rows, not the assets), plus session and user.
    The default order is the creation order (see _listed), so a page is read from an index, not sorted.
    Measured on the bench's database (1,000,000 assets, SQLite): 3–50 ms a page for the filters
    on indexed columns; a text search (?q=) scans the table while it finds few matches.
    """
    filterset = _filterset(request)
    # The catalogue model comes in its own query: joined, SQLite drives a one-model search (?q=Wyse) from the
    # models table and sorts every asset of that model (1M assets: 1.4 s → 7 ms).
    page = _page(request, _listed(request, filterset).select_related(None)
                 .select_related("school", "school_class", "site").prefetch_related("model"))
    today = timezone.localdate()
    for asset in page.object_list:
        asset.age = age_years(asset.purchased_on, today)
    total = page.paginator.count
    cap = number_format(page.paginator.cap, force_grouping=True)
    if page.paginator.capped:
        total_label = _("plus de %(n)s appareils") % {"n": cap}
    else:
        total_label = ngettext("%(n)s appareil", "%(n)s appareils", total) % {
            "n": number_format(total, force_grouping=True)}
    return render(request, "fleet/assets/list.html", {
        "filter": filterset, "page": page, "total_label": total_label, "cap": cap,
        "cap_pages": page.paginator.num_pages, "can_manage": access.can_manage_fleet(request.user),
    })


EXPORT_HEADERS = ["Numéro d'inventaire", "Catégorie", "Fabricant", "Modèle", "Statut", "Origine", "UAI",
                  "École", "Classe", "Site", "Date d'achat", "Âge (ans)", "Fin de garantie", "Numéro de série",
                  "Nom de machine", "Coût (€)"]


@login_required
def asset_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The filtered list, every row (not one page), as CSV (streamed) or XLSX (up to XLSX_MAX_ROWS rows).

    Rows are read with values_list(...).iterator(): no model instances, no per-row query."""
    if fmt not in ("csv", "xlsx"):
        raise Http404(_("Format d'export inconnu : csv ou xlsx."))
    filterset = _filterset(request)
    qs = _listed(request, filterset)
    if fmt == "xlsx" and qs.order_by()[: XLSX_MAX_ROWS + 1].count() > XLSX_MAX_ROWS:
        return render(request, "fleet/assets/refused.html", {
            "title": _("Export XLSX"),
            "message": _("Plus de %(n)s appareils : trop pour un classeur XLSX. Utilisez l'export CSV, "
                         "ou affinez les filtres.") % {"n": number_format(XLSX_MAX_ROWS, force_grouping=True)},
            "back": reverse("fleet:assets") + "?" + request.GET.urlencode(),
        }, status=400)
    categories, statuses, origins = dict(Category.choices), dict(Status.choices), dict(Origin.choices)
    today = timezone.localdate()
    fields = ("tag", "category", "model__maker", "model__name", "status", "origin", "school__uai", "school__name",
              "school_class__name", "site__name", "purchased_on", "warranty_until", "serial", "hostname", "cost")

    def rows():
        for (tag, category, maker, model, status, origin, uai, school, klass, site, bought, warranty, serial,
             hostname, cost) in qs.values_list(*fields).iterator(chunk_size=5000):
            yield [tag, str(categories.get(category, category)), maker, model, str(statuses.get(status, status)),
                   str(origins.get(origin, origin)), uai, school, klass, site, bought, age_years(bought, today),
                   warranty, serial, hostname, cost]

    return export_response(fmt, "appareils", EXPORT_HEADERS, rows())


def _tags_param(request: HttpRequest) -> list[str]:
    tags = []
    for value in request.GET.getlist("tag"):
        tags += [t.strip() for t in value.split(",") if t.strip()]
    return tags


@login_required
def asset_labels(request: HttpRequest) -> HttpResponse:
    """QR labels (A4 PDF, 3 × 8 a page) of the filtered list, or of the tags given (?tag=A&tag=B or ?tag=A,B).

    At most MAX_LABELS (2,400, 100 pages) a PDF; beyond, a page says so (400)."""
    access.require_manage_fleet(request.user)
    qs = _filterset(request).qs
    tags = _tags_param(request)
    if tags:
        qs = qs.filter(tag__in=tags)
    n = qs.order_by()[: MAX_LABELS + 1].count()
    back = reverse("fleet:assets") + "?" + request.GET.urlencode()
    if n == 0 or n > MAX_LABELS:
        message = (_("Aucun appareil ne correspond : aucune étiquette à imprimer.") if n == 0 else
                   _("Plus de %(max)s étiquettes demandées : %(max)s au plus par PDF (%(pages)s pages). "
                     "Affinez les filtres (école, catégorie, statut…) et imprimez en plusieurs fois.")
                   % {"max": number_format(MAX_LABELS, force_grouping=True), "pages": MAX_LABELS // 24})
        return render(request, "fleet/assets/refused.html",
                      {"title": _("Étiquettes"), "message": message, "back": back}, status=400)

    def labels():
        for tag, maker, model, school, klass, site in qs.values_list(
                "tag", "model__maker", "model__name", "school__name", "school_class__name", "site__name"):
            place = tuple(x for x in (school, klass) if x) if school else ((site,) if site else ())
            url = request.build_absolute_uri(reverse("fleet:asset", args=[tag]))
            yield Label(tag=tag, model=f"{maker} {model}", url=url, place=place)

    pdf = labels_pdf(labels(), title=_("Étiquettes Préau"))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="etiquettes.pdf"'
    return response


# --------------------------------------------------------------------------- one asset


SPEC_FIELDS = ("cpu", "cpu_64bit", "ram_mb", "disk_gb", "netboot")


def _specs(asset: Asset) -> list[dict]:
    """The known specs (machine's value, else the model's), with where each value comes from."""
    rows = []
    for name in SPEC_FIELDS:
        own = getattr(asset, name)
        if asset.spec(name) in (None, ""):
            continue
        rows.append({"label": Asset._meta.get_field(name).verbose_name, "value": asset.spec(name),
                     "source": _("inventaire") if own not in (None, "") else _("catalogue"), "name": name})
    return rows


def _detail_context(request: HttpRequest, asset: Asset, **extra) -> dict:
    user = request.user
    can_manage = access.can_manage_fleet(user)
    today = timezone.localdate()
    events = list(asset.events.select_related("user", "batch", "other_asset")[: TIMELINE_MAX + 1])
    context = {
        "asset": asset,
        "slot": _slot_of(asset),
        "specs": _specs(asset),
        "age": age_years(asset.purchased_on, today),
        "too_old": asset.purchased_on is not None and asset.purchased_on <= years_ago(old_years(), today),
        "under_warranty": asset.warranty_until is not None and asset.warranty_until >= today,
        "interfaces": list(asset.interfaces.order_by("mac")),
        "erasures": list(asset.erasures.select_related("batch")),
        "recycling": RecyclingRecord.objects.filter(asset=asset).select_related("batch").first(),
        "batch_items": list(asset.batch_items.select_related("batch__workshop").order_by("-batch__created_at")),
        "events": events[:TIMELINE_MAX],
        "more_events": len(events) > TIMELINE_MAX,
        "show_batch_links": user.sees_whole_territory or user.role == Role.WORKSHOP,
        "can_manage": can_manage,
        "device_tickets": device_tickets(user, asset),
    }
    if can_manage:
        context.update({
            "transition_form": TransitionForm(asset=asset) if transition_targets(asset) else None,
            "can_deploy": Status.DEPLOYED in lifecycle.allowed(asset.status),
            "can_move": asset.status not in IN_PLACE,
            "can_replace": asset.status in IN_PLACE,
        })
    context.update(extra)
    return context


@login_required
def asset_detail(request: HttpRequest, tag: str) -> HttpResponse:
    """Identity, specs, place, warranty, origin, interfaces, erasures, recycling, batches, timeline.

    About ten queries whatever the fleet's size (one per section, the timeline capped at 200 events)."""
    asset = access.get_asset(request.user, tag)
    return render(request, "fleet/assets/detail.html", _detail_context(request, asset))


def _managed_asset(request: HttpRequest, tag: str) -> Asset:
    """The asset in the user's scope (else 404), for a user of the fleet team (else 403)."""
    asset = access.get_asset(request.user, tag)
    access.require_manage_fleet(request.user)
    return asset


@login_required
@require_POST
def asset_transition(request: HttpRequest, tag: str) -> HttpResponse:
    asset = _managed_asset(request, tag)
    form = TransitionForm(request.POST, asset=asset)
    error = None
    if form.is_valid():
        try:
            services.do_transition(request.user, asset, form.cleaned_data["target"], form.cleaned_data["reason"],
                                   ticket=form.cleaned_data["ticket"])
        except (TransitionRefused, FleetError) as exc:
            error = str(exc)
        else:
            messages.success(request, _("Statut changé : « %(s)s ».") % {"s": lifecycle.label(
                form.cleaned_data["target"])})
            return redirect("fleet:asset", tag=asset.tag)
    asset = access.get_asset(request.user, tag)  # as stored: nothing was changed
    return render(request, "fleet/assets/detail.html",
                  _detail_context(request, asset, transition_form=form, action_error=error), status=400)


def _school_from(user, uai: str):
    """A school of the user's scope by UAI, or None; the error sentence when it is not found."""
    uai = (uai or "").strip()
    if not uai:
        return None, None
    school = territory_access.schools_for(user).filter(uai=normalize_uai(uai)).first()
    if school is None:
        return None, _("École inconnue ou hors de votre périmètre : « %(uai)s ».") % {"uai": uai}
    return school, None


def _classes(school) -> list:
    """The school's classes of its latest school year known (the current one once the year's classes are in)."""
    if school is None:
        return []
    classes = list(school.classes.order_by("-year", "name"))
    return [k for k in classes if k.year == classes[0].year]


@login_required
def asset_deploy(request: HttpRequest, tag: str) -> HttpResponse:
    """Deploy an available device: choose the school (UAI), then an empty slot of its category there
    (or a class, or the school itself)."""
    asset = _managed_asset(request, tag)
    data = request.POST if request.method == "POST" else request.GET
    default_uai = asset.school.uai if asset.school_id else ""
    school, error = _school_from(request.user, data.get("school", default_uai))
    slots = list(Slot.objects.filter(school=school, asset__isnull=True, category=asset.category)
                 .select_related("school_class").order_by("school_class__name", "label")) if school else []
    classes = _classes(school)
    form = DeployForm(request.POST if request.method == "POST" else None, slots=slots, classes=classes)
    if request.method == "POST" and school is None and error is None:
        error = _("Indiquez l'école (UAI) où déployer l'appareil.")
    if request.method == "POST" and school is not None and form.is_valid():
        kind, _sep, pk = form.cleaned_data["place"].partition(":")
        where: dict = {"school": school}
        if kind == "slot":
            where = {"slot": next(s for s in slots if str(s.pk) == pk)}
        elif kind == "class":
            where = {"school_class": next(k for k in classes if str(k.pk) == pk)}
        try:
            services.do_deploy(request.user, asset, reason=form.cleaned_data["reason"],
                               ticket=form.cleaned_data["ticket"], **where)
        except (TransitionRefused, FleetError) as exc:
            error = str(exc)
        else:
            messages.success(request, _("%(tag)s est déployé.") % {"tag": asset.tag})
            return redirect("fleet:asset", tag=asset.tag)
    status = 400 if request.method == "POST" else 200
    return render(request, "fleet/assets/deploy.html", {
        "asset": asset, "school": school, "school_form": PlaceSchoolForm(initial={"school": data.get(
            "school", default_uai)}), "form": form, "slots": slots, "error": error,
    }, status=status)


@login_required
def asset_move(request: HttpRequest, tag: str) -> HttpResponse:
    """Move a device that is not in service to a site, or to a school (and one of its classes)."""
    asset = _managed_asset(request, tag)
    data = request.POST if request.method == "POST" else request.GET
    school, error = _school_from(request.user, data.get("school", ""))
    classes = _classes(school)
    form = MoveForm(request.POST if request.method == "POST" else None, sites=Site.objects.order_by("kind", "name"),
                    classes=classes, school=school)
    if request.method == "POST" and error is None and form.is_valid():
        where: dict = {"site": form.cleaned_data["site"]} if school is None else {"school": school}
        klass = form.cleaned_data.get("school_class")
        if school is not None and klass:
            where = {"school_class": next(k for k in classes if k.pk == klass)}
        try:
            services.do_move(request.user, asset, reason=form.cleaned_data["reason"], **where)
        except (TransitionRefused, FleetError) as exc:
            error = str(exc)
        else:
            messages.success(request, _("%(tag)s a été déplacé.") % {"tag": asset.tag})
            return redirect("fleet:asset", tag=asset.tag)
    return render(request, "fleet/assets/move.html", {
        "asset": asset, "school": school, "form": form, "error": error,
        "school_form": PlaceSchoolForm(initial={"school": data.get("school", "")}),
    }, status=400 if request.method == "POST" else 200)


def replacement_candidates(user, failed: Asset, limit: int = STOCK_CANDIDATES) -> list[dict]:
    """Devices that can replace `failed`, nearest first: in stock at the same school, then at the depot.

    Same category as the slot the failed device holds (or as the device without slot); status in
    stock or requalified. Two short queries (LIMIT), whatever the size of the stock."""
    slot = _slot_of(failed)
    category = slot.category if slot else failed.category
    base = (access.assets_for(user).filter(status__in=AVAILABLE, category=category).exclude(pk=failed.pk)
            .select_related("model", "school", "site"))
    rows = []
    if failed.school_id:
        rows += [{"asset": a, "where": _("même école")} for a in base.filter(school_id=failed.school_id)[:limit]]
    rows += [{"asset": a, "where": _("dépôt")} for a in base.filter(site__kind=Site.Kind.DEPOT)[:limit]]
    return rows


@login_required
def asset_replace(request: HttpRequest, tag: str) -> HttpResponse:
    """Replace a failed (or deployed) device by one from stock: the replacement takes its slot and place, the
    failed one goes on to the chosen status at the depot (services.do_replace)."""
    failed = _managed_asset(request, tag)
    candidates = replacement_candidates(request.user, failed)
    default_next = services.next_status_after_failure(failed)
    form = ReplaceForm(request.POST if request.method == "POST" else None,
                       initial={"next_status": default_next,
                                "replacement": candidates[0]["asset"].tag if candidates else ""})
    error = None
    if failed.status not in IN_PLACE:
        error = _("Seul un appareil en service ou en panne peut être remplacé (%(tag)s est « %(s)s »).") % {
            "tag": failed.tag, "s": failed.get_status_display()}
    if request.method == "POST" and form.is_valid() and error is None:
        replacement = access.assets_for(request.user).filter(tag=form.cleaned_data["replacement"]).first()
        if replacement is None:
            error = _("Aucun appareil « %(tag)s » dans votre périmètre.") % {"tag": form.cleaned_data["replacement"]}
        else:
            try:
                services.do_replace(request.user, failed, replacement, next_status=form.cleaned_data["next_status"],
                                    reason=form.cleaned_data["reason"], ticket=form.cleaned_data["ticket"])
            except (TransitionRefused, FleetError) as exc:
                error = str(exc)
            else:
                messages.success(request, _("%(new)s remplace %(old)s.") % {"new": replacement.tag,
                                                                           "old": failed.tag})
                return redirect("fleet:asset", tag=replacement.tag)
    status = 400 if request.method == "POST" else 200
    return render(request, "fleet/assets/replace.html", {
        "asset": failed, "slot": _slot_of(failed), "candidates": candidates, "form": form, "error": error,
        "default_next": lifecycle.label(default_next),
    }, status=status)


@login_required
def asset_edit(request: HttpRequest, tag: str) -> HttpResponse:
    """Descriptive fields (serial, dates, cost, specs, notes) through services.do_update_asset."""
    asset = _managed_asset(request, tag)
    # The form gets its own copy: validating a ModelForm writes the input into its instance.
    form = AssetEditForm(request.POST or None, instance=access.get_asset(request.user, tag))
    error = None
    if request.method == "POST" and form.is_valid():
        changed = {name: form.cleaned_data[name] for name in form.changed_data if name != "reason"}
        if not changed:
            messages.info(request, _("Aucune modification."))
            return redirect("fleet:asset", tag=asset.tag)
        try:
            services.do_update_asset(request.user, asset, form.cleaned_data["reason"], **changed)
        except (TransitionRefused, FleetError) as exc:
            error = str(exc)
        else:
            messages.success(request, _("Fiche de %(tag)s enregistrée.") % {"tag": asset.tag})
            return redirect("fleet:asset", tag=asset.tag)
    return render(request, "fleet/assets/edit.html", {"asset": asset, "form": form, "error": error},
                  status=400 if request.method == "POST" else 200)


@login_required
def asset_new(request: HttpRequest) -> HttpResponse:
    """A new device, in stock at a site (the depot by default), through services.do_create_asset."""
    access.require_manage_fleet(request.user)
    form = AssetCreateForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        model, tag, reason = data.pop("model"), data.pop("tag"), data.pop("reason")
        if data.get("site") is None:
            data.pop("site")
        try:
            asset = services.do_create_asset(request.user, model=model, tag=tag, reason=reason, **data)
        except (TransitionRefused, FleetError) as exc:
            error = str(exc)
        else:
            messages.success(request, _("Appareil %(tag)s créé.") % {"tag": asset.tag})
            return redirect("fleet:asset", tag=asset.tag)
    return render(request, "fleet/assets/new.html", {"form": form, "error": error},
                  status=400 if request.method == "POST" else 200)


# --------------------------------------------------------------------------- stock


def can_see_stock(user) -> bool:
    return access.can_manage_fleet(user) or (user.is_authenticated and user.role == Role.COMMITTEE)


@login_required
def stock(request: HttpRequest) -> HttpResponse:
    """Available devices (in stock, requalified) counted by place and category; failed devices awaiting
    replacement (50 a page). For the fleet team and the committee; others get a 403.

    Five queries whatever the fleet's size: one GROUP BY over the available assets (by ids, names
    fetched after: sites, schools), the failed page and its capped count."""
    if not can_see_stock(request.user):
        raise PermissionDenied(_("Réservé à l'équipe du parc et au comité."))
    assets = access.assets_for(request.user)
    counts = list(assets.filter(status__in=AVAILABLE).order_by()
                  .values_list("category", "site_id", "school_id").annotate(n=Count("pk")))
    sites = dict(Site.objects.values_list("pk", "name"))
    schools = {pk: (uai, name) for pk, uai, name in School.objects.filter(
        pk__in={school for _c, _site, school, _n in counts if school}).values_list("pk", "uai", "name")}
    labels = dict(Category.choices)
    places: dict[tuple, dict] = {}
    totals: dict[str, int] = {}
    for category, site, school, n in counts:
        uai, name = schools.get(school, ("", ""))
        key = (0, sites.get(site, ""), "") if site else (1, name, uai)
        place = places.setdefault(key, {"site": sites.get(site, ""), "uai": uai, "school": name, "counts": {},
                                        "total": 0})
        place["counts"][category] = place["counts"].get(category, 0) + n
        place["total"] += n
        totals[category] = totals.get(category, 0) + n
    categories = [(c, labels[c]) for c in Category.values if c in totals]
    rows = []
    for key in sorted(places):
        place = places[key]
        place["cells"] = [place["counts"].get(c, 0) for c, _label in categories]
        rows.append(place)
    failed = (assets.filter(status=Status.FAILED).select_related("model", "school", "school_class", "site", "slot")
              .order_by("tag"))
    page = _page(request, failed)
    return render(request, "fleet/assets/stock.html", {
        "categories": categories, "rows": rows, "totals": [totals[c] for c, _label in categories],
        "grand_total": sum(totals.values()), "page": page, "can_manage": access.can_manage_fleet(request.user),
    })


# --------------------------------------------------------------------------- a school's equipment


def school_equipment(user, school) -> dict:
    """What a school should hold (its slots) against what holds them, per class, with counts.

    A slot is "missing" (empty), "failed" (its device is not in service), "old" (bought more than
    PREAU_FLEET_OLD_YEARS years ago) or "ok". Devices at the school without a slot are listed too
    (at most SCHOOL_LOOSE_MAX). Two queries whatever the school's or the fleet's size.
    """
    today = timezone.localdate()
    old_before = years_ago(old_years(), today)

    def state(asset: Asset | None) -> str:
        if asset is None:
            return "missing"
        if asset.status != Status.DEPLOYED:
            return "failed"
        if asset.purchased_on is not None and asset.purchased_on <= old_before:
            return "old"
        return "ok"

    slots = list(Slot.objects.filter(school=school).select_related("school_class", "asset__model")
                 .order_by("school_class__name", "category", "label"))
    loose = list(access.assets_for(user).filter(school=school, slot__isnull=True).exclude(status__in=GONE)
                 .select_related("model", "school_class").order_by("school_class__name", "category", "tag")
                 [: SCHOOL_LOOSE_MAX + 1])
    counts = dict.fromkeys(("ok", "missing", "failed", "old"), 0)
    groups: dict = {}
    for slot in slots:
        s = state(slot.asset)
        counts[s] += 1
        group = groups.setdefault(slot.school_class_id, {"school_class": slot.school_class, "rows": [],
                                                         "problems": 0})
        group["rows"].append({"slot": slot, "asset": slot.asset, "state": s,
                              "age": age_years(slot.asset.purchased_on, today) if slot.asset else None})
        group["problems"] += s != "ok"
    loose_rows = [{"asset": a, "state": state(a) if a.status in IN_PLACE else "other",
                   "age": age_years(a.purchased_on, today)} for a in loose[:SCHOOL_LOOSE_MAX]]
    ordered = sorted(groups.values(), key=lambda g: (g["school_class"] is not None,
                                                     g["school_class"].name if g["school_class"] else ""))
    return {
        "school": school, "groups": ordered, "counts": counts, "slots": len(slots), "loose": loose_rows,
        "loose_more": len(loose) > SCHOOL_LOOSE_MAX, "old_years": old_years(),
        "list_url": reverse("fleet:assets") + "?school=" + school.uai,
        "can_manage": access.can_manage_fleet(user),
    }


urlpatterns = [
    path("appareils/", asset_list, name="assets"),
    path("appareils/export.<str:fmt>", asset_export, name="assets-export"),
    path("appareils/nouveau/", asset_new, name="asset-new"),
    path("appareils/<str:tag>/", asset_detail, name="asset"),
    path("appareils/<str:tag>/statut/", asset_transition, name="asset-transition"),
    path("appareils/<str:tag>/deployer/", asset_deploy, name="asset-deploy"),
    path("appareils/<str:tag>/deplacer/", asset_move, name="asset-move"),
    path("appareils/<str:tag>/remplacer/", asset_replace, name="asset-replace"),
    path("appareils/<str:tag>/modifier/", asset_edit, name="asset-edit"),
    path("stock/", stock, name="stock"),
    path("etiquettes.pdf", asset_labels, name="labels"),
]
