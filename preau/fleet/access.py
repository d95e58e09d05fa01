"""The only functions that fetch fleet objects for a user, within the user's scope (as preau.accounts.access).

- The agglomeration (admin, technician) and committees see every asset; admins and
  technicians manage them (status, moves, replacements, batches, imports).
- Commune staff, advisors, directors and teachers see the assets of the schools they see.
- A partner workshop sees the batches of its sites (Site.members) and the assets in them.
Out of scope is a 404; in scope without the right to act is a 403.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from preau.accounts import access
from preau.accounts.models import Role

from .models import Asset, RequalificationBatch, Site


def can_manage_fleet(user) -> bool:
    return user.is_authenticated and (user.is_admin or user.role == Role.TECHNICIAN)


def require_manage_fleet(user) -> None:
    if not can_manage_fleet(user):
        raise PermissionDenied(_("Réservé à l'équipe du parc (agglomération, techniciens)."))


def workshop_sites(user) -> QuerySet[Site]:
    return Site.objects.filter(kind=Site.Kind.WORKSHOP, members=user)


def assets_for(user) -> QuerySet[Asset]:
    qs = Asset.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if user.sees_whole_territory:
        return qs
    if user.role == Role.WORKSHOP:
        sites = workshop_sites(user)
        return qs.filter(Q(site__in=sites) | Q(batch_items__batch__workshop__in=sites)).distinct()
    return qs.filter(school__in=access.schools_for(user))


def get_asset(user, tag: str) -> Asset:
    return get_object_or_404(
        assets_for(user).select_related("model", "school__commune", "school_class", "site", "slot"), tag=tag)


def batches_for(user) -> QuerySet[RequalificationBatch]:
    qs = RequalificationBatch.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if user.sees_whole_territory:
        return qs
    if user.role == Role.WORKSHOP:
        return qs.filter(workshop__in=workshop_sites(user))
    return qs.none()


def get_batch(user, reference: str) -> RequalificationBatch:
    return get_object_or_404(batches_for(user).select_related("workshop", "created_by"), reference=reference)


def can_work_batch(user, batch: RequalificationBatch) -> bool:
    """Intake, eligibility, erasure, conversion, rejection: the fleet team or the batch's own workshop."""
    if can_manage_fleet(user):
        return True
    return user.role == Role.WORKSHOP and batch.workshop.members.filter(pk=user.pk).exists()


def require_work_batch(user, batch: RequalificationBatch) -> None:
    if not can_work_batch(user, batch):
        raise PermissionDenied(_("Seuls l'équipe du parc et l'atelier du lot peuvent agir sur ce lot."))
