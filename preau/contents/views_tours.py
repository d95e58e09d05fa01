"""Operator tours under /contenus/tournees/: plan (schools or a commune's late offline schools), build the USB
bundle (background job), download it (streamed tar), print the tour sheet, ingest the receipts brought back.

Who: admins and technicians plan, build and ingest; committees read (list, page, sheet); others get a 403.
Refusals are French messages with HTTP 400, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from preau.core import jobs
from preau.territory.models import Commune

from . import access, services, tours
from .models import Delivery, Tour


class TourForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Nom de la tournée"), max_length=40)
    planned_on = forms.DateField(label=gettext_lazy("Date prévue"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))
    uais = forms.CharField(label=gettext_lazy("Écoles (UAI)"), required=False, widget=forms.Textarea(
        attrs={"rows": 3}), help_text=gettext_lazy("Une UAI par ligne ; vide : proposer selon la commune."))
    commune = forms.ModelChoiceField(label=gettext_lazy("Ou : les écoles hors ligne en retard de la commune"),
                                     queryset=Commune.objects.order_by("name"), to_field_name="insee",
                                     required=False)


def _get_tour(user, pk: int) -> Tour:
    access.require_read_collections(user)
    return get_object_or_404(Tour, pk=pk)


@login_required
def tour_list(request: HttpRequest) -> HttpResponse:
    access.require_read_collections(request.user)
    form = TourForm(request.POST or None)
    status = 200
    if request.method == "POST":
        access.require_manage_contents(request.user)
        if form.is_valid():
            try:
                tour = tours.do_plan_tour(request.user, **form.cleaned_data)
            except services.ContentsError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Tournée « %(n)s » prévue.") % {"n": tour.name})
                return redirect("contents:tour", pk=tour.pk)
        status = 400
    rows = Tour.objects.select_related("created_by").prefetch_related("stops")
    return render(request, "contents/tours.html", {"tours": rows, "form": form,
                                                   "can_manage": access.can_manage_contents(request.user)},
                  status=status)


def _stops(tour: Tour) -> list:
    """The stops in order; until its disk is built, what each school needs is worked out afresh (releases may have
    been published since the tour was planned); afterwards, what the disk carries for it."""
    stops = list(tour.stops.select_related("school", "school__commune", "school__nas_node"))
    fresh = tours.fresh_needs(tour) if tour.state == Tour.State.PLANNED else {}
    for stop in stops:
        stop.node = getattr(stop.school, "nas_node", None)
        needs = fresh.get(stop.pk, stop.needs)
        stop.needs_list = [(slug, n["held"], n["target"]) for slug, n in sorted(needs.items())]
    return stops


def _tour_context(request, tour: Tour, **extra) -> dict:
    ctx = {"tour": tour, "stops": _stops(tour), "can_manage": access.can_manage_contents(request.user),
           "bundle_on_disk": bool(tour.bundle_path) and Path(tour.bundle_path).is_dir(),
           "deliveries": Delivery.objects.filter(tour=tour.name, via=Delivery.Via.TOUR)
           .select_related("node__school", "release__collection")}
    ctx.update(extra)
    return ctx


@login_required
def tour_detail(request: HttpRequest, pk: int) -> HttpResponse:
    tour = _get_tour(request.user, pk)
    return render(request, "contents/tour.html", _tour_context(request, tour))


@login_required
def tour_sheet(request: HttpRequest, pk: int) -> HttpResponse:
    tour = _get_tour(request.user, pk)
    return render(request, "contents/tour_sheet.html", _tour_context(request, tour))


@login_required
@require_POST
def tour_build(request: HttpRequest, pk: int) -> HttpResponse:
    tour = _get_tour(request.user, pk)
    access.require_manage_contents(request.user)
    try:
        tours.check_can_build(tour)
        if not any(tours.fresh_needs(tour).values()):
            raise services.ContentsError(_("Les écoles de cette tournée n'ont besoin de rien : pas de disque à "
                                           "faire."))
    except services.ContentsError as exc:
        return render(request, "contents/tour.html", _tour_context(request, tour, error=str(exc)), status=400)
    job = jobs.enqueue("contents.tour_bundle", {
        "tour": tour.pk, "title": _("Disque de la tournée %(n)s") % {"n": tour.name},
        "result_template": "contents/tour_bundle_result.html",
    }, user=request.user)
    Tour.objects.filter(pk=tour.pk).update(job=job)
    return redirect("core:job", job_id=job.pk)


@login_required
def tour_download(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    tour = _get_tour(request.user, pk)
    access.require_manage_contents(request.user)
    if tour.state == Tour.State.PLANNED or not tour.bundle_path or not Path(tour.bundle_path).is_dir():
        raise Http404(_("Le disque de cette tournée n'est pas prêt."))
    response = StreamingHttpResponse(tours.stream_tar(tour), content_type="application/x-tar")
    response["Content-Disposition"] = f'attachment; filename="preau-tournee-{tour.pk}.tar"'
    return response


@login_required
@require_POST
def tour_receipts(request: HttpRequest, pk: int) -> HttpResponse:
    tour = _get_tour(request.user, pk)
    access.require_manage_contents(request.user)
    try:
        report = tours.ingest_uploads(request.user, tour, request.FILES.getlist("receipts"))
    except services.ContentsError as exc:
        return render(request, "contents/tour.html", _tour_context(request, tour, error=str(exc)), status=400)
    messages.success(request, tours.ingest_summary(report))
    return redirect("contents:tour", pk=tour.pk)


urlpatterns = [
    path("tournees/", tour_list, name="tours"),
    path("tournees/<int:pk>/", tour_detail, name="tour"),
    path("tournees/<int:pk>/feuille/", tour_sheet, name="tour-sheet"),
    path("tournees/<int:pk>/disque/", tour_build, name="tour-build"),
    path("tournees/<int:pk>/disque.tar", tour_download, name="tour-download"),
    path("tournees/<int:pk>/accuses/", tour_receipts, name="tour-receipts"),
]
