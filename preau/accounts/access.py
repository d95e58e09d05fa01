"""The only functions that fetch territory objects for a user, within the user's scope.

Views, API and exports call these; nothing else filters by role. A user out of
scope gets a 404 (we do not reveal that a school exists), a user in scope
without the right to act gets a 403 (PermissionDenied).
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from preau.territory.models import Commune, School, SchoolClass

from .models import Role


def schools_for(user) -> QuerySet[School]:
    qs = School.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if user.sees_whole_territory:
        return qs
    if user.role == Role.COMMUNE:
        return qs.filter(commune__in=user.communes.all())
    if user.role == Role.ADVISOR:
        return qs.filter(circonscription__in=user.circonscriptions.all())
    if user.role in (Role.DIRECTOR, Role.TEACHER) and user.school_id:
        return qs.filter(pk=user.school_id)
    return qs.none()


def communes_for(user) -> QuerySet[Commune]:
    qs = Commune.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if user.sees_whole_territory:
        return qs
    if user.role == Role.COMMUNE:
        return qs.filter(pk__in=user.communes.values("pk"))
    return qs.filter(pk__in=schools_for(user).values("commune_id"))


def classes_for(user) -> QuerySet[SchoolClass]:
    return SchoolClass.objects.filter(school__in=schools_for(user))


def visible_schools_q(user, path: str = "schools") -> Q:
    """A filter on a relation to schools (e.g. a commune's `schools`) keeping only those in the user's scope,
    so per-commune counts never include schools the user may not see."""
    if user.sees_whole_territory:
        return Q()
    return Q(**{f"{path}__in": schools_for(user)})


def get_school(user, uai: str) -> School:
    return get_object_or_404(schools_for(user).select_related("commune", "circonscription"), uai=uai.upper())


def get_commune(user, insee: str) -> Commune:
    return get_object_or_404(communes_for(user).select_related("epci"), insee=insee.upper())


def can_edit_school(user, school: School) -> bool:
    """Admins everywhere; commune staff for the schools of their communes (buildings, connectivity)."""
    if user.is_admin:
        return True
    if user.role == Role.COMMUNE:
        return user.communes.filter(pk=school.commune_id).exists()
    return False


def require_edit_school(user, school: School) -> None:
    if not can_edit_school(user, school):
        raise PermissionDenied(_("Vous ne pouvez pas modifier cette école."))


def require_admin(user) -> None:
    if not user.is_authenticated or not user.is_admin:
        raise PermissionDenied(_("Réservé à l'équipe numérique de l'agglomération."))
