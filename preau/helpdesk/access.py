"""The only functions that fetch help requests for a user, and say what the user may do with them.

- Reading: the agglomeration (admin, technician) and committees see every request; commune staff the
  requests of their communes' schools and those routed to their commune; advisors those of their
  circonscriptions' schools; directors and teachers those of their school; a workshop those routed to it.
- Working (status, assignment, internal notes, reassignment): the agglomeration always; a commune, a
  circonscription or a workshop on the requests routed to it.
- Internal notes are never shown to schools or committees; a commune never sees the internal notes of
  a pedagogy request.
Out of scope is a 404; in scope without the right to act is a 403.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from preau.accounts import access
from preau.accounts.models import Role
from preau.territory.models import School

from .models import Domain, Party, Ticket

SCHOOL_ROLES = (Role.DIRECTOR, Role.TEACHER)


def is_agglomeration(user) -> bool:
    return user.is_authenticated and (user.is_admin or user.role == Role.TECHNICIAN)


def party_q(user) -> Q | None:
    """The requests routed to the user's party (None: the user is no party)."""
    if not user.is_authenticated:
        return None
    if is_agglomeration(user):
        return Q(party=Party.AGGLOMERATION)
    if user.role == Role.COMMUNE:
        return Q(party=Party.COMMUNE, party_commune__in=user.communes.all())
    if user.role == Role.ADVISOR:
        return Q(party=Party.CIRCONSCRIPTION, party_circonscription__in=user.circonscriptions.all())
    if user.role == Role.WORKSHOP:
        return Q(party=Party.WORKSHOP, party_workshop__in=user.sites.all())
    return None


def tickets_for(user) -> QuerySet[Ticket]:
    qs = Ticket.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if user.sees_whole_territory:
        return qs
    if user.role == Role.WORKSHOP:
        return qs.filter(party_q(user))
    if user.role in SCHOOL_ROLES:
        return qs.filter(school_id=user.school_id) if user.school_id else qs.none()
    if user.role == Role.COMMUNE:
        return tickets_of_communes(user.communes.all())
    if user.role == Role.ADVISOR:
        return tickets_of_circonscriptions(user.circonscriptions.all())
    return qs.filter(school__in=access.schools_for(user))


def tickets_of_communes(communes) -> QuerySet[Ticket]:
    """What the staff of these communes (a queryset or ids) read: their schools' requests and those routed to them."""
    return Ticket.objects.filter(Q(school__in=School.objects.filter(commune__in=communes))
                                 | Q(party=Party.COMMUNE, party_commune__in=communes))


def tickets_of_circonscriptions(circonscriptions) -> QuerySet[Ticket]:
    """What the advisors of these circonscriptions read: their schools' requests and those routed to them."""
    return Ticket.objects.filter(Q(school__in=School.objects.filter(circonscription__in=circonscriptions))
                                 | Q(party=Party.CIRCONSCRIPTION, party_circonscription__in=circonscriptions))


def queue_for(user) -> QuerySet[Ticket]:
    """The requests the user's party must answer."""
    q = party_q(user)
    return Ticket.objects.filter(q) if q is not None else Ticket.objects.none()


def get_ticket(user, pk: int) -> Ticket:
    return get_object_or_404(
        tickets_for(user).select_related("school__commune", "school_class", "category", "device__model",
                                         "requester", "assignee", "party_commune", "party_circonscription",
                                         "party_workshop", "merged_into", "replacement"), pk=pk)


def can_file(user, school) -> bool:
    """Directors and teachers for their school; the agglomeration on behalf of any school."""
    if not user.is_authenticated:
        return False
    if user.role in SCHOOL_ROLES:
        return user.school_id == school.pk
    return is_agglomeration(user)


def require_file(user, school) -> None:
    if not can_file(user, school):
        raise PermissionDenied(_("Vous ne pouvez pas faire de demande pour cette école."))


def can_work(user, ticket: Ticket) -> bool:
    if is_agglomeration(user):
        return True
    if not user.is_authenticated:
        return False
    if user.role == Role.COMMUNE:
        return ticket.party == Party.COMMUNE and user.communes.filter(pk=ticket.party_commune_id).exists()
    if user.role == Role.ADVISOR:
        return (ticket.party == Party.CIRCONSCRIPTION
                and user.circonscriptions.filter(pk=ticket.party_circonscription_id).exists())
    if user.role == Role.WORKSHOP:
        return ticket.party == Party.WORKSHOP and user.sites.filter(pk=ticket.party_workshop_id).exists()
    return False


def require_work(user, ticket: Ticket) -> None:
    if not can_work(user, ticket):
        raise PermissionDenied(_("Cette demande est traitée par un autre responsable."))


def is_requester_side(user, ticket: Ticket) -> bool:
    """The requester or the staff of the requesting school."""
    return user.is_authenticated and (ticket.requester_id == user.pk
                                      or (user.role in SCHOOL_ROLES and user.school_id == ticket.school_id))


def can_comment(user, ticket: Ticket) -> bool:
    return is_requester_side(user, ticket) or can_work(user, ticket)


def require_comment(user, ticket: Ticket) -> None:
    if not can_comment(user, ticket):
        raise PermissionDenied(_("Vous ne pouvez pas écrire sur cette demande."))


def can_see_internal(user, ticket: Ticket) -> bool:
    if not user.is_authenticated or user.role in SCHOOL_ROLES or user.role == Role.COMMITTEE:
        return False
    if is_agglomeration(user):
        return True
    if user.role == Role.COMMUNE:
        return ticket.category.domain != Domain.PEDAGOGY and user.communes.filter(
            pk=ticket.school.commune_id).exists()
    if user.role == Role.ADVISOR:
        return True  # in scope (tickets_for) means one of the advisor's circonscriptions
    return can_work(user, ticket)


def comments_for(user, ticket: Ticket):
    qs = ticket.comments.select_related("author").prefetch_related("attachments")
    return qs if can_see_internal(user, ticket) else qs.filter(internal=False)


def can_close(user, ticket: Ticket) -> bool:
    """The requester's side confirms a resolution (or closes its own request); workers may close too."""
    return is_requester_side(user, ticket) or can_work(user, ticket)
