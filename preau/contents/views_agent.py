"""What a school NAS agent talks to: enrolment, check-in, and the content store it pulls from.

    POST /contenus/agent/enrol/      {code, public_key?, agent_version?}  → its credential, the trusted key
    POST /contenus/agent/checkin/    Bearer <node_id>:<credential>, {seq, held, …} → what to pull
    GET  /contenus/store/<path>      Bearer …; the files the engine's HTTPSource fetches (fetch.py, pull.py)

No session, no CSRF (machines, not browsers). Refusals are JSON {"detail": "<French sentence>"}.
The store is served only to enrolled, non-revoked NAS (docs/contents-serving.md). In production the
app only authorises and points: with PREAU_CONTENT_X_ACCEL set, nginx sends the bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

from django.conf import settings
from django.core.cache import cache
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from . import services
from .models import NasNode

MAX_BODY_BYTES = 64 * 1024
ENROL_WINDOW_SECONDS = 600
ENROL_MAX_FAILURES = 10  # per remote address and window (PREAU_CONTENT_ENROL_MAX_FAILURES overrides)
AUTH_CACHE_SECONDS = 30  # store reads: a node's credential is re-checked in the database at most this often
REALM = "preau-contents"

IMMUTABLE = "public, max-age=31536000, immutable"

_NAME = r"[a-z0-9][a-z0-9._-]{0,63}"
_HEX = r"[0-9a-f]{64}"
# The only paths the engine fetches (preau_nas/store.py, fetch.py, pull.py): anything else is a 404.
_OBJECT = re.compile(rf"^objects/[0-9a-f]{{2}}/(?P<id>{_HEX})$")
_MANIFEST = re.compile(rf"^manifests/(?P<c>{_NAME})/(?P<id>{_HEX})\.json$")
_DELTA = re.compile(rf"^deltas/(?P<c>{_NAME})/(?P<id>{_HEX})/"
                    r"(?P<file>preau-bundle\.json|index\.bin|packs/pack-[0-9]{4,5}\.(?:zst|raw))$")
_LATEST = re.compile(rf"^collections/(?P<c>{_NAME})/latest\.json$")


def _refuse(message: str, status: int) -> JsonResponse:
    response = JsonResponse({"detail": message}, status=status, json_dumps_params={"ensure_ascii": False})
    if status == 401:
        response["WWW-Authenticate"] = f'Bearer realm="{REALM}"'
    return response


def _post_only(request: HttpRequest) -> JsonResponse | None:
    if request.method != "POST":
        response = _refuse(_("Point d'entrée des NAS : POST seulement."), 405)
        response["Allow"] = "POST"
        return response
    return None


def _read_json(request: HttpRequest) -> dict | JsonResponse:
    """The body as a JSON object, read without buffering more than MAX_BODY_BYTES (413 beyond)."""
    def too_big() -> JsonResponse:
        return _refuse(_("Requête trop volumineuse (%(n)s octets au plus).") % {"n": MAX_BODY_BYTES}, 413)

    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
            return too_big()
    except ValueError:
        return _refuse(_("En-tête Content-Length invalide."), 400)
    raw = request.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        return too_big()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _refuse(_("Corps de requête invalide : un objet JSON (UTF-8) est attendu."), 400)
    if not isinstance(data, dict):
        return _refuse(_("Corps de requête invalide : un objet JSON (UTF-8) est attendu."), 400)
    return data


def _bearer(request: HttpRequest) -> tuple[str, str] | None:
    scheme, _sep, value = (request.META.get("HTTP_AUTHORIZATION") or "").partition(" ")
    node_id, sep, credential = value.strip().partition(":")
    if scheme.lower() != "bearer" or not sep or not node_id or not credential:
        return None
    return node_id, credential


def _authenticate(request: HttpRequest, *, cached: bool = False) -> NasNode | JsonResponse:
    """The node behind the Bearer header, or the refusal to answer (401 unknown/wrong, 403 revoked).

    cached (store reads only): a successful check is remembered for AUTH_CACHE_SECONDS, so a pull of
    thousands of chunks costs one database query per half-minute, not one per chunk. A revocation
    therefore stops store reads within that delay; check-ins always ask the database."""
    pair = _bearer(request)
    if pair is None:
        return _refuse(_("Authentification requise : en-tête « Authorization: Bearer <nas>:<secret> »."), 401)
    key = "contents:node-auth:" + services.digest(f"{pair[0]}:{pair[1]}")
    if cached and cache.get(key):
        return NasNode(node_id=pair[0])  # only its identity is used by the store
    try:
        node = services.authenticate(*pair)
    except services.AgentRefused as exc:
        return _refuse(str(exc), exc.status)
    if not node.is_active:
        return _refuse(_("Ce NAS n'est pas enrôlé."), 403)
    if cached:
        cache.set(key, True, getattr(settings, "PREAU_CONTENT_AUTH_CACHE_SECONDS", AUTH_CACHE_SECONDS))
    return node


def store_url(request: HttpRequest) -> str:
    """Where the NAS pulls from: PREAU_CONTENT_STORE_URL if set (another host, object storage), else this app."""
    configured = getattr(settings, "PREAU_CONTENT_STORE_URL", None)
    if configured:
        return configured.rstrip("/") + "/"
    return request.build_absolute_uri(reverse("contents_agent:store", kwargs={"rel": "x"})[:-1])


# --------------------------------------------------------------------------- enrolment


def _remote(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


@csrf_exempt
@never_cache
def enrol(request: HttpRequest) -> HttpResponse:
    refused = _post_only(request)
    if refused:
        return refused
    limit = int(getattr(settings, "PREAU_CONTENT_ENROL_MAX_FAILURES", ENROL_MAX_FAILURES))
    key = "contents:enrol-failures:" + _remote(request)
    if (cache.get(key) or 0) >= limit:
        response = _refuse(_("Trop de codes d'enrôlement refusés depuis cette adresse : réessayez dans "
                             "10 minutes."), 429)
        response["Retry-After"] = str(ENROL_WINDOW_SECONDS)
        return response
    data = _read_json(request)
    if isinstance(data, HttpResponse):
        return data
    code, public_key, version = data.get("code"), data.get("public_key") or "", data.get("agent_version") or ""
    if not isinstance(code, str) or not code.strip():
        return _refuse(_("Champ « code » manquant : le code d'enrôlement affiché dans Préau."), 400)
    if not isinstance(public_key, str) or not isinstance(version, str):
        return _refuse(_("Champs « public_key » et « agent_version » : du texte est attendu."), 400)
    try:
        answer = services.enrol(code, public_key=public_key, agent_version=version)
    except services.AgentRefused as exc:
        if cache.add(key, 1, ENROL_WINDOW_SECONDS) is False:
            try:
                cache.incr(key)
            except ValueError:  # expired in between
                cache.add(key, 1, ENROL_WINDOW_SECONDS)
        return _refuse(str(exc), exc.status)
    answer["store_url"] = store_url(request)
    return JsonResponse(answer, json_dumps_params={"ensure_ascii": False})


# --------------------------------------------------------------------------- check-in


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@csrf_exempt
@never_cache
def checkin(request: HttpRequest) -> HttpResponse:
    refused = _post_only(request)
    if refused:
        return refused
    if _bearer(request) is None:
        return _authenticate(request)  # the 401 answer
    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
            return _refuse(_("Requête trop volumineuse (%(n)s octets au plus).") % {"n": MAX_BODY_BYTES}, 413)
    except ValueError:
        return _refuse(_("En-tête Content-Length invalide."), 400)
    node = _authenticate(request)
    if isinstance(node, HttpResponse):
        return node
    data = _read_json(request)
    if isinstance(data, HttpResponse):
        return data
    seq, held, disk_free = data.get("seq"), data.get("held") or {}, data.get("disk_free")
    last_error, version = data.get("last_error") or "", data.get("agent_version") or ""
    if not _is_int(seq) or seq < 1:
        return _refuse(_("Champ « seq » invalide : un entier croissant (1, 2, …) est attendu."), 400)
    if not isinstance(held, dict):
        return _refuse(_("Champ « held » invalide : un objet {collection: version} est attendu."), 400)
    if disk_free is not None and (not _is_int(disk_free) or disk_free < 0):
        return _refuse(_("Champ « disk_free » invalide : un nombre d'octets est attendu."), 400)
    if not isinstance(last_error, str) or not isinstance(version, str):
        return _refuse(_("Champs « last_error » et « agent_version » : du texte est attendu."), 400)
    try:
        answer = services.check_in(node, seq=seq, held=held, disk_free=disk_free, last_error=last_error,
                                   agent_version=version)
    except services.AgentRefused as exc:
        return _refuse(str(exc), exc.status)
    return JsonResponse(answer, json_dumps_params={"ensure_ascii": False})


# --------------------------------------------------------------------------- the store


def _classify(rel: str) -> tuple[str, str | None] | None:
    """(Cache-Control, strong ETag or None to compute from the content) for a path the engine fetches."""
    for pattern in (_OBJECT, _MANIFEST):
        m = pattern.match(rel)
        if m:
            return IMMUTABLE, f'"{m["id"]}"'
    m = _DELTA.match(rel)
    if m:  # a delta directory is named after its target manifest and never rewritten
        return IMMUTABLE, f'"{m["id"]}:{m["file"]}"'
    if _LATEST.match(rel):
        return "no-cache", None
    return None


def _matches(request: HttpRequest, etag: str) -> bool:
    header = request.META.get("HTTP_IF_NONE_MATCH") or ""
    return header.strip() == "*" or etag in [t.strip() for t in header.split(",")]


def store(request: HttpRequest, rel: str) -> HttpResponse:
    response = _store(request, rel)
    if response.status_code >= 400:
        add_never_cache_headers(response)
    return response


def _store(request: HttpRequest, rel: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = _refuse(_("Magasin de contenus : GET seulement."), 405)
        response["Allow"] = "GET, HEAD"
        return response
    node = _authenticate(request, cached=True)
    if isinstance(node, HttpResponse):
        return node
    kind = _classify(rel)
    root = os.path.realpath(services.store_path())
    path = os.path.realpath(os.path.join(root, rel))
    if kind is None or not path.startswith(root + os.sep) or not os.path.isfile(path):
        return _refuse(_("Fichier absent du magasin."), 404)
    cache_control, etag = kind
    content_type = "application/json" if rel.endswith(".json") else "application/octet-stream"
    if etag is None:  # the small mutable pointer (latest.json, well under 1 KB): hash it
        with open(path, "rb") as f:
            pointer = f.read(1 << 16)
        etag = f'"{hashlib.sha256(pointer).hexdigest()[:32]}"'
    else:
        pointer = None
    if _matches(request, etag):
        response = HttpResponse(status=304)
    elif getattr(settings, "PREAU_CONTENT_X_ACCEL", None):
        # nginx sends the file from its internal location; it keeps our Content-Type and Cache-Control
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.PREAU_CONTENT_X_ACCEL.rstrip("/") + "/" + rel
    elif pointer is not None:
        response = HttpResponse(pointer, content_type=content_type)
    else:
        response = FileResponse(open(path, "rb"), content_type=content_type)  # streamed, never hashed
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    return response
