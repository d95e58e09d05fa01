"""Who answers a request: the first matching `RoutingRule`, else the category's party; then the party is
made concrete (which commune, which circonscription, which workshop) from the school and the device."""

from django.db.models import Q
from django.utils.translation import gettext as _

from .models import Category, Party, RoutingRule


def _condition_holds(condition: str, device) -> bool:
    C = RoutingRule.Condition
    if condition == C.ANY:
        return True
    if device is None:
        return False
    if condition == C.DEVICE_AT_WORKSHOP:
        return device.site_id is not None and device.site.kind == "workshop"
    if condition == C.DEVICE_REQUALIFIED:
        return device.origin == "requalified"
    return False


def party_for(category: Category, device=None) -> str:
    rules = RoutingRule.objects.filter(active=True).filter(
        Q(category=category) | Q(category__isnull=True, domain__in=["", category.domain])).order_by("position", "pk")
    for rule in rules:
        if _condition_holds(rule.condition, device):
            return rule.party
    return category.party


def workshop_of(device):
    """The partner workshop that knows a device: the one holding it, else the one of its last batch."""
    if device is None:
        return None
    if device.site_id is not None and device.site.kind == "workshop":
        return device.site
    item = device.batch_items.select_related("batch__workshop").order_by("-batch__created_at", "-pk").first()
    return item.batch.workshop if item else None


def resolve(party: str, school, device=None, workshop=None) -> dict:
    """The concrete party fields of a ticket. A party that cannot be made concrete (a school without
    circonscription, a device no workshop knows) falls back to the agglomeration, with the reason."""
    fields = {"party": party, "party_commune": None, "party_circonscription": None, "party_workshop": None}
    if party == Party.COMMUNE:
        fields["party_commune"] = school.commune
    elif party == Party.CIRCONSCRIPTION:
        if school.circonscription_id is None:
            return {**fields, "party": Party.AGGLOMERATION,
                    "fallback": _("L'école n'a pas de circonscription connue : demande confiée à l'agglomération.")}
        fields["party_circonscription"] = school.circonscription
    elif party == Party.WORKSHOP:
        site = workshop or workshop_of(device)
        if site is None:
            return {**fields, "party": Party.AGGLOMERATION,
                    "fallback": _("Aucun atelier ne connaît cet appareil : demande confiée à l'agglomération.")}
        fields["party_workshop"] = site
    return fields


def route(category: Category, school, device=None) -> dict:
    return resolve(party_for(category, device), school, device)


def party_label(ticket) -> str:
    if ticket.party == Party.COMMUNE and ticket.party_commune_id:
        return _("Commune : %(n)s") % {"n": ticket.party_commune.name}
    if ticket.party == Party.CIRCONSCRIPTION and ticket.party_circonscription_id:
        return _("Circonscription : %(n)s") % {"n": ticket.party_circonscription.name}
    if ticket.party == Party.WORKSHOP and ticket.party_workshop_id:
        return _("Atelier : %(n)s") % {"n": ticket.party_workshop.name}
    return str(Party(ticket.party).label)
