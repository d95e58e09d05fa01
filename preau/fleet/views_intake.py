"""Inventory intake over HTTP: the endpoint the agents POST to, and the queue the fleet team works from.

/parc/agent/ (no login, no CSRF: agents are not browsers) takes FusionInventory's OCS XML and
GLPI Agent's JSON on the same URL and answers each in its own protocol (docs/fleet-agents.md).
When PREAU_AGENT_TOKEN is set, agents must send it as the HTTP Basic password (--password).
/parc/inventaires/ lists what agents sent; admins and technicians place unknown devices from it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from preau.core.pagination import paginate

from . import access
from .agent import intake, parse, payload, placement
from .agent.forms import PlaceForm
from .agent.identity import REASONS
from .agent.parse import FUSION_XML, GLPI_JSON
from .models import AgentSubmission
from .services import FleetError, TransitionRefused

log = logging.getLogger(__name__)

PROLOG_FREQ_HOURS = 24  # how often agents come back (PROLOG_FREQ for FusionInventory, expiration for GLPI Agent)
REALM = "Preau agents"


# --------------------------------------------------------------------------- agent endpoint


def agent_token() -> str:
    return getattr(settings, "PREAU_AGENT_TOKEN", "")


def _authorized(request: HttpRequest, token: str) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    password = decoded.partition(":")[2]
    return hmac.compare_digest(password.encode(), token.encode())


def _xml(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n', status=status,
                        content_type="application/xml; charset=utf-8")


def _json(data: dict, status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(data, ensure_ascii=False), status=status,
                        content_type="application/json; charset=utf-8")


def _error(message: str, status: int, fmt: str = "") -> HttpResponse:
    """A refusal the agent can log: JSON {"status": "error"} for GLPI Agent, a short text otherwise."""
    if fmt == GLPI_JSON:
        return _json({"status": "error", "message": message}, status=status)
    return HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")


def _remote_addr(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@csrf_exempt
@never_cache
def agent(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = _error(_("Point d'entrée des agents d'inventaire (FusionInventory, GLPI Agent) : POST seulement."),
                          405)
        response["Allow"] = "POST"
        return response
    token = agent_token()
    if token and not _authorized(request, token):
        response = _error(_("Authentification requise : mot de passe de l'agent (--password) attendu."), 401)
        response["WWW-Authenticate"] = f'Basic realm="{REALM}"'
        return response
    remote = _remote_addr(request)
    try:
        message = parse.parse(payload.read_request(request))
    except parse.ParseError as exc:
        if exc.deviceid:
            intake.record_rejection(deviceid=exc.deviceid, fmt=exc.format, message=str(exc), remote_addr=remote)
        log.info("agent intake refused from %s: %s", remote, exc)
        return _error(str(exc), exc.status, exc.format)
    except payload.PayloadError as exc:
        log.info("agent intake refused from %s: %s", remote, exc)
        return _error(str(exc), exc.status)

    if message.format == FUSION_XML:
        if message.kind == "prolog":
            if request.META.get("HTTP_GLPI_AGENT_ID"):
                # GLPI Agent: a JSON answer switches it to its native protocol (JSON inventory).
                return _json({"status": "ok", "expiration": PROLOG_FREQ_HOURS})
            return _xml(f"<REPLY><PROLOG_FREQ>{PROLOG_FREQ_HOURS}</PROLOG_FREQ><RESPONSE>SEND</RESPONSE></REPLY>")
        if message.kind != "inventory":
            return _error(_("Requête « %(q)s » non prise en charge : seul l'inventaire l'est.")
                          % {"q": message.kind.upper()[:40]}, 501)
    else:
        if message.kind == "contact":
            answer = {"status": "ok", "expiration": PROLOG_FREQ_HOURS}
            others = [task for task in message.tasks if task != "inventory"]
            if others:  # GLPI Agent then does not plan them (Préau only takes inventories)
                answer["disabled"] = others
            return _json(answer)
        if message.kind != "inventory":
            return _error(_("Action « %(a)s » non prise en charge : seul l'inventaire l'est.")
                          % {"a": message.kind[:40]}, 501, GLPI_JSON)

    submission = intake.intake(message.inventory, remote_addr=remote)
    if submission.outcome == AgentSubmission.Outcome.REJECTED:
        return _error(submission.message, 422, message.format)
    if message.format == GLPI_JSON:
        return _json({"status": "ok", "expiration": PROLOG_FREQ_HOURS})
    return _xml("<REPLY><RESPONSE>no_account_update</RESPONSE></REPLY>")


# --------------------------------------------------------------------------- queue pages

OUTCOMES = AgentSubmission.Outcome


@login_required
def intake_list(request: HttpRequest) -> HttpResponse:
    access.require_manage_fleet(request.user)
    outcome = request.GET.get("outcome", OUTCOMES.QUEUED)
    qs = AgentSubmission.objects.select_related("school", "asset").order_by("-received_at", "-pk")
    if outcome in OUTCOMES.values:
        qs = qs.filter(outcome=outcome)
    else:
        outcome = ""
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(deviceid__icontains=q[:120]) | qs.filter(agent_tag__iexact=q[:40]) \
            | qs.filter(asset__tag__iexact=q[:32])
    counts = dict(AgentSubmission.objects.order_by().values_list("outcome").annotate(n=Count("pk")))
    order = [OUTCOMES.QUEUED, OUTCOMES.REJECTED, OUTCOMES.MATCHED, OUTCOMES.PLACED, OUTCOMES.IGNORED]
    tabs = [(value, OUTCOMES(value).label, counts.get(value, 0)) for value in order]
    page = paginate(request, qs)
    for s in page:
        s.matched_label = intake.MATCHED_BY.get(s.matched_by, s.matched_by)
    return render(request, "fleet/intake/list.html", {
        "page": page, "outcome": outcome, "tabs": tabs, "q": q,
        "token_required": bool(agent_token()),
    })


@login_required
def intake_submission(request: HttpRequest, pk: int) -> HttpResponse:
    """One submission: what the agent said; for a queued one, the form that places the device."""
    access.require_manage_fleet(request.user)
    submission = get_object_or_404(AgentSubmission.objects.select_related("school", "asset"), pk=pk)
    inventory = parse.Inventory.from_summary(submission.data) if submission.data else None
    form = None
    if submission.outcome == OUTCOMES.QUEUED and inventory is not None:
        initial = {"tag": placement.next_free_tag(), "maker": placement.canonical_maker(inventory.maker), "model_name": inventory.model,
                   "category": inventory.category, "school": submission.school.uai if submission.school else "",
                   "deploy": True}
        form = PlaceForm(request.POST or None, initial=initial, school=submission.school)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                model = data["model"] or placement.model_for(
                    request.user, maker=data["maker"], name=data["model_name"], category=data["category"],
                    inventory=inventory)
                asset = placement.place(request.user, submission, tag=data["tag"], model=model,
                                        category=data["category"], school=data["school"],
                                        school_class=data["school_class"], slot=data["slot"],
                                        deploy=data["deploy"])
            except (FleetError, TransitionRefused) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("%(tag)s créé depuis l'inventaire de %(host)s.")
                                 % {"tag": asset.tag, "host": inventory.hostname or submission.deviceid})
                return redirect("fleet:intake-submission", pk=submission.pk)
    elif request.method == "POST":
        return HttpResponse(_("Cet inventaire n'est plus en attente."), status=409)
    submission.matched_label = intake.MATCHED_BY.get(submission.matched_by, submission.matched_by)
    return render(request, "fleet/intake/submission.html", {
        "submission": submission, "inv": inventory, "form": form,
        "reasons": {k: str(v) for k, v in REASONS.items()},
    }, status=400 if form is not None and form.errors else 200)


@login_required
@require_POST
def intake_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    access.require_manage_fleet(request.user)
    submission = get_object_or_404(AgentSubmission, pk=pk)
    try:
        placement.dismiss(request.user, submission, request.POST.get("reason", "")[:200])
    except FleetError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Inventaire écarté."))
    return redirect("fleet:intake-submission", pk=submission.pk)


urlpatterns = [
    path("agent/", agent, name="agent"),
    path("inventaires/", intake_list, name="intake"),
    path("inventaires/<int:pk>/", intake_submission, name="intake-submission"),
    path("inventaires/<int:pk>/ecarter/", intake_dismiss, name="intake-dismiss"),
]
