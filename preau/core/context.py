"""Template context shared by every page: the navigation the user may see."""

from django.urls import reverse
from django.utils.translation import gettext as _


def fleet_nav(user) -> list:
    from preau.accounts.models import Role
    from preau.fleet.access import can_manage_fleet

    manager = can_manage_fleet(user)
    items = []
    if user.role != Role.WORKSHOP:
        items.append((reverse("fleet:assets"), _("Parc")))
    if manager or user.role == Role.COMMITTEE:
        items.append((reverse("fleet:stock"), _("Stock")))
    if manager or user.role in (Role.COMMITTEE, Role.WORKSHOP):
        items.append((reverse("fleet:batches"), _("Lots")))
    if manager:
        items.append((reverse("fleet:intake"), _("Agents")))
    if manager or user.role in (Role.COMMITTEE, Role.DIRECTOR):
        items.append((reverse("fleet:audits"), _("Salles")))
    return items


def helpdesk_nav(user) -> list:
    from preau.accounts.models import Role
    from preau.helpdesk.access import SCHOOL_ROLES, party_q

    items = []
    if user.role in SCHOOL_ROLES:
        items += [(reverse("helpdesk:new"), _("Demander de l'aide")), (reverse("helpdesk:mine"), _("Mes demandes"))]
    elif party_q(user) is not None:
        items.append((reverse("helpdesk:queue"), _("Assistance")))
    if user.role != Role.WORKSHOP:
        items.append((reverse("helpdesk:kb"), _("Aide en ligne")))
    return items


def nav(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [
        (reverse("home"), _("Tableau de bord")),
        (reverse("territory:map"), _("Carte")),
        (reverse("territory:communes"), _("Communes")),
        (reverse("territory:schools"), _("Écoles")),
    ]
    items += fleet_nav(user)
    from preau.contents.access import can_see_nodes

    if can_see_nodes(user):  # the freshness of the contents on the NAS of the user's schools
        items.append((reverse("contents:freshness"), _("Contenus")))
    items += helpdesk_nav(user)
    if user.can_import:
        items.append((reverse("territory:imports"), _("Imports")))
    if user.is_admin:
        items.append((reverse("core:audit"), _("Journal")))
    return {"nav_items": items}
