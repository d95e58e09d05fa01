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
import time
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from preau.core import audit
from preau.core.models import AuditEntry
from preau.territory.models import Access, Connectivity, School

from .models import Collection, Delivery, NasNode, OfferGeneration, Release, Subscription

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


# Check-ins are the hottest path of the service (every NAS, every quarter of an hour): their two writes and
# reads are written in SQL (a RawQuerySet keeps Django's conversions), which costs a fifth of the ORM's
# query building (docs/contents-bench.md).


def _node_sql() -> str:
    qn = connection.ops.quote_name
    return (f"SELECT n.*, s.{qn('commune_id')} AS school_commune_id, s.{qn('kind')} AS school_kind, "
            f"c.{qn('access')} AS school_access, "
            f"{_fingerprint_sql()} FROM {qn(NasNode._meta.db_table)} n "
            f"JOIN {qn(School._meta.db_table)} s ON s.{qn('id')} = n.{qn('school_id')} "
            f"LEFT JOIN {qn(Connectivity._meta.db_table)} c ON c.{qn('school_id')} = n.{qn('school_id')} "
            f"WHERE n.{qn('node_id')} = %s")


def effective_mode(mode: str, access: str | None) -> str:
    """Online or offline, as the platform decides it: the NAS's own mode when forced, else (auto) online only
    at a school with fibre; an unknown connectivity counts as no fibre (such schools get operator tours)."""
    if mode in (NasNode.Mode.ONLINE, NasNode.Mode.OFFLINE):
        return mode
    return NasNode.Mode.ONLINE if access == Access.FIBRE else NasNode.Mode.OFFLINE


def authenticate(node_id: str, credential: str) -> NasNode:
    """The node whose credential this is (one indexed query, a constant-time comparison), with its school's
    commune and kind loaded (the school's other fields are loaded if used) and, read in the same query, the
    fingerprint of the offers (offer_table)."""
    node = next(iter(NasNode.objects.raw(_node_sql(), [node_id])), None)
    if node is None or not node.credential_hash or not hmac.compare_digest(node.credential_hash,
                                                                           digest(credential or "")):
        raise AgentRefused(_("Identifiants du NAS refusés."), 401)
    if node.revoked_at is not None:
        raise AgentRefused(_("Ce NAS a été révoqué : réenrôlez-le avec un nouveau code."), 403)
    known = {"id": node.school_id, "kind": node.school_kind, "commune_id": node.school_commune_id}
    names = [f.attname for f in School._meta.concrete_fields if f.attname in known]
    node.school = School.from_db(node._state.db, names, [known[n] for n in names])
    node.offers_fingerprint = tuple(getattr(node, f"fp{i}") for i in range(FINGERPRINT_COLUMNS))
    return node


def _record_check_in(node_pk: int, seq: int, fields: dict) -> bool:
    """UPDATE … SET fields WHERE pk = node_pk AND last_checkin_seq < seq; False when no row was updated."""
    qn, meta = connection.ops.quote_name, NasNode._meta
    columns = [meta.get_field(name) for name in fields]
    sql = (f"UPDATE {qn(meta.db_table)} SET {', '.join(f'{qn(f.column)} = %s' for f in columns)} "
           f"WHERE {qn('id')} = %s AND {qn('last_checkin_seq')} < %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*(f.get_db_prep_save(fields[f.name], connection) for f in columns), node_pk, seq])
        return cursor.rowcount > 0


# The offer of every check-in comes from a small table (each collection with a current release: its version,
# manifest and who receives it) kept in memory per process. It is rebuilt (2 queries) when the offers'
# generation moves — a one-row value (OfferGeneration) renewed in the writer's transaction by every save or
# delete of a collection, release or subscription (the signals below) and read by every check-in in the same
# query as its node, so a publication in any process is seen at the next check-in — and at the latest after
# OFFER_CACHE_SECONDS (a bulk update that sends no signal).
OFFER_CACHE_SECONDS = 30
_offers_memo: dict = {}


def bump_generation(**_kwargs) -> None:
    """A new random value, never a counter: a rolled-back bump (a refused publication) must not come back as
    the key of offers another transaction committed."""
    value = secrets.randbits(62)
    if not OfferGeneration.objects.filter(pk=1).update(value=value):
        OfferGeneration.objects.get_or_create(pk=1, defaults={"value": value})
    _offers_memo.clear()


for _model in (Collection, Release, Subscription):
    post_save.connect(bump_generation, sender=_model, dispatch_uid=f"contents-offers-{_model.__name__}-s")
    post_delete.connect(bump_generation, sender=_model, dispatch_uid=f"contents-offers-{_model.__name__}-d")


FINGERPRINT_COLUMNS = 1


def _fingerprint_sql() -> str:
    """The offers' generation as a select-list expression, read alone or with the node of a check-in."""
    qn = connection.ops.quote_name
    return f"(SELECT {qn('value')} FROM {qn(OfferGeneration._meta.db_table)} WHERE {qn('id')} = 1) AS fp0"


def _fingerprint() -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_fingerprint_sql()}")
        return tuple(cursor.fetchone())


def offer_table(fingerprint: tuple | None = None) -> list[tuple]:
    """[(slug, version, manifest, everyone, communes, kinds, schools)] of the collections with a current release.
    fingerprint: as read with the node by authenticate(), else read here."""
    generation, now = fingerprint or _fingerprint(), time.monotonic()
    memo = _offers_memo.get("table")
    if memo and memo[0] == generation and memo[1] > now:
        return memo[2]
    current: dict[int, tuple] = {}
    for collection_id, slug, version, manifest in (Release.objects.filter(withdrawn_at__isnull=True)
                                                   .order_by("collection_id", "version")
                                                   .values_list("collection_id", "collection__slug", "version",
                                                                "manifest")):
        current[collection_id] = (slug, version, manifest)
    reach: dict[int, tuple] = {}
    S = Subscription.Scope
    for collection_id, scope, commune_id, kind, school_id in Subscription.objects.values_list(
            "collection_id", "scope", "commune_id", "school_kind", "school_id"):
        everyone, communes, kinds, schools = reach.setdefault(collection_id, (set(), set(), set(), set()))
        {S.ALL: everyone, S.COMMUNE: communes, S.KIND: kinds, S.SCHOOL: schools}.get(scope, set()).add(
            {S.ALL: True, S.COMMUNE: commune_id, S.KIND: kind, S.SCHOOL: school_id}.get(scope))
    table = sorted((slug, version, manifest, bool(reach[cid][0]), *reach[cid][1:])
                   for cid, (slug, version, manifest) in current.items() if cid in reach)
    seconds = getattr(settings, "PREAU_CONTENT_OFFER_CACHE_SECONDS", OFFER_CACHE_SECONDS)
    _offers_memo["table"] = (generation, now + seconds, table)
    return table


def offers_for_school(school, fingerprint: tuple | None = None) -> dict:
    """{slug: {version, manifest}}: the current release of every collection the school receives (the same
    collections as collections_for_school; one without a current release is not offered)."""
    return {slug: {"version": version, "manifest": manifest}
            for slug, version, manifest, everyone, communes, kinds, schools in offer_table(fingerprint)
            if everyone or school.commune_id in communes or school.kind in kinds or school.pk in schools}


def check_in(node: NasNode, *, seq: int, held: dict, disk_free: int | None = None, last_error: str = "",
             agent_version: str = "") -> dict:
    """Record a check-in (seq must grow: a replayed check-in is refused and changes nothing), the
    versions held (a new version counts once as an online delivery), and answer what to pull and whether to
    pull at all ("mode": an offline NAS gets its contents by operator tour, and a version it reports is the
    tour's delivery, recorded when the disk's receipts are ingested, never counted as online).

    Cheap when nothing changed, which is most check-ins: one conditional UPDATE (… WHERE last_checkin_seq <
    seq: a replay or a check-in overtaken by a later one updates no row and is refused) and the offer from
    offer_table() (one small query when nothing was published). Releases are looked up only for versions `node` did not already hold (its held versions were
    delivered when they first arrived); Delivery's unique (node, release) keeps a delivery counted once even
    when two check-ins of the same NAS race."""
    now = timezone.now()
    if hasattr(node, "school_access"):  # read with the node by authenticate()
        access = node.school_access
    else:
        access = Connectivity.objects.filter(school_id=node.school_id).values_list("access", flat=True).first()
    mode = effective_mode(node.mode, access)
    clean_held = {str(k)[:60]: int(v) for k, v in (held or {}).items() if str(v).isdigit()}
    previous = node.held or {}
    new = {slug: version for slug, version in clean_held.items() if previous.get(slug) != version}
    if mode == NasNode.Mode.OFFLINE:
        new = {}  # arrived on a tour's disk: its receipt records the delivery, with the tour
    fields = {"last_checkin_seq": seq, "last_checkin_at": now, "held": clean_held, "disk_free_bytes": disk_free,
              "last_error": (last_error or "")[:500]}
    if agent_version:
        fields["agent_version"] = agent_version[:40]
    with transaction.atomic() if new else nullcontext():  # one UPDATE alone needs no transaction
        if not _record_check_in(node.pk, seq, fields):
            last = NasNode.objects.filter(pk=node.pk).values_list("last_checkin_seq", flat=True).first()
            raise AgentRefused(_("Contact rejoué ou hors d'ordre (compteur %(s)s ≤ %(last)s) : ignoré.")
                               % {"s": seq, "last": last if last is not None else "?"}, 409)
        if new:
            for release in Release.objects.select_related("collection").filter(
                    collection__slug__in=list(new), version__in=list(new.values())):
                if new.get(release.collection.slug) == release.version:
                    Delivery.objects.get_or_create(node_id=node.pk, release=release,
                                                   defaults={"via": Delivery.Via.ONLINE, "delivered_at": now})
    for name, value in fields.items():
        setattr(node, name, value)
    offers = offers_for_school(node.school, getattr(node, "offers_fingerprint", None))
    return {"collections": offers, "server_time": now.isoformat(), "mode": str(mode)}


@transaction.atomic
def do_revoke(user, node: NasNode, reason: str = "") -> NasNode:
    before = audit.snapshot(node, fields=["revoked_at"])
    node.revoked_at, node.credential_hash = timezone.now(), ""
    node.save(update_fields=["revoked_at", "credential_hash"])
    audit.record(user, AuditEntry.Action.UPDATE, node, before, audit.snapshot(node, fields=["revoked_at"]),
                 note=reason)
    return node
