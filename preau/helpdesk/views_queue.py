"""Lists of requests: the party's queue (filters, deadline order, CSV/XLSX), my requests, a school's.

Each page is a bounded number of SQL queries whatever the number of requests: the capped count, one page
(school, commune, category, class, device and assignee joined) and the short list of categories.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from preau.accounts import access as territory_access
from preau.core.exports import export_response
from preau.core.pagination import CappedPaginator, paginate

from . import access, lifecycle, routing
from .forms import QueueFilterForm
from .models import Party, Priority

PAGE = 50
XLSX_MAX_ROWS = 100_000
LIST_RELATED = ("school__commune", "category", "school_class", "device", "assignee", "party_commune",
                "party_circonscription", "party_workshop")


def breached_q(now) -> Q:
    return (Q(take_charge_breached=True) | Q(resolve_breached=True)
            | Q(taken_at__isnull=True, take_charge_due__lt=now)
            | (Q(resolve_due__lt=now) & ~Q(status__in=lifecycle.PAUSED)))


def _filtered(request: HttpRequest, qs, form: QueueFilterForm, default_status: str):
    if not form.is_valid():
        return qs.none()
    cd = form.cleaned_data
    status = cd["status"] or default_status
    if status == QueueFilterForm.OPEN:
        qs = qs.filter(status__in=lifecycle.OPEN)
    elif status != QueueFilterForm.ALL:
        qs = qs.filter(status=status)
    if cd["category"]:
        qs = qs.filter(category=cd["category"])
    if cd["priority"]:
        qs = qs.filter(priority=cd["priority"])
    if cd["commune"]:
        qs = qs.filter(school__commune__insee=cd["commune"].strip())
    if cd["school"]:
        qs = qs.filter(school__uai=cd["school"].strip().upper())
    if cd["breached"]:
        qs = qs.filter(breached_q(timezone.now()))
    return qs


def _by_deadline(qs):
    return qs.order_by(F("resolve_due").asc(nulls_last=True), "pk")


def _annotate(rows, now):
    for t in rows:
        t.late = t.is_open and (t.take_charge_breached or t.resolve_breached
                                or (t.taken_at is None and t.take_charge_due and now > t.take_charge_due)
                                or (t.resolve_due and now > t.resolve_due and t.status not in lifecycle.PAUSED))
        t.party_text = routing.party_label(t)
    return rows


def _list_page(request, qs, **context):
    # The page's ids first, then its rows with their related objects: the database sorts and skips bare ids,
    # never joined rows (bench/helpdesk.py, 500,000 requests: a technician's "my requests" on SQLite went from
    # ~2 s, the join of his ~42,000 requests before the sort, to a few tens of ms).
    page = paginate(request, qs.values_list("pk", flat=True), PAGE, paginator_class=CappedPaginator)
    ids = list(page.object_list)
    rows = ({t.pk: t for t in qs.model.objects.filter(pk__in=ids).select_related(*LIST_RELATED)} if ids
            else {})
    page.object_list = _annotate([rows[pk] for pk in ids if pk in rows], timezone.now())
    params = request.GET.copy()
    params.pop("page", None)
    context.update({"page": page, "params": params.urlencode()})
    return render(request, "helpdesk/list.html", context)


def _require_queue(user):
    if access.party_q(user) is None:
        raise PermissionDenied(_("Vous ne faites partie d'aucun responsable : vous n'avez pas de file de "
                                 "demandes. Vos demandes sont dans « Mes demandes »."))


def queue_label(user) -> str:
    if access.is_agglomeration(user):
        return str(Party.AGGLOMERATION.label)
    return {"commune": _("Commune"), "advisor": _("Circonscription"), "workshop": _("Atelier")}.get(user.role, "")


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """The open requests the user's party must answer, the nearest resolution deadline first."""
    _require_queue(request.user)
    form = QueueFilterForm(request.GET)
    qs = _by_deadline(_filtered(request, access.queue_for(request.user), form, QueueFilterForm.OPEN))
    return _list_page(request, qs, form=form, title=_("File des demandes — %(p)s") % {"p": queue_label(request.user)},
                      kind="queue", priorities=dict(Priority.choices))


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """The requests I made, and those I am in charge of."""
    user = request.user
    form = QueueFilterForm(request.GET, default_status=QueueFilterForm.ALL)
    qs = _filtered(request, access.tickets_for(user).filter(Q(requester=user) | Q(assignee=user)), form,
                   QueueFilterForm.ALL).order_by("-created_at", "-pk")
    return _list_page(request, qs, form=form, title=_("Mes demandes"), kind="mine")


@login_required
def school_list(request: HttpRequest, uai: str) -> HttpResponse:
    """Every request of a school the user sees (404 out of scope)."""
    school = territory_access.get_school(request.user, uai)
    form = QueueFilterForm(request.GET, default_status=QueueFilterForm.ALL)
    qs = _filtered(request, access.tickets_for(request.user).filter(school=school), form,
                   QueueFilterForm.ALL).order_by("-created_at", "-pk")
    return _list_page(request, qs, form=form, title=_("Demandes de %(s)s") % {"s": school.name}, kind="school",
                      school=school, can_file=access.can_file(request.user, school))


EXPORT_HEADERS = ["Référence", "Créée le", "Statut", "Priorité", "Problème", "Responsable", "UAI", "École",
                  "Commune", "Classe", "Appareil", "Demandeur", "Technicien", "Prise en charge avant",
                  "Résolution avant", "Délai dépassé", "Titre"]


@login_required
def queue_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The filtered queue, every row, as CSV (streamed) or XLSX (up to XLSX_MAX_ROWS)."""
    if fmt not in ("csv", "xlsx"):
        raise Http404(_("Format d'export inconnu : csv ou xlsx."))
    _require_queue(request.user)
    qs = _by_deadline(_filtered(request, access.queue_for(request.user), QueueFilterForm(request.GET),
                                QueueFilterForm.OPEN))
    if fmt == "xlsx" and qs.order_by()[: XLSX_MAX_ROWS + 1].count() > XLSX_MAX_ROWS:
        return render(request, "helpdesk/refused.html", {
            "message": _("Plus de %(n)s demandes : trop pour un classeur XLSX. Utilisez l'export CSV.")
            % {"n": XLSX_MAX_ROWS}}, status=400)
    statuses, priorities, parties = (dict(lifecycle.Status.choices), dict(Priority.choices), dict(Party.choices))
    now = timezone.now()
    yes, no = _("oui"), _("non")

    def rows():
        fields = ("pk", "created_at", "status", "priority", "category__label", "party", "school__uai",
                  "school__name", "school__commune__name", "school_class__name", "device__tag",
                  "requester__username", "assignee__username", "take_charge_due", "resolve_due",
                  "take_charge_breached", "resolve_breached", "title")
        for (pk, created, status, priority, category, party, uai, school, commune, klass, tag, requester,
             assignee, take_due, resolve_due, tb, rb, title) in qs.values_list(*fields).iterator(chunk_size=2000):
            late = tb or rb or bool(resolve_due and now > resolve_due and status in lifecycle.OPEN)
            yield [f"AS-{pk}", timezone.localtime(created).strftime("%d/%m/%Y %H:%M"),
                   str(statuses.get(status, status)), str(priorities.get(priority, priority)), category,
                   str(parties.get(party, party)), uai, school, commune, klass, tag, requester, assignee,
                   timezone.localtime(take_due).strftime("%d/%m/%Y %H:%M") if take_due else "",
                   timezone.localtime(resolve_due).strftime("%d/%m/%Y %H:%M") if resolve_due else "",
                   yes if late else no, title]

    return export_response(fmt, "demandes", EXPORT_HEADERS, rows())

