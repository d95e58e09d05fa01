"""Writes of the contents service, one function per action (do_*), and the two exchanges a NAS agent
has with the platform: enrolment (a one-time code for its own credential and the publishing key) and
check-in (what it holds, its free disk, its last error).

Secrets: enrolment codes and credentials are random (secrets), shown once, stored as SHA-256 (they
carry their own entropy, so a slow password hash would only slow every check-in down).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from preau.core import audit
from preau.core.models import AuditEntry

from .models import Collection, Delivery, NasNode, Release, Subscription

ENROLMENT_VALIDITY = timedelta(hours=48)


class ContentsError(ValueError):
    """A refused action; str() is a sentence for the user, in French."""


class AgentRefused(ContentsError):
    """An agent request refused (bad or revoked credential, replay…); `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.status = status


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --------------------------------------------------------------------------- the store and its key


def store_path() -> Path:
    return Path(settings.PREAU_CONTENT_STORE)


def publisher_key_path() -> Path:
    """The publishing key (Ed25519, secret): created on first use in development; in production, a file
    the administrator provides (PREAU_CONTENT_KEY)."""
    path = Path(settings.PREAU_CONTENT_KEY)
    if not path.exists():
        import preau_nas

        path.parent.mkdir(parents=True, exist_ok=True)
        preau_nas.keygen(path)
    return path


def publisher_public_key() -> str:
    path = publisher_key_path()
    return Path(f"{path}.pub").read_text().strip()


# --------------------------------------------------------------------------- collections and releases


@transaction.atomic
def do_create_collection(user, *, slug: str, name: str, description: str = "") -> Collection:
    if Collection.objects.filter(slug=slug).exists():
        raise ContentsError(_("La collection « %(s)s » existe déjà.") % {"s": slug})
    collection = Collection(slug=slug, name=name, description=description)
    collection.full_clean()
    collection.save()
    Subscription.objects.create(collection=collection, scope=Subscription.Scope.ALL)  # every school by default
    audit.record(user, AuditEntry.Action.CREATE, collection, None, audit.snapshot(collection))
    return collection


def publish(user, collection: Collection, src_dir, *, notes: str = "", progress=None) -> Release | None:
    """Publish the folder as the collection's next release (the engine chunks, stores and signs it).
    None when the content equals the latest release (nothing published)."""
    import preau_nas

    src = Path(src_dir)
    if not src.is_dir():
        raise ContentsError(_("Dossier introuvable sur le serveur : %(p)s.") % {"p": src})
    result = preau_nas.publish(store_path(), collection.slug, src, publisher_key_path(), progress=progress)
    if not result["changed"]:
        return None
    with transaction.atomic():
        release = Release.objects.create(
            collection=collection, version=result["version"], manifest=result["manifest"], notes=notes,
            total_bytes=result.get("total_size") or 0, new_bytes=result.get("new_bytes") or 0,
            files=sum(1 for p in src.rglob("*") if p.is_file()),
            published_by=user if getattr(user, "is_authenticated", False) else None)
        audit.record(user, AuditEntry.Action.CREATE, release, None, audit.snapshot(release))
    return release


@transaction.atomic
def do_withdraw_release(user, release: Release, reason: str) -> Release:
    if not reason.strip():
        raise ContentsError(_("Donnez le motif du retrait."))
    if release.withdrawn_at:
        raise ContentsError(_("Cette version est déjà retirée."))
    before = audit.snapshot(release)
    release.withdrawn_at, release.withdraw_reason = timezone.now(), reason.strip()[:300]
    release.save(update_fields=["withdrawn_at", "withdraw_reason"])
    audit.record(user, AuditEntry.Action.UPDATE, release, before, audit.snapshot(release), note=reason)
    return release


@transaction.atomic
def do_subscribe(user, collection: Collection, *, scope: str, commune=None, school_kind: str = "",
                 school=None) -> Subscription:
    """Add who receives the collection; the same subscription twice is refused."""
    S = Subscription.Scope
    subscription = Subscription(collection=collection, scope=scope,
                                commune=commune if scope == S.COMMUNE else None,
                                school_kind=school_kind if scope == S.KIND else "",
                                school=school if scope == S.SCHOOL else None)
    if collection.subscriptions.filter(scope=subscription.scope, commune=subscription.commune,
                                       school_kind=subscription.school_kind, school=subscription.school).exists():
        raise ContentsError(_("Cet abonnement existe déjà."))
    subscription.full_clean()
    subscription.save()
    audit.record(user, AuditEntry.Action.CREATE, subscription, None, audit.snapshot(subscription))
    return subscription


@transaction.atomic
def do_unsubscribe(user, subscription: Subscription) -> None:
    audit.record(user, AuditEntry.Action.DELETE, subscription, audit.snapshot(subscription), None)
    subscription.delete()


@transaction.atomic
def do_set_mode(user, node: NasNode, mode: str) -> NasNode:
    """Online (pulls by itself), offline (operator tours) or auto (from the school's connectivity)."""
    if mode not in NasNode.Mode.values:
        raise ContentsError(_("Mode inconnu : %(m)s.") % {"m": mode})
    before = audit.snapshot(node, fields=["mode"])
    node.mode = mode
    node.save(update_fields=["mode"])
    audit.record(user, AuditEntry.Action.UPDATE, node, before, audit.snapshot(node, fields=["mode"]))
    return node


def current_release(collection: Collection) -> Release | None:
    return collection.releases.filter(withdrawn_at__isnull=True).order_by("-version").first()


def collections_for_school(school):
    """The collections a school receives, from the subscriptions (all, its commune, its kind, itself)."""
    return Collection.objects.filter(
        Q(subscriptions__scope=Subscription.Scope.ALL)
        | Q(subscriptions__scope=Subscription.Scope.COMMUNE, subscriptions__commune_id=school.commune_id)
        | Q(subscriptions__scope=Subscription.Scope.KIND, subscriptions__school_kind=school.kind)
        | Q(subscriptions__scope=Subscription.Scope.SCHOOL, subscriptions__school_id=school.pk)
    ).distinct().order_by("slug")


# --------------------------------------------------------------------------- NAS nodes


def node_id_for(school) -> str:
    return f"nas-{school.uai.lower()}"


@transaction.atomic
def do_new_enrolment_code(user, school) -> tuple[NasNode, str]:
    """A one-time code (valid 48 h) for the school's NAS; shown once. A new code cancels the previous one."""
    node, _created = NasNode.objects.get_or_create(school=school, defaults={"node_id": node_id_for(school)})
    code = "-".join(secrets.token_hex(2).upper() for _ in range(4))  # 16 hex digits, easy to type
    node.enrolment_code_hash = digest(code)
    node.enrolment_expires_at = timezone.now() + ENROLMENT_VALIDITY
    node.save(update_fields=["enrolment_code_hash", "enrolment_expires_at"])
    audit.record(user, AuditEntry.Action.UPDATE, node, None, {"enrolment_code": "issued"},
                 note=_("code d'enrôlement"))
    return node, code


@transaction.atomic
def enrol(code: str, *, public_key: str = "", agent_version: str = "") -> dict:
    """The agent's side: a valid code gives the node its own credential (returned once) and the
    publishing key it must trust. The code can serve only once."""
    code = (code or "").strip().upper()
    node = NasNode.objects.select_for_update(of=("self",)).filter(enrolment_code_hash=digest(code)).first() \
        if code else None
    if node is None:
        raise AgentRefused(_("Code d'enrôlement inconnu ou déjà utilisé."), 403)
    if node.enrolment_expires_at is None or node.enrolment_expires_at < timezone.now():
        raise AgentRefused(_("Code d'enrôlement expiré : demandez-en un nouveau."), 403)
    credential = secrets.token_urlsafe(32)
    node.credential_hash = digest(credential)
    node.enrolment_code_hash, node.enrolment_expires_at = "", None
    node.enrolled_at, node.revoked_at = timezone.now(), None
    node.public_key, node.agent_version = public_key[:80], agent_version[:40]
    node.last_checkin_seq = 0
    node.save()
    audit.record(None, AuditEntry.Action.UPDATE, node, None, {"enrolled": True}, note=_("NAS enrôlé"))
    return {"node_id": node.node_id, "credential": credential, "trusted_keys": [publisher_public_key()],
            "collections": list(collections_for_school(node.school).values_list("slug", flat=True))}


def authenticate(node_id: str, credential: str) -> NasNode:
    node = NasNode.objects.select_related("school").filter(node_id=node_id).first()
    if node is None or not node.credential_hash or not hmac.compare_digest(node.credential_hash,
                                                                           digest(credential or "")):
        raise AgentRefused(_("Identifiants du NAS refusés."), 401)
    if node.revoked_at is not None:
        raise AgentRefused(_("Ce NAS a été révoqué : réenrôlez-le avec un nouveau code."), 403)
    return node


@transaction.atomic
def check_in(node: NasNode, *, seq: int, held: dict, disk_free: int | None = None, last_error: str = "",
             agent_version: str = "") -> dict:
    """Record a check-in (seq must grow: a replayed check-in is refused and changes nothing), the
    versions held (a new version counts once as an online delivery), and answer what to pull."""
    node = NasNode.objects.select_for_update(of=("self",)).select_related("school").get(pk=node.pk)
    if seq <= node.last_checkin_seq:
        raise AgentRefused(_("Contact rejoué ou hors d'ordre (compteur %(s)s ≤ %(last)s) : ignoré.")
                           % {"s": seq, "last": node.last_checkin_seq}, 409)
    now = timezone.now()
    clean_held = {str(k)[:60]: int(v) for k, v in (held or {}).items() if str(v).isdigit()}
    releases = {(r.collection.slug, r.version): r for r in Release.objects.select_related("collection").filter(
        collection__slug__in=list(clean_held), version__in=list(clean_held.values()))}
    for slug, version in clean_held.items():
        release = releases.get((slug, version))
        if release is not None and node.held.get(slug) != version:
            Delivery.objects.get_or_create(node=node, release=release,
                                           defaults={"via": Delivery.Via.ONLINE, "delivered_at": now})
    node.last_checkin_seq, node.last_checkin_at = seq, now
    node.held, node.disk_free_bytes = clean_held, disk_free
    node.last_error, node.agent_version = (last_error or "")[:500], (agent_version or node.agent_version)[:40]
    node.save()
    offers = {}
    for collection in collections_for_school(node.school):
        release = current_release(collection)
        if release is not None:
            offers[collection.slug] = {"version": release.version, "manifest": release.manifest}
    return {"collections": offers, "server_time": now.isoformat()}


@transaction.atomic
def do_revoke(user, node: NasNode, reason: str = "") -> NasNode:
    before = audit.snapshot(node, fields=["revoked_at"])
    node.revoked_at, node.credential_hash = timezone.now(), ""
    node.save(update_fields=["revoked_at", "credential_hash"])
    audit.record(user, AuditEntry.Action.UPDATE, node, before, audit.snapshot(node, fields=["revoked_at"]),
                 note=reason)
    return node
