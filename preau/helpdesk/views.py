"""Filing a help request (in under a minute), the self-help suggestions, attachments, the reply by link and
the notification preferences. The request page and its actions are in views_ticket.py, the queues in
views_queue.py.

Requests are read only through preau.helpdesk.access (out of scope: 404; in scope without the right: 403);
every write goes through preau.helpdesk.services; a refused action (HelpdeskError, a refused file) is shown
in French with status 400 and nothing is written.
"""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from preau.accounts import access as territory_access
from preau.fleet import access as fleet_access
from preau.fleet.lifecycle import GONE
from preau.territory.codes import normalize_uai

from . import access, attachments, notify, services
from .forms import ArticleForm, NewTicketForm, PreferencesForm, ReplyForm, grouped_categories
from .models import Article, Attachment, Category, NotificationPreference
from .services import HelpdeskError

MAX_DEVICES = 200
MAX_SUGGESTIONS = 5
CLASS_SESSION_KEY = "helpdesk-class-%s"


# --------------------------------------------------------------------------- filing


def _latest_classes(school) -> list:
    classes = list(school.classes.order_by("-year", "name"))
    return [k for k in classes if k.year == classes[0].year] if classes else []


def _devices(user, school, category: Category | None, class_id: int | None) -> list:
    """The school's devices a request can name: those of the problem's device categories (none for a
    problem without device), of the chosen class first (then the school's own), nearest first."""
    if category is not None and not category.device_categories:
        return []
    qs = (fleet_access.assets_for(user).filter(school=school).exclude(status__in=GONE)
          .select_related("school_class", "model"))
    if category is not None:
        qs = qs.filter(category__in=category.device_categories)
    if class_id:
        qs = qs.filter(Q(school_class_id=class_id) | Q(school_class__isnull=True))
    return sorted(qs[:MAX_DEVICES], key=lambda a: (a.school_class_id != class_id, a.category, a.tag))


def _default_device(devices: list, class_id: int | None, asked: str | None) -> str:
    """The device to pre-select: the one asked if still offered (or "I don't know" if chosen), else the
    class's only device of the problem's kind: one interaction less for most requests."""
    tags = {a.tag for a in devices}
    if asked == "" or (asked and asked in tags):
        return asked
    in_class = [a for a in devices if class_id and a.school_class_id == class_id]
    return in_class[0].tag if len(in_class) == 1 else ""


def _filing_school(request: HttpRequest, data, device):
    """The school of the request: the user's own (directors, teachers), else the one asked (?ecole=UAI) or
    the device's. (school, error)."""
    user = request.user
    if user.role in access.SCHOOL_ROLES:
        if user.school_id is None:
            raise PermissionDenied(_("Votre compte n'est rattaché à aucune école."))
        return user.school, None
    if not access.is_agglomeration(user):
        raise PermissionDenied(_("Seules les écoles et l'agglomération font des demandes d'assistance."))
    if device is not None and device.school_id:
        return device.school, None
    uai = (data.get("ecole") or "").strip()
    if not uai:
        return None, None
    school = territory_access.schools_for(user).filter(uai=normalize_uai(uai)).first()
    if school is None:
        return None, _("École inconnue : « %(uai)s ».") % {"uai": uai}
    return school, None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@login_required
def new_ticket(request: HttpRequest) -> HttpResponse:
    """What is wrong (big buttons by domain), the class, the device, a description and photos; matching
    knowledge-base answers are suggested before sending (assist fragment)."""
    user = request.user
    data = request.POST if request.method == "POST" else request.GET
    tag = (data.get("appareil") or "").strip()
    device = fleet_access.assets_for(user).filter(tag=tag).select_related("school", "school_class").first() \
        if tag else None
    if tag and device is None:
        raise Http404(_("Appareil inconnu : « %(tag)s ».") % {"tag": tag})
    school, school_error = _filing_school(request, data, device)
    if school is None:
        return render(request, "helpdesk/new_school.html", {"error": school_error, "uai": data.get("ecole", "")},
                      status=400 if school_error else 200)
    access.require_file(user, school)
    classes = _latest_classes(school)
    category = Category.objects.filter(active=True, pk=_int(data.get("category"))).first()
    if category is None and device is not None:
        category = next((c for c in Category.objects.filter(active=True, domain="equipment")
                         if device.category in c.device_categories), None)
    class_id = _int(data.get("school_class")) if "school_class" in data else None
    if "school_class" not in data:
        if device is not None and device.school_class_id:
            class_id = device.school_class_id
        elif len(classes) == 1:
            class_id = classes[0].pk
        else:
            class_id = _int(request.session.get(CLASS_SESSION_KEY % school.pk))
    if class_id not in {k.pk for k in classes}:
        class_id = None
    devices = _devices(user, school, category, class_id)
    if device is not None and device not in devices:
        devices.insert(0, device)
    chosen_tag = device.tag if device else _default_device(devices, class_id, None) if category else ""
    initial = {"category": category.pk if category else None, "school_class": class_id, "device": chosen_tag}
    form = NewTicketForm(request.POST if request.method == "POST" else None, request.FILES or None,
                         classes=classes, devices=devices, initial=initial)
    error = None
    if request.method == "POST" and form.is_valid():
        cd = form.cleaned_data
        chosen = next((a for a in devices if a.tag == cd["device"]), None)
        klass = next((k for k in classes if k.pk == cd["school_class"]), None)
        try:
            prepared = attachments.prepare(cd["photos"])
            with attachments.all_or_nothing() as written, transaction.atomic():
                ticket = services.do_create_ticket(user, school=school, category=cd["category"],
                                                   description=cd["description"], school_class=klass,
                                                   device=chosen)
                attachments.store(ticket, prepared, user, written=written)
        except (HelpdeskError, attachments.AttachmentRefused) as exc:
            error = str(exc)
        else:
            if klass is not None:
                request.session[CLASS_SESSION_KEY % school.pk] = klass.pk
            messages.success(request, _("Demande %(ref)s envoyée à : %(party)s.") % {
                "ref": ticket.reference, "party": services.routing.party_label(ticket)})
            return redirect("helpdesk:ticket", pk=ticket.pk)
    return render(request, "helpdesk/new.html", {
        "school": school, "form": form, "groups": grouped_categories(), "category": category,
        "class_id": class_id, "devices": devices, "error": error,
        "suggestions": suggestions(category, data.get("description", "")),
        "agglomeration": access.is_agglomeration(user),
        "max_mb": attachments.max_bytes() // (1024 * 1024), "max_count": attachments.max_count(),
    }, status=400 if request.method == "POST" else 200)


WORD = re.compile(r"[\wÀ-ÿ'-]{4,}", re.UNICODE)
STOP = {"dans", "avec", "pour", "plus", "rien", "elle", "nous", "vous", "mais", "sont", "cette", "classe",
        "depuis", "quand", "tout", "tous", "fait", "faire", "encore", "aussi", "très", "matin"}


def suggestions(category: Category | None, text: str = "") -> list[Article]:
    """Published articles of the chosen problem, or matching words of the description; those that most
    often resolve a request first (then the most useful). One query."""
    words = [w for w in dict.fromkeys(w.lower() for w in WORD.findall(text or "")) if w not in STOP][:6]
    match = Q(categories=category) if category is not None else Q()
    text_q = Q()
    for w in words:
        text_q |= Q(title__icontains=w) | Q(summary__icontains=w)
    if category is None and not words:
        return []
    where = (match | text_q) if (category is not None and words) else (match if category is not None else text_q)
    ids = Article.objects.filter(published=True).filter(where).values("pk")
    return list(Article.objects.filter(pk__in=ids).order_by("-resolved_count", "-useful_yes", "title")
                [:MAX_SUGGESTIONS])


@login_required
def new_assist(request: HttpRequest) -> HttpResponse:
    """htmx: the device choice and the suggestions for the problem, class and description chosen so far."""
    user = request.user
    data = request.GET
    school, _error = _filing_school(request, data, None)
    if school is None:
        raise Http404(_("École inconnue."))
    access.require_file(user, school)
    classes = _latest_classes(school)
    category = Category.objects.filter(active=True, pk=_int(data.get("category"))).first()
    class_id = _int(data.get("school_class"))
    if class_id not in {k.pk for k in classes}:
        class_id = None
    devices = _devices(user, school, category, class_id)
    asked = data.get("device")
    if asked == "" and request.headers.get("HX-Trigger-Name") in ("category", "school_class"):
        asked = None  # a new problem or class: "je ne sais pas" was not a choice about these devices
    form = NewTicketForm(classes=classes, devices=devices,
                         initial={"device": _default_device(devices, class_id, asked)})
    return render(request, "helpdesk/_new_assist.html", {
        "form": form, "devices": devices, "category": category, "school": school,
        "suggestions": suggestions(category, data.get("description", "")),
    })


@login_required
@require_POST
def self_resolved(request: HttpRequest) -> HttpResponse:
    """ "Cela a résolu mon problème": no request is created; the article counts the resolution."""
    form = ArticleForm(request.POST)
    if not form.is_valid():
        raise Http404
    article = get_object_or_404(Article, pk=form.cleaned_data["article"], published=True)
    services.do_self_resolved(request.user, article)
    template = "helpdesk/_self_resolved.html" if request.htmx else "helpdesk/self_resolved.html"
    return render(request, template, {"article": article})


# --------------------------------------------------------------------------- attachments


@login_required
def attachment(request: HttpRequest, pk: int, att: int) -> HttpResponse:
    """An attachment, only through the request's access rules (internal notes' files: internal readers)."""
    ticket = access.get_ticket(request.user, pk)
    item = get_object_or_404(Attachment.objects.select_related("comment"), pk=att, ticket=ticket)
    if item.comment_id and item.comment.internal and not access.can_see_internal(request.user, ticket):
        raise Http404
    try:
        handle = attachments.path_of(item.stored_name).open("rb")
    except (OSError, ValueError):
        raise Http404(_("Fichier introuvable.")) from None
    inline = item.content_type.startswith("image/")
    response = FileResponse(handle, content_type=item.content_type, as_attachment=not inline,
                            filename=item.original_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --------------------------------------------------------------------------- reply by link


def _refused(request, message: str) -> HttpResponse:
    return render(request, "helpdesk/reply_refused.html", {"message": message}, status=400)


def reply(request: HttpRequest, token: str) -> HttpResponse:
    """The requester answers from the e-mail's link, without a password: the public thread and a form."""
    try:
        ticket_id, user_id = notify.read_reply_token(token)
    except signing.SignatureExpired:
        return _refused(request, _("Ce lien de réponse a expiré. Connectez-vous à Préau pour répondre."))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return _refused(request, _("Ce lien de réponse n'est pas valable. Copiez le lien complet du courriel, "
                                   "ou connectez-vous à Préau pour répondre."))
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    ticket = (access.tickets_for(user).select_related("school", "category").filter(pk=ticket_id).first()
              if user is not None else None)
    if ticket is None or ticket.requester_id != user.pk:
        return _refused(request, _("Ce lien de réponse ne correspond plus à une de vos demandes."))
    form = ReplyForm(request.POST or None)
    error = None
    sent = False
    if request.method == "POST" and form.is_valid():
        try:
            services.do_comment(user, ticket, form.cleaned_data["body"], via_link=True)
        except HelpdeskError as exc:
            error = str(exc)
        else:
            sent = True
            form = ReplyForm()
    comments = ticket.comments.filter(internal=False).select_related("author")
    return render(request, "helpdesk/reply.html", {
        "ticket": ticket, "comments": comments, "form": form, "error": error, "sent": sent, "token": token,
    }, status=400 if request.method == "POST" and not sent else 200)


# --------------------------------------------------------------------------- preferences


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    current = NotificationPreference.objects.filter(user=request.user).first() or NotificationPreference(
        user=request.user)
    form = PreferencesForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        services.do_save_preferences(request.user, **form.cleaned_data)
        messages.success(request, _("Préférences enregistrées."))
        return redirect("helpdesk:preferences")
    return render(request, "helpdesk/preferences.html", {"form": form},
                  status=400 if request.method == "POST" else 200)
