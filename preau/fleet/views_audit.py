"""Room-by-room audit pages (see preau.fleet.room_audit): start, scan/tick on a phone, differences, finish.

Who: the fleet team anywhere, a school's director in that school. Others in scope get a 403,
out of scope a 404. Audits are listed for the same people (and committees, read-only).
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _

from preau.accounts import access as territory_access
from preau.accounts.models import Role

from . import access, room_audit
from .models import RoomAudit


def can_audit(user, school) -> bool:
    if access.can_manage_fleet(user):
        return True
    return user.role == Role.DIRECTOR and user.school_id == school.pk


def audits_for(user):
    qs = RoomAudit.objects.select_related("school", "school_class", "user")
    if access.can_manage_fleet(user) or user.role == Role.COMMITTEE:
        return qs
    if user.role == Role.DIRECTOR and user.school_id:
        return qs.filter(school_id=user.school_id)
    return qs.none()


def _require_audit_role(user) -> None:
    if not (access.can_manage_fleet(user) or user.role in (Role.COMMITTEE, Role.DIRECTOR)):
        raise PermissionDenied(_("Inventaires de salle : réservés à l'équipe du parc et aux directeurs d'école."))


@login_required
def audit_list(request: HttpRequest) -> HttpResponse:
    _require_audit_role(request.user)
    uai = request.GET.get("school", "").strip()
    if not uai and request.user.role == Role.DIRECTOR and request.user.school_id:
        uai = request.user.school.uai
    school = territory_access.get_school(request.user, uai) if uai else None
    classes = school.classes.order_by("-year", "name") if school else []
    return render(request, "fleet/audits/list.html", {
        "audits": audits_for(request.user)[:50], "school": school, "classes": classes,
        "can_start": school is not None and can_audit(request.user, school),
    })


@login_required
def audit_start(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("fleet:audits")
    school = territory_access.get_school(request.user, request.POST.get("school", ""))
    if not can_audit(request.user, school):
        raise PermissionDenied(_("Vous ne pouvez pas inventorier les salles de cette école."))
    klass = None
    if request.POST.get("school_class"):
        klass = get_object_or_404(school.classes, pk=request.POST["school_class"])
    audit = room_audit.start(request.user, school, klass)
    return redirect("fleet:audit", pk=audit.pk)


@login_required
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    audit = get_object_or_404(RoomAudit.objects.select_related("school", "school_class"),
                              pk=pk, school__in=territory_access.schools_for(request.user))
    if not audits_for(request.user).filter(pk=audit.pk).exists():
        raise PermissionDenied(_("Inventaires de salle : réservés à l'équipe du parc et aux directeurs d'école."))
    error, status = "", 200
    if request.method == "POST":
        if not can_audit(request.user, audit.school):
            raise PermissionDenied(_("Vous ne pouvez pas inventorier les salles de cette école."))
        try:
            if "finish" in request.POST:
                room_audit.finish(request.user, audit)
            elif "unsee" in request.POST:
                room_audit.mark_seen(audit, request.POST["unsee"], seen=False)
            else:
                room_audit.mark_seen(audit, request.POST.get("tag", ""))
        except ValueError as exc:
            error, status = str(exc), 400
        audit.refresh_from_db()
        if not request.htmx and not error:
            return redirect("fleet:audit", pk=audit.pk)
    context = {"audit": audit, "diff": room_audit.differences(audit), "error": error,
               "can_edit": can_audit(request.user, audit.school) and not audit.finished_at}
    template = "fleet/audits/_differences.html" if request.htmx else "fleet/audits/detail.html"
    return render(request, template, context, status=status)


urlpatterns = [
    path("inventaires-salle/", audit_list, name="audits"),
    path("inventaires-salle/nouveau/", audit_start, name="audit-new"),
    path("inventaires-salle/<int:pk>/", audit_detail, name="audit"),
]
