"""The only functions that fetch contents objects for a user, within the user's scope (as preau.accounts.access).

- Admins and technicians manage contents: collections, publishing, withdrawing, subscriptions, enrolling and
  revoking NAS (the same rule as the fleet team, preau.fleet.access.can_manage_fleet).
- Committees read everything (collections, releases, every NAS).
- Commune staff, advisors, directors and teachers see the NAS and the versions of the schools they see.
- Others (partner workshops…) get a 403.
Out of scope is a 404; in scope without the right to act is a 403.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from preau.accounts import access
from preau.accounts.models import Role
from preau.fleet.access import can_manage_fleet

from .models import Collection, NasNode

SCHOOL_SCOPED = {Role.COMMUNE, Role.ADVISOR, Role.DIRECTOR, Role.TEACHER}


def can_manage_contents(user) -> bool:
    return can_manage_fleet(user)


def require_manage_contents(user) -> None:
    if not can_manage_contents(user):
        raise PermissionDenied(_("Réservé à l'équipe numérique (agglomération, techniciens)."))


def can_read_collections(user) -> bool:
    return user.is_authenticated and user.sees_whole_territory


def require_read_collections(user) -> None:
    if not can_read_collections(user):
        raise PermissionDenied(_("Les collections sont réservées à l'agglomération et aux comités."))


def can_see_nodes(user) -> bool:
    return user.is_authenticated and (user.sees_whole_territory or user.role in SCHOOL_SCOPED)


def require_see_nodes(user) -> None:
    if not can_see_nodes(user):
        raise PermissionDenied(_("Vous ne voyez pas les NAS des écoles."))


def collections_for(user) -> QuerySet[Collection]:
    return Collection.objects.all() if can_read_collections(user) else Collection.objects.none()


def get_collection(user, slug: str) -> Collection:
    require_read_collections(user)
    return get_object_or_404(Collection, slug=slug)


def nodes_for(user) -> QuerySet[NasNode]:
    qs = NasNode.objects.all()
    if not can_see_nodes(user):
        return qs.none()
    if user.sees_whole_territory:
        return qs
    return qs.filter(school__in=access.schools_for(user))


def get_node_school(user, uai: str):
    """The school (in scope, else 404) and its NAS node (None when it has none yet)."""
    require_see_nodes(user)
    school = access.get_school(user, uai)
    return school, NasNode.objects.filter(school=school).first()
