"""Every write on help requests: validation, transaction, history event, audit entry, notifications.

Views, the API, commands and the demo call these `do_*` functions; nothing else writes tickets.
"""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from preau.core import audit
from preau.core.models import AuditEntry

from . import lifecycle, notify, routing
from .access import can_close, can_work, is_requester_side, require_comment, require_file, require_work
from .calendar import WorkCalendar
from .lifecycle import Status
from .models import (
    Article,
    ArticleVote,
    Comment,
    DeadlinePolicy,
    Party,
    Priority,
    Ticket,
    TicketEvent,
    TicketLink,
)

DEFAULT_DEADLINES = {  # working hours: (take charge, resolve)
    Priority.URGENT: (2, 8), Priority.HIGH: (4, 16), Priority.NORMAL: (8, 40), Priority.LOW: (16, 80)}
MAX_DESCRIPTION = 10_000
MAX_COMMENT = 10_000


class HelpdeskError(ValueError):
    """A refused action; str() is a French sentence for the user."""


def _locked(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update(of=("self",)).select_related(
        "school__commune", "category", "device__site").get(pk=ticket.pk)


def _event(ticket, user, kind, *, at=None, note="", **details) -> TicketEvent:
    from_status, to_status = details.pop("from_status", ""), details.pop("to_status", "")
    return TicketEvent.objects.create(ticket=ticket, at=at or timezone.now(),
                                      user=user if user and user.is_authenticated else None, kind=kind,
                                      from_status=from_status, to_status=to_status, details=details,
                                      note=(note or "")[:500])


def _audit(user, ticket, before, note=""):
    audit.record(user if user and user.is_authenticated else None,
                 AuditEntry.Action.CREATE if before is None else AuditEntry.Action.UPDATE, ticket, before,
                 audit.snapshot(ticket, ["status", "party", "party_commune", "party_circonscription",
                                         "party_workshop", "assignee", "priority", "merged_into", "replacement"]),
                 note=note)


# --------------------------------------------------------------------------- deadlines

def deadlines_for(category, priority: str) -> tuple[Decimal, Decimal]:
    """The category's own policy for this priority, else the general one, else the built-in default."""
    policies = {p.category_id: p for p in DeadlinePolicy.objects.filter(priority=priority).filter(
        Q(category=category) | Q(category__isnull=True))}
    policy = policies.get(category.pk) or policies.get(None)
    if policy is not None:
        return policy.take_charge_hours, policy.resolve_hours
    take, resolve = DEFAULT_DEADLINES[priority]
    return Decimal(take), Decimal(resolve)


def set_deadlines(ticket: Ticket, calendar: WorkCalendar | None = None) -> None:
    calendar = calendar or WorkCalendar.load()
    take, resolve = deadlines_for(ticket.category, ticket.priority)
    ticket.take_charge_due = calendar.add(ticket.created_at, take)
    ticket.resolve_due = calendar.add(ticket.created_at, resolve)


# --------------------------------------------------------------------------- filing

def _title(category, device, school_class) -> str:
    parts = [category.label]
    if device is not None:
        parts.append(device.tag)
    if school_class is not None:
        parts.append(school_class.name)
    return " — ".join(parts)[:200]


@transaction.atomic
def do_create_ticket(user, *, school, category, description: str = "", school_class=None, device=None,
                     priority: str | None = None, title: str = "", now=None, calendar=None,
                     notify_party: bool = True) -> Ticket:
    require_file(user, school)
    if not category.active:
        raise HelpdeskError(_("Cette catégorie n'est plus proposée."))
    if school_class is not None and school_class.school_id != school.pk:
        raise HelpdeskError(_("La classe choisie n'est pas dans cette école."))
    if device is not None and device.school_id != school.pk:
        raise HelpdeskError(_("L'appareil %(tag)s n'est pas enregistré dans cette école.") % {"tag": device.tag})
    if len(description) > MAX_DESCRIPTION:
        raise HelpdeskError(_("La description est trop longue (%(n)s caractères au plus).") % {"n": MAX_DESCRIPTION})
    priority = priority or category.default_priority
    if priority not in Priority.values:
        raise HelpdeskError(_("Priorité inconnue : « %(p)s ».") % {"p": priority})
    now = now or timezone.now()
    route = routing.route(category, school, device)
    fallback = route.pop("fallback", "")
    ticket = Ticket(school=school, school_class=school_class, category=category, priority=priority,
                    title=(title or _title(category, device, school_class))[:200], description=description,
                    device=device, requester=user, created_at=now, updated_at=now, **route)
    set_deadlines(ticket, calendar)
    ticket.save()
    _event(ticket, user, TicketEvent.Kind.CREATED, at=now, note=fallback, party=routing.party_label(ticket))
    _audit(user, ticket, None, note=_("Demande d'assistance créée"))
    if notify_party:
        transaction.on_commit(lambda: notify.new_ticket(ticket.pk))
    return ticket


# --------------------------------------------------------------------------- work on requests

def _apply_status(user, ticket: Ticket, target: str, now, calendar=None) -> str:
    lifecycle.check(ticket.status, target)
    previous = ticket.status
    if previous in lifecycle.PAUSED and target not in lifecycle.PAUSED and ticket.paused_at and ticket.resolve_due:
        calendar = calendar or WorkCalendar.load()
        ticket.resolve_due = calendar.add(ticket.resolve_due, calendar.between(ticket.paused_at, now))
        ticket.paused_at = None
    if target in lifecycle.PAUSED:
        ticket.paused_at = now
    if target in lifecycle.TAKEN and ticket.taken_at is None:
        ticket.taken_at = now
        ticket.take_charge_breached = bool(ticket.take_charge_due and now > ticket.take_charge_due)
        calendar = calendar or WorkCalendar.load()
        ticket.take_charge_hours = round(calendar.between(ticket.created_at, now), 2)
    if target == Status.RESOLVED or (target == Status.CLOSED and ticket.resolved_at is None):
        calendar = calendar or WorkCalendar.load()
        ticket.resolve_hours = round(calendar.between(ticket.created_at, now), 2)
    if target == Status.RESOLVED:
        ticket.resolved_at = now
        ticket.resolve_breached = ticket.resolve_breached or bool(ticket.resolve_due and now > ticket.resolve_due)
    elif target == Status.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    elif target == Status.REOPENED:
        ticket.reopen_count += 1
        ticket.resolved_at = ticket.closed_at = None
        ticket.resolve_hours = None
    ticket.status = target
    ticket.updated_at = now
    return previous


@transaction.atomic
def do_change_status(user, ticket: Ticket, target: str, *, note: str = "", now=None, calendar=None) -> Ticket:
    ticket = _locked(ticket)
    if target in (Status.CLOSED, Status.REOPENED):
        if not can_close(user, ticket):
            raise HelpdeskError(_("Seuls l'école ou le responsable de la demande peuvent la clore ou la rouvrir."))
    else:
        require_work(user, ticket)
    now = now or timezone.now()
    before = audit.snapshot(ticket)
    try:
        previous = _apply_status(user, ticket, target, now, calendar)
    except lifecycle.TransitionRefused as e:
        raise HelpdeskError(str(e)) from None
    ticket.save()
    _event(ticket, user, TicketEvent.Kind.STATUS, at=now, note=note, from_status=previous, to_status=target)
    if note:
        Comment.objects.create(ticket=ticket, author=user, body=note, internal=False, created_at=now)
    _audit(user, ticket, before)
    transaction.on_commit(lambda: notify.ticket_changed(ticket.pk, user.pk if user else None,
                                                        _("Statut : %(s)s") % {"s": lifecycle.label(target)}))
    return ticket


@transaction.atomic
def do_assign(user, ticket: Ticket, assignee, *, now=None) -> Ticket:
    ticket = _locked(ticket)
    require_work(user, ticket)
    if assignee is not None and not can_work(assignee, ticket):
        raise HelpdeskError(_("%(u)s ne fait pas partie du responsable de cette demande.") % {"u": assignee})
    now = now or timezone.now()
    before = audit.snapshot(ticket)
    ticket.assignee = assignee
    previous = ticket.status
    if assignee is not None and ticket.status in (Status.NEW, Status.REOPENED):
        _apply_status(user, ticket, Status.ASSIGNED, now)
    ticket.updated_at = now
    ticket.save()
    _event(ticket, user, TicketEvent.Kind.ASSIGNED, at=now, from_status=previous, to_status=ticket.status,
           assignee=str(assignee or ""))
    _audit(user, ticket, before)
    return ticket


@transaction.atomic
def do_reassign(user, ticket: Ticket, party: str, *, note: str, commune=None, circonscription=None,
                workshop=None, now=None) -> Ticket:
    """Send a request to another party (with the reason). The history keeps every hop."""
    ticket = _locked(ticket)
    require_work(user, ticket)
    if party not in Party.values:
        raise HelpdeskError(_("Responsable inconnu : « %(p)s ».") % {"p": party})
    if not note.strip():
        raise HelpdeskError(_("Dites pourquoi la demande change de responsable."))
    fields = routing.resolve(party, ticket.school, ticket.device, workshop=workshop)
    if fields.pop("fallback", "") and party != Party.AGGLOMERATION:
        raise HelpdeskError(_("Impossible de confier la demande à ce responsable : aucun %(p)s ne correspond.")
                            % {"p": Party(party).label})
    if commune is not None and party == Party.COMMUNE:
        fields["party_commune"] = commune
    if circonscription is not None and party == Party.CIRCONSCRIPTION:
        fields["party_circonscription"] = circonscription
    now = now or timezone.now()
    before = audit.snapshot(ticket)
    old = routing.party_label(ticket)
    for key, value in fields.items():
        setattr(ticket, key, value)
    ticket.assignee = None
    previous = ticket.status
    if ticket.status in (Status.ASSIGNED, Status.IN_PROGRESS):
        ticket.status = Status.NEW
    ticket.updated_at = now
    ticket.save()
    _event(ticket, user, TicketEvent.Kind.REASSIGNED, at=now, note=note, from_status=previous,
           to_status=ticket.status, old_party=old, new_party=routing.party_label(ticket))
    _audit(user, ticket, before, note=note)
    transaction.on_commit(lambda: notify.new_ticket(ticket.pk))
    return ticket


@transaction.atomic
def do_comment(user, ticket: Ticket, body: str, *, internal: bool = False, via_link: bool = False,
               now=None) -> Comment:
    body = (body or "").strip()
    if not body:
        raise HelpdeskError(_("Le message est vide."))
    if len(body) > MAX_COMMENT:
        raise HelpdeskError(_("Le message est trop long (%(n)s caractères au plus).") % {"n": MAX_COMMENT})
    if not via_link:
        require_comment(user, ticket)
    if internal and not can_work(user, ticket):
        raise HelpdeskError(_("Seul le responsable de la demande peut écrire une note interne."))
    now = now or timezone.now()
    ticket = _locked(ticket)
    comment = Comment.objects.create(ticket=ticket, author=user, body=body, internal=internal,
                                     via_link=via_link, created_at=now)
    changes = ["updated_at"]
    ticket.updated_at = now
    # The school answered: the clock runs again.
    if ticket.status == Status.WAITING_SCHOOL and is_requester_side(user, ticket) and not internal:
        previous = _apply_status(user, ticket, Status.IN_PROGRESS, now)
        _event(ticket, user, TicketEvent.Kind.STATUS, at=now, from_status=previous, to_status=ticket.status,
               note=_("réponse de l'école"))
        changes += ["status", "paused_at", "resolve_due", "taken_at", "take_charge_breached", "take_charge_hours"]
    ticket.save(update_fields=changes)
    if not internal:
        transaction.on_commit(lambda: notify.ticket_changed(ticket.pk, user.pk if user else None,
                                                            _("Nouveau message"), comment_id=comment.pk))
    return comment


@transaction.atomic
def do_merge(user, duplicate: Ticket, into: Ticket, *, now=None) -> Ticket:
    """Close a duplicate into the request that stays; its requester follows the one that stays."""
    if duplicate.pk == into.pk:
        raise HelpdeskError(_("Une demande ne peut pas être fusionnée avec elle-même."))
    duplicate, into = _locked(duplicate), _locked(into)
    require_work(user, duplicate)
    require_work(user, into)
    if into.merged_into_id:
        raise HelpdeskError(_("La demande %(r)s est elle-même fusionnée.") % {"r": into.reference})
    if duplicate.school_id != into.school_id:
        raise HelpdeskError(_("On ne fusionne que des demandes de la même école."))
    if duplicate.status == Status.CLOSED:
        raise HelpdeskError(_("La demande %(r)s est déjà close.") % {"r": duplicate.reference})
    now = now or timezone.now()
    before = audit.snapshot(duplicate)
    duplicate.merged_into = into
    previous = duplicate.status
    duplicate.status, duplicate.closed_at, duplicate.updated_at = Status.CLOSED, now, now
    duplicate.resolved_at = duplicate.resolved_at or now
    duplicate.save()
    _event(duplicate, user, TicketEvent.Kind.MERGED, at=now, from_status=previous, to_status=Status.CLOSED,
           into=into.pk)
    _event(into, user, TicketEvent.Kind.LINKED, at=now, duplicate=duplicate.pk,
           note=_("doublon %(r)s fusionné") % {"r": duplicate.reference})
    TicketLink.objects.create(ticket=into, kind=TicketLink.Kind.TICKET, other=duplicate, created_by=user,
                              created_at=now, note=_("doublon fusionné"))
    _audit(user, duplicate, before, note=_("fusionnée dans %(r)s") % {"r": into.reference})
    return into


@transaction.atomic
def do_link(user, ticket: Ticket, kind: str, *, other: Ticket | None = None, asset=None, visit_on=None,
            note: str = "", now=None) -> TicketLink:
    require_work(user, ticket)
    if kind == TicketLink.Kind.TICKET and (other is None or other.pk == ticket.pk):
        raise HelpdeskError(_("Choisissez une autre demande."))
    if kind == TicketLink.Kind.DEVICE and asset is None:
        raise HelpdeskError(_("Choisissez un appareil."))
    if kind == TicketLink.Kind.VISIT and visit_on is None:
        raise HelpdeskError(_("Donnez la date de l'intervention."))
    now = now or timezone.now()
    link = TicketLink.objects.create(ticket=ticket, kind=kind, other=other, asset=asset, visit_on=visit_on,
                                     note=note[:300], created_by=user, created_at=now)
    _event(ticket, user, TicketEvent.Kind.LINKED, at=now, note=note, link=kind,
           target=(other.reference if other else asset.tag if asset else str(visit_on)))
    return link


@transaction.atomic
def do_replace_device(user, ticket: Ticket, replacement, *, next_status: str | None = None, now=None) -> Ticket:
    """The fleet's replace flow, from a request: the replacement takes the failed device's place, both
    device histories name the request, and the request records the replacement."""
    from preau.fleet import services as fleet_services
    from preau.fleet.access import require_manage_fleet

    ticket = _locked(ticket)
    require_work(user, ticket)
    require_manage_fleet(user)
    if ticket.device is None:
        raise HelpdeskError(_("Cette demande ne désigne aucun appareil à remplacer."))
    try:
        failed, replacement = fleet_services.do_replace(user, ticket.device, replacement, next_status=next_status,
                                                        reason=ticket.title, ticket=ticket.reference)
    except ValueError as e:
        raise HelpdeskError(str(e)) from None
    now = now or timezone.now()
    before = audit.snapshot(ticket)
    ticket.replacement = replacement
    previous = ticket.status
    if ticket.status not in lifecycle.DONE and ticket.status != Status.IN_PROGRESS:
        _apply_status(user, ticket, Status.IN_PROGRESS, now)
    ticket.updated_at = now
    ticket.save()
    _event(ticket, user, TicketEvent.Kind.REPLACED, at=now, from_status=previous, to_status=ticket.status,
           failed=failed.tag, replacement=replacement.tag, failed_status=failed.status)
    text = _("L'appareil %(a)s a été remplacé par %(b)s.") % {"a": failed.tag, "b": replacement.tag}
    Comment.objects.create(ticket=ticket, author=user, body=text, internal=False, created_at=now)
    _audit(user, ticket, before, note=text)
    transaction.on_commit(lambda: notify.ticket_changed(ticket.pk, user.pk, text))
    return ticket


@transaction.atomic
def do_rate(user, ticket: Ticket, satisfaction: int, comment: str = "") -> Ticket:
    ticket = _locked(ticket)
    if not is_requester_side(user, ticket):
        raise HelpdeskError(_("Seule l'école qui a fait la demande peut donner son avis."))
    if ticket.status not in lifecycle.DONE:
        raise HelpdeskError(_("On donne son avis une fois la demande résolue."))
    if not 1 <= int(satisfaction) <= 5:
        raise HelpdeskError(_("La note va de 1 à 5."))
    ticket.satisfaction, ticket.satisfaction_comment = int(satisfaction), comment[:500]
    ticket.save(update_fields=["satisfaction", "satisfaction_comment"])
    _event(ticket, user, TicketEvent.Kind.SATISFACTION, note=comment, satisfaction=int(satisfaction))
    return ticket


# --------------------------------------------------------------------------- knowledge base

@transaction.atomic
def do_vote(user, article: Article, useful: bool) -> Article:
    """One answer per user: a second one replaces the first, counters stay exact."""
    previous = ArticleVote.objects.select_for_update().filter(article=article, user=user).first()
    article = Article.objects.select_for_update().get(pk=article.pk)
    if previous is not None:
        if previous.useful == useful:
            return article
        if previous.useful:
            article.useful_yes -= 1
        else:
            article.useful_no -= 1
        previous.useful = useful
        previous.save(update_fields=["useful"])
    else:
        ArticleVote.objects.create(article=article, user=user, useful=useful)
    if useful:
        article.useful_yes += 1
    else:
        article.useful_no += 1
    article.save(update_fields=["useful_yes", "useful_no"])
    return article


@transaction.atomic
def do_resolve_with_article(user, ticket: Ticket, article: Article, *, now=None) -> Ticket:
    """The answer was in the knowledge base: the request is resolved and the article counts it."""
    ticket = _locked(ticket)
    if not (can_work(user, ticket) or is_requester_side(user, ticket)):
        raise HelpdeskError(_("Vous ne pouvez pas résoudre cette demande."))
    now = now or timezone.now()
    before = audit.snapshot(ticket)
    try:
        previous = _apply_status(user, ticket, Status.RESOLVED, now)
    except lifecycle.TransitionRefused as e:
        raise HelpdeskError(str(e)) from None
    ticket.resolved_by_article = article
    ticket.save()
    Article.objects.filter(pk=article.pk).update(resolved_count=F("resolved_count") + 1)
    _event(ticket, user, TicketEvent.Kind.STATUS, at=now, from_status=previous, to_status=Status.RESOLVED,
           article=article.slug, note=_("résolue par l'article « %(t)s »") % {"t": article.title})
    _audit(user, ticket, before)
    return ticket


@transaction.atomic
def do_self_resolved(user, article: Article) -> Article:
    """Filing a request, the user found the answer in an article ("Cela a résolu mon problème"): no request
    is created; the article counts one more resolution (and a "useful" answer) so it surfaces first."""
    if not article.published:
        raise HelpdeskError(_("Cet article n'est pas publié."))
    counted = ArticleVote.objects.filter(article=article, user=user, useful=True).exists()
    article = do_vote(user, article, True)
    if not counted:  # one resolution per user and article: clicking twice does not push it up
        Article.objects.filter(pk=article.pk).update(resolved_count=F("resolved_count") + 1)
        article.refresh_from_db(fields=["resolved_count"])
    return article


def do_save_preferences(user, **values):
    """The user's own notification preferences (created on first save)."""
    from .models import NotificationPreference

    prefs, _created = NotificationPreference.objects.get_or_create(user=user)
    for name in ("new_in_queue", "my_requests", "deadlines"):
        if name in values:
            setattr(prefs, name, bool(values[name]))
    prefs.save()
    return prefs


# --------------------------------------------------------------------------- deadlines watch

def check_deadlines(now=None, calendar: WorkCalendar | None = None) -> dict:
    """Mark breaches, warn before the resolution deadline, escalate breaches to the agglomeration. Run
    every few minutes (`preau helpdesk-deadlines` from cron, or the worker). Idempotent."""
    now = now or timezone.now()
    calendar = calendar or WorkCalendar.load()
    warn_hours = float(getattr(settings, "PREAU_HELPDESK_WARN_HOURS", 4))
    counts = {"take_charge_breached": 0, "resolve_breached": 0, "warned": 0, "escalated": 0}
    open_ = Ticket.objects.filter(status__in=lifecycle.OPEN, merged_into__isnull=True)
    counts["take_charge_breached"] = open_.filter(taken_at__isnull=True, take_charge_due__lt=now,
                                                  take_charge_breached=False).update(take_charge_breached=True)
    counts["resolve_breached"] = open_.exclude(status__in=lifecycle.PAUSED).filter(
        resolve_due__lt=now, resolve_breached=False).update(resolve_breached=True)
    soon = open_.exclude(status__in=lifecycle.PAUSED).filter(
        warned_at__isnull=True, resolve_due__gte=now, resolve_due__lt=now + timedelta(days=14))
    for pk, due in soon.values_list("pk", "resolve_due").iterator():
        if calendar.between(now, due) <= warn_hours:
            if Ticket.objects.filter(pk=pk, warned_at__isnull=True).update(warned_at=now):
                TicketEvent.objects.create(ticket_id=pk, at=now, kind=TicketEvent.Kind.WARNED)
                counts["warned"] += 1
                transaction.on_commit(lambda pk=pk: notify.deadline(pk, "warned"))
    breached = open_.filter(escalated_at__isnull=True).filter(
        Q(take_charge_breached=True) | Q(resolve_breached=True))
    for pk in list(breached.values_list("pk", flat=True)[:10_000]):
        if Ticket.objects.filter(pk=pk, escalated_at__isnull=True).update(escalated_at=now):
            TicketEvent.objects.create(ticket_id=pk, at=now, kind=TicketEvent.Kind.ESCALATED)
            counts["escalated"] += 1
            transaction.on_commit(lambda pk=pk: notify.deadline(pk, "escalated"))
    return counts
