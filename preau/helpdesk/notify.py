"""E-mail notifications of help requests, in French, HTML + text, sent after the transaction commits.

Who gets what (each user can turn each kind off in their preferences):
- a new (or re-routed) request: the members of the responsible party (`new_in_queue`);
- a change on a request (status, public message, replacement): the requester and the assignee, never
  the person who made the change (`my_requests`); internal notes are never sent;
- a deadline close or passed: the assignee, else the party; a breach also reaches the agglomeration
  admins (`deadlines`).
Each mail to a requester carries a signed link to answer without a password (PREAU_HELPDESK_REPLY_DAYS).
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from preau.accounts.models import Role

from .models import Party, Ticket

log = logging.getLogger(__name__)
SALT = "preau.helpdesk.reply"


def reply_token(ticket_id: int, user_id: int) -> str:
    return signing.dumps({"t": ticket_id, "u": user_id}, salt=SALT, compress=True)


def read_reply_token(token: str) -> tuple[int, int]:
    """(ticket id, user id); raises signing.BadSignature (or SignatureExpired) otherwise."""
    days = int(getattr(settings, "PREAU_HELPDESK_REPLY_DAYS", 30))
    data = signing.loads(token, salt=SALT, max_age=days * 86400)
    return int(data["t"]), int(data["u"])


def party_members(ticket: Ticket):
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    if ticket.party == Party.AGGLOMERATION:
        return users.filter(role__in=[Role.ADMIN, Role.TECHNICIAN])
    if ticket.party == Party.COMMUNE:
        return users.filter(role=Role.COMMUNE, communes=ticket.party_commune_id)
    if ticket.party == Party.CIRCONSCRIPTION:
        return users.filter(role=Role.ADVISOR, circonscriptions=ticket.party_circonscription_id)
    if ticket.party == Party.WORKSHOP:
        return users.filter(role=Role.WORKSHOP, sites=ticket.party_workshop_id)
    return users.none()


def _wants(user, kind: str) -> bool:
    prefs = getattr(user, "helpdesk_preferences", None)
    return True if prefs is None else bool(getattr(prefs, kind))


def _load(pk: int) -> Ticket | None:
    return Ticket.objects.select_related("school__commune", "category", "requester", "assignee", "device",
                                         "party_commune", "party_circonscription", "party_workshop").filter(
        pk=pk).first()


def _send(ticket: Ticket, recipients, template: str, subject: str, **context) -> int:
    messages = []
    base = settings.SITE_URL.rstrip("/")
    with translation.override(settings.LANGUAGE_CODE):
        for user in recipients:
            ctx = {"ticket": ticket, "user": user, "site_url": base,
                   "ticket_url": base + reverse("helpdesk:ticket", args=[ticket.pk]), **context}
            if ticket.requester_id == user.pk:
                ctx["reply_url"] = base + reverse("helpdesk:reply", args=[reply_token(ticket.pk, user.pk)])
            text = render_to_string(f"helpdesk/email/{template}.txt", ctx)
            html = render_to_string(f"helpdesk/email/{template}.html", ctx)
            mail = EmailMultiAlternatives(f"[Préau] {ticket.reference} : {subject}", text,
                                          settings.DEFAULT_FROM_EMAIL, [user.email])
            mail.attach_alternative(html, "text/html")
            messages.append(mail)
    if not messages:
        return 0
    try:
        return get_connection().send_messages(messages) or 0
    except OSError:
        log.exception("helpdesk: e-mail to %s failed", [m.to for m in messages])
        return 0


def new_ticket(pk: int) -> int:
    ticket = _load(pk)
    if ticket is None:
        return 0
    recipients = [u for u in party_members(ticket).select_related("helpdesk_preferences")
                  if _wants(u, "new_in_queue")]
    return _send(ticket, recipients, "new_ticket", _("nouvelle demande — %(t)s") % {"t": ticket.title})


def ticket_changed(pk: int, actor_id: int | None, what: str, comment_id: int | None = None) -> int:
    ticket = _load(pk)
    if ticket is None:
        return 0
    comment = ticket.comments.filter(pk=comment_id, internal=False).first() if comment_id else None
    recipients = [u for u in (ticket.requester, ticket.assignee)
                  if u is not None and u.pk != actor_id and u.email and u.is_active and _wants(u, "my_requests")]
    return _send(ticket, list({u.pk: u for u in recipients}.values()), "ticket_changed", what, what=what,
                 comment=comment)


def deadline(pk: int, kind: str) -> int:
    ticket = _load(pk)
    if ticket is None:
        return 0
    recipients = [ticket.assignee] if ticket.assignee and ticket.assignee.email else list(party_members(ticket))
    if kind == "escalated":
        admins = get_user_model().objects.filter(is_active=True, role=Role.ADMIN).exclude(email="")
        recipients += list(admins)
    recipients = [u for u in {u.pk: u for u in recipients}.values() if _wants(u, "deadlines")]
    subject = _("échéance dépassée") if kind == "escalated" else _("échéance proche")
    return _send(ticket, recipients, "deadline", subject, kind=kind)
