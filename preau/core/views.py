from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from preau.accounts.access import require_admin

from . import jobs
from .models import AuditEntry, Job
from .pagination import paginate
from .stats import for_dashboard


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Dashboard: the counts of the user's scope, the share of schools with fibre, the fleet by status and the
    open help requests by status."""
    counts = for_dashboard(request.user)
    t = counts["territory"]
    total = t["schools"] or 1
    shares = [
        ("fibre", t["fibre"], _("Fibre")),
        ("other", t["other_access"], _("ADSL / 4G / satellite")),
        ("none", t["no_access"], _("Aucun accès")),
        ("unknown", t["connectivity_unknown"], _("Inconnu")),
    ]
    bar = [(cls, n, label, round(100 * n / total, 1)) for cls, n, label in shares]
    return render(request, "core/home.html", {"t": t, "bar": bar, "fleet": _fleet_summary(counts.get("fleet")),
                                              "helpdesk": _helpdesk_summary(request.user, counts.get("helpdesk"))})


def _fleet_summary(f: dict | None) -> dict | None:
    """The devices of the user's scope by status (a bar and its table) and by category."""
    if not f or not f["assets"]:
        return None
    from preau.fleet.lifecycle import Status
    from preau.fleet.models import Category

    total = f["assets"]
    statuses = [(value, f["by_status"].get(value, 0), label) for value, label in Status.choices]
    return {
        "total": total,
        "bar": [(value, n, label, round(100 * n / total, 1)) for value, n, label in statuses if n],
        "categories": [(label, f["by_category"][value]) for value, label in Category.choices
                       if f["by_category"].get(value)],
    }


def _helpdesk_summary(user, h: dict | None) -> dict | None:
    """The open help requests of the user's scope by status (a bar and its table), and where to see them."""
    if not h or not (h["open"] or h["created_30d"]):
        return None
    from django.urls import reverse

    from preau.helpdesk import access
    from preau.helpdesk.lifecycle import label
    from preau.helpdesk.views_figures import can_see_figures

    total = h["open"] or 1
    statuses = [(s, n, label(s)) for s, n in h["open_by_status"].items()]
    if access.party_q(user) is not None:
        link = (reverse("helpdesk:queue"), _("Voir la file de demandes"))
    elif user.role in access.SCHOOL_ROLES and user.school_id:
        link = (reverse("helpdesk:school", args=[user.school.uai]), _("Voir les demandes de l'école"))
    else:
        link = (reverse("helpdesk:mine"), _("Voir mes demandes"))
    return {
        **h,
        "bar": [(s, n, lab, round(100 * n / total, 1)) for s, n, lab in statuses if n],
        "link": link,
        "figures_url": reverse("helpdesk:figures") if can_see_figures(user) else "",
    }


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    require_admin(request.user)
    qs = AuditEntry.objects.select_related("user")
    if request.GET.get("type"):
        qs = qs.filter(object_type=request.GET["type"])
    if request.GET.get("id"):
        qs = qs.filter(object_id=request.GET["id"])
    return render(request, "core/audit.html", {"page": paginate(request, qs)})


def _job_for(request, job_id: int) -> Job:
    job = get_object_or_404(Job, pk=job_id)
    if not (request.user.is_admin or job.created_by_id == request.user.pk):
        raise PermissionDenied(_("Cette tâche ne vous appartient pas."))
    return job


@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """A job's progress bar; htmx polls the same URL for the fragment until the job ends."""
    job = _job_for(request, job_id)
    done, total, message = jobs.live_progress(job)
    percent = 100 if job.status == Job.Status.DONE else (int(100 * done / total) if total else 0)
    ctx = {"job": job, "done": done, "total": total, "message": message, "percent": percent}
    if request.htmx:
        return render(request, "core/_job_progress.html", ctx)
    return render(request, "core/job.html", ctx)


@login_required
@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_for(request, job_id)
    jobs.cancel(job)
    return redirect("core:job", job_id=job.pk)
