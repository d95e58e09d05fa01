"""A request's page (header, deadlines, timeline of events and comments, attachments) and its actions.

Each action is one POST to /assistance/<n>/<action>/ handled by one small function calling services; the
answer is the request's body fragment for htmx (the whole page otherwise, or a redirect on success). A
refused action (HelpdeskError, a refused file, a lifecycle refusal) is shown in French with status 400
and nothing is written. Out of scope: 404; in scope without the right to act: 403.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from preau.accounts.models import Role
from preau.fleet import access as fleet_access
from preau.fleet.lifecycle import IN_PLACE
from preau.fleet.views_assets import replacement_candidates

from . import access, attachments, lifecycle, routing, services
from .forms import (
    ArticleForm,
    AssignForm,
    CommentForm,
    LinkForm,
    MergeForm,
    RateForm,
    ReassignForm,
    ReplaceForm,
    StatusForm,
)
from .lifecycle import Status
from .models import Article, Party, Ticket
from .services import HelpdeskError

WARN_HOURS = 4


def party_members(ticket: Ticket):
    """The active users who can take the request (its party's members)."""
    users = get_user_model().objects.filter(is_active=True)
    if ticket.party == Party.AGGLOMERATION:
        users = users.filter(role__in=[Role.ADMIN, Role.TECHNICIAN])
    elif ticket.party == Party.COMMUNE:
        users = users.filter(role=Role.COMMUNE, communes=ticket.party_commune_id)
    elif ticket.party == Party.CIRCONSCRIPTION:
        users = users.filter(role=Role.ADVISOR, circonscriptions=ticket.party_circonscription_id)
    elif ticket.party == Party.WORKSHOP:
        users = users.filter(role=Role.WORKSHOP, sites=ticket.party_workshop_id)
    else:
        users = users.none()
    return users.order_by("last_name", "first_name", "username")[:200]


def deadline_state(due, done_at, breached: bool, now, paused=False) -> str:
    """"ok", "warning" (less than WARN_HOURS left), "breached", "met", "late" (met after the due date)."""
    if due is None:
        return ""
    if done_at is not None:
        return "late" if breached or done_at > due else "met"
    if breached or (now > due and not paused):
        return "breached"
    if not paused and due - now < timedelta(hours=WARN_HOURS):
        return "warning"
    return "ok"


def _timeline(user, ticket: Ticket) -> list[dict]:
    events = [{"at": e.at, "event": e} for e in ticket.events.select_related("user")[:500]]
    comments = [{"at": c.created_at, "comment": c}
                for c in access.comments_for(user, ticket)[:500]]
    return sorted(events + comments, key=lambda row: row["at"])


def _visible_attachments(user, ticket: Ticket) -> list:
    qs = ticket.attachments.select_related("comment")
    if not access.can_see_internal(user, ticket):
        qs = qs.exclude(comment__internal=True)
    return list(qs)


def _context(request: HttpRequest, ticket: Ticket, **extra) -> dict:
    user = request.user
    now = timezone.now()
    can_work = access.can_work(user, ticket)
    requester_side = access.is_requester_side(user, ticket)
    context = {
        "ticket": ticket, "party_label": routing.party_label(ticket), "timeline": _timeline(user, ticket),
        "attachments": _visible_attachments(user, ticket),
        "take_state": deadline_state(ticket.take_charge_due, ticket.taken_at, ticket.take_charge_breached, now),
        "resolve_state": deadline_state(ticket.resolve_due, ticket.resolved_at, ticket.resolve_breached, now,
                                        paused=ticket.status in lifecycle.PAUSED),
        "can_work": can_work, "requester_side": requester_side,
        "can_comment": access.can_comment(user, ticket),
        "can_internal": can_work,
        "comment_form": CommentForm(),
        "duplicates": list(ticket.duplicates.only("pk", "title")),
        "links": list(ticket.links.select_related("other", "asset")),
        "error": None,
    }
    if can_work and ticket.merged_into_id is None:
        work_targets = [s for s in lifecycle.allowed(ticket.status) if s not in (Status.CLOSED, Status.REOPENED)]
        context.update({
            "status_form": StatusForm(ticket=ticket, targets=work_targets) if work_targets else None,
            "assign_form": AssignForm(members=party_members(ticket), initial={"assignee": ticket.assignee_id}),
            "reassign_form": ReassignForm(initial={"party": ticket.party}),
            "merge_form": MergeForm(), "link_form": LinkForm(),
            "can_take": ticket.assignee_id != user.pk and ticket.is_open,
        })
        if (ticket.device_id and fleet_access.can_manage_fleet(user) and ticket.device.status in IN_PLACE
                and ticket.is_open):
            candidates = replacement_candidates(user, ticket.device)
            context["replace_candidates"] = candidates
            context["replace_form"] = ReplaceForm(initial={
                "replacement": candidates[0]["asset"].tag if candidates else ""})
    if (can_work or requester_side) and ticket.is_open:
        context["articles"] = list(Article.objects.filter(published=True, categories=ticket.category)
                                   .order_by("-resolved_count", "-useful_yes", "title")[:10])
    if access.can_close(user, ticket):
        context["can_close"] = ticket.status in (Status.RESOLVED, Status.WAITING_SCHOOL, Status.NEW) \
            and Status.CLOSED in lifecycle.allowed(ticket.status)
        context["can_reopen"] = Status.REOPENED in lifecycle.allowed(ticket.status) and ticket.merged_into_id is None
    if requester_side and ticket.status in lifecycle.DONE:
        context["rate_form"] = RateForm(initial={"satisfaction": ticket.satisfaction,
                                                 "comment": ticket.satisfaction_comment})
    context.update(extra)
    return context


@login_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """About fifteen queries whatever the request's history (timeline and comments capped at 500 each)."""
    ticket = access.get_ticket(request.user, pk)
    return render(request, "helpdesk/ticket.html", _context(request, ticket))


# --------------------------------------------------------------------------- actions


def _require_work(user, ticket):
    access.require_work(user, ticket)


def act_status(request, ticket):
    _require_work(request.user, ticket)
    form = StatusForm(request.POST, ticket=ticket)
    if not form.is_valid():
        raise HelpdeskError(_("Choisissez un statut possible."))
    services.do_change_status(request.user, ticket, form.cleaned_data["status"], note=form.cleaned_data["note"])
    return _("Statut changé : « %(s)s ».") % {"s": lifecycle.label(form.cleaned_data["status"])}


def act_take(request, ticket):
    _require_work(request.user, ticket)
    services.do_assign(request.user, ticket, request.user)
    return _("Vous vous occupez de la demande.")


def act_assign(request, ticket):
    _require_work(request.user, ticket)
    members = list(party_members(ticket))
    form = AssignForm(request.POST, members=members)
    if not form.is_valid():
        raise HelpdeskError(_("Choisissez une personne du responsable de la demande."))
    assignee = next((u for u in members if u.pk == form.cleaned_data["assignee"]), None)
    services.do_assign(request.user, ticket, assignee)
    return _("Demande confiée à %(u)s.") % {"u": assignee} if assignee else _("Demande remise dans la file.")


def act_reassign(request, ticket):
    _require_work(request.user, ticket)
    form = ReassignForm(request.POST)
    if not form.is_valid():
        raise HelpdeskError(" ".join(e for errors in form.errors.values() for e in errors))
    services.do_reassign(request.user, ticket, form.cleaned_data["party"], note=form.cleaned_data["note"])
    return _("Demande réorientée.")


def act_comment(request, ticket):
    access.require_comment(request.user, ticket)
    form = CommentForm(request.POST, request.FILES)
    if not form.is_valid():
        raise HelpdeskError(" ".join(e for errors in form.errors.values() for e in errors))
    internal = form.cleaned_data["internal"]
    prepared = attachments.prepare(form.cleaned_data["photos"], already=ticket.attachments.count())
    with attachments.all_or_nothing() as written, transaction.atomic():
        comment = services.do_comment(request.user, ticket, form.cleaned_data["body"], internal=internal)
        attachments.store(ticket, prepared, request.user, written=written, comment=comment)
    return _("Note interne ajoutée.") if internal else _("Message envoyé.")


def act_merge(request, ticket):
    _require_work(request.user, ticket)
    form = MergeForm(request.POST)
    if not form.is_valid():
        raise HelpdeskError(_("Indiquez le numéro de la demande qui reste."))
    into = access.tickets_for(request.user).filter(pk=form.cleaned_data["into"]).first()
    if into is None:
        raise HelpdeskError(_("Demande AS-%(n)s introuvable.") % {"n": form.cleaned_data["into"]})
    services.do_merge(request.user, ticket, into)
    return _("Demande fusionnée dans %(r)s.") % {"r": into.reference}


def act_link(request, ticket):
    _require_work(request.user, ticket)
    form = LinkForm(request.POST)
    if not form.is_valid():
        raise HelpdeskError(" ".join(e for errors in form.errors.values() for e in errors))
    cd = form.cleaned_data
    other = asset = None
    if cd["kind"] == "ticket" and cd["other"]:
        other = access.tickets_for(request.user).filter(pk=cd["other"]).first()
        if other is None:
            raise HelpdeskError(_("Demande AS-%(n)s introuvable.") % {"n": cd["other"]})
    if cd["kind"] == "device" and cd["tag"]:
        asset = fleet_access.assets_for(request.user).filter(tag=cd["tag"].strip()).first()
        if asset is None:
            raise HelpdeskError(_("Appareil « %(t)s » introuvable.") % {"t": cd["tag"]})
    services.do_link(request.user, ticket, cd["kind"], other=other, asset=asset, visit_on=cd["visit_on"],
                     note=cd["note"])
    return _("Lien ajouté.")


def act_replace(request, ticket):
    _require_work(request.user, ticket)
    fleet_access.require_manage_fleet(request.user)
    form = ReplaceForm(request.POST)
    if not form.is_valid():
        raise HelpdeskError(_("Choisissez l'appareil de remplacement."))
    tag = form.cleaned_data["replacement"].strip()
    replacement = fleet_access.assets_for(request.user).filter(tag=tag).first()
    if replacement is None:
        raise HelpdeskError(_("Aucun appareil « %(t)s » dans votre périmètre.") % {"t": tag})
    services.do_replace_device(request.user, ticket, replacement)
    return _("%(new)s remplace %(old)s.") % {"new": replacement.tag, "old": ticket.device.tag}


def act_resolve_article(request, ticket):
    form = ArticleForm(request.POST)
    article = Article.objects.filter(published=True, pk=form.cleaned_data["article"]).first() \
        if form.is_valid() else None
    if article is None:
        raise HelpdeskError(_("Choisissez un article publié."))
    services.do_resolve_with_article(request.user, ticket, article)
    return _("Demande résolue par l'article « %(t)s ».") % {"t": article.title}


def act_close(request, ticket):
    services.do_change_status(request.user, ticket, Status.CLOSED, note=request.POST.get("note", "")[:2000])
    return _("Demande close. Merci !")


def act_reopen(request, ticket):
    note = request.POST.get("note", "").strip()
    if not note:
        raise HelpdeskError(_("Dites ce qui ne va toujours pas pour rouvrir la demande."))
    services.do_change_status(request.user, ticket, Status.REOPENED, note=note[:2000])
    return _("Demande rouverte.")


def act_rate(request, ticket):
    form = RateForm(request.POST)
    if not form.is_valid():
        raise HelpdeskError(_("Choisissez une note de 1 à 5."))
    services.do_rate(request.user, ticket, form.cleaned_data["satisfaction"], form.cleaned_data["comment"])
    return _("Merci pour votre avis.")


ACTIONS = {
    "statut": act_status, "prendre": act_take, "attribuer": act_assign, "reorienter": act_reassign,
    "message": act_comment, "fusionner": act_merge, "lier": act_link, "remplacer": act_replace,
    "article": act_resolve_article, "clore": act_close, "rouvrir": act_reopen, "avis": act_rate,
}


@login_required
@require_POST
def ticket_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    handler = ACTIONS.get(action)
    if handler is None:
        raise Http404
    ticket = access.get_ticket(request.user, pk)
    error = done = None
    try:
        done = handler(request, ticket)
    except (HelpdeskError, attachments.AttachmentRefused, lifecycle.TransitionRefused) as exc:
        error = str(exc)
    ticket = access.get_ticket(request.user, pk)  # as stored now
    if error is None and not request.htmx:
        messages.success(request, done)
        return redirect("helpdesk:ticket", pk=ticket.pk)
    template = "helpdesk/_ticket.html" if request.htmx else "helpdesk/ticket.html"
    return render(request, template, _context(request, ticket, error=error, done=done),
                  status=400 if error else 200)

