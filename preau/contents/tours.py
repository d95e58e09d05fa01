"""Operator tours: offline schools visited in order with ONE USB bundle, and the signed receipts the NAS write
onto it, brought back and ingested.

- Planning: the schools (UAIs, or the late offline schools of a commune: NAS in offline mode, or in auto mode
  at a school without fibre), ordered by nearest neighbour from the first school (lat/lon; good enough for a
  day's round, not an optimal route), each with what it needs (collections whose held version is below the
  current release).
- Bundle: built by the engine (preau_nas.bundle.build) with from_versions = what the tour's schools hold, so
  the disk carries once every chunk one of them lacks. Built into a temporary folder and renamed when complete:
  a cancelled or failed build leaves no half bundle marked ready.
- Receipts: read with the tour's nodes' public keys; each valid receipt records Delivery(via=tour) for the
  releases it confirms (once: get_or_create) and updates the node's held versions. Forged, altered, other
  bundle, a school not on the tour: refused and listed.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from preau.core import audit
from preau.core.models import AuditEntry
from preau.territory.models import School

from . import services
from .models import Delivery, NasNode, Release, Tour, TourStop

MAX_RECEIPT_BYTES = 256 * 1024
CONFIRMED = {"updated", "up_to_date"}


def bundles_root() -> Path:
    """Where tour bundles are built (PREAU_TOUR_BUNDLES, by default next to the content store)."""
    configured = getattr(settings, "PREAU_TOUR_BUNDLES", None)
    return Path(configured) if configured else services.store_path().parent / "tour-bundles"


# --------------------------------------------------------------------------- planning


def current_releases() -> dict[str, Release]:
    out: dict[str, Release] = {}
    for r in Release.objects.filter(withdrawn_at__isnull=True).select_related("collection").order_by(
            "collection__slug", "-version"):
        out.setdefault(r.collection.slug, r)
    return out


def needs_for(node: NasNode | None, school, current: dict[str, Release]) -> dict:
    """{slug: {"held": version or None, "target": version}} for the collections the school receives whose
    held version is below the current release."""
    held = (node.held if node else {}) or {}
    out = {}
    for collection in services.collections_for_school(school):
        release = current.get(collection.slug)
        if release is None:
            continue
        version = held.get(collection.slug)
        if version is None or int(version) < release.version:
            out[collection.slug] = {"held": version, "target": release.version}
    return out


def is_offline(node: NasNode) -> bool:
    """Offline mode, or auto mode at a school without fibre (unknown connectivity counts as no fibre)."""
    connectivity = getattr(node.school, "connectivity", None)
    return services.effective_mode(node.mode, connectivity.access if connectivity else None) == NasNode.Mode.OFFLINE


def propose(commune) -> list:
    """The late offline schools of a commune (with a NAS), in tour order."""
    current = current_releases()
    schools = []
    for node in NasNode.objects.select_related("school", "school__connectivity").filter(
            school__commune=commune, revoked_at__isnull=True):
        if is_offline(node) and needs_for(node, node.school, current):
            schools.append(node.school)
    return order_stops(schools)


def _distance(a, b) -> float:
    if None in (a.lat, a.lon, b.lat, b.lon):
        return math.inf
    # equirectangular approximation: plenty for a few kilometres
    x = math.radians(b.lon - a.lon) * math.cos(math.radians((a.lat + b.lat) / 2))
    y = math.radians(b.lat - a.lat)
    return 6371.0 * math.hypot(x, y)


def order_stops(schools: list) -> list:
    """Nearest neighbour from the first school (schools without coordinates go last, in the given order)."""
    if not schools:
        return []
    rest, route = list(schools[1:]), [schools[0]]
    while rest:
        here = route[-1]
        best = min(range(len(rest)), key=lambda i: (_distance(here, rest[i]), i))
        route.append(rest.pop(best))
    return route


@transaction.atomic
def do_plan_tour(user, *, name: str, planned_on=None, uais=None, commune=None) -> Tour:
    """A tour of the given schools (UAIs, one per line or separated by spaces/commas) or, with none given,
    the late offline schools of `commune`. Every school must have a NAS."""
    name = (name or "").strip()
    if not name:
        raise services.ContentsError(_("Donnez un nom à la tournée."))
    if Tour.objects.filter(name=name).exists():
        raise services.ContentsError(_("La tournée « %(n)s » existe déjà.") % {"n": name})
    codes = [c.strip().upper() for c in str(uais or "").replace(",", " ").split() if c.strip()]
    if codes:
        found = {s.uai: s for s in School.objects.filter(uai__in=codes)}
        unknown = [c for c in codes if c not in found]
        if unknown:
            raise services.ContentsError(_("UAI inconnu(s) : %(u)s.") % {"u": ", ".join(unknown)})
        schools = [found[c] for c in dict.fromkeys(codes)]
        without = [s.uai for s in schools if not NasNode.objects.filter(school=s).exists()]
        if without:
            raise services.ContentsError(_("Ces écoles n'ont pas de NAS : %(u)s.") % {"u": ", ".join(without)})
        schools = order_stops(schools)
    elif commune is not None:
        schools = propose(commune)
        if not schools:
            raise services.ContentsError(_("Aucune école hors ligne en retard à %(c)s.") % {"c": commune.name})
    else:
        raise services.ContentsError(_("Choisissez des écoles (UAI) ou une commune."))
    tour = Tour.objects.create(name=name[:40], planned_on=planned_on,
                               created_by=user if getattr(user, "is_authenticated", False) else None)
    current = current_releases()
    for i, school in enumerate(schools, start=1):
        node = NasNode.objects.filter(school=school).first()
        TourStop.objects.create(tour=tour, school=school, order=i, needs=needs_for(node, school, current))
    audit.record(user, AuditEntry.Action.CREATE, tour, None, audit.snapshot(tour))
    return tour


# --------------------------------------------------------------------------- the bundle


def fresh_needs(tour: Tour) -> dict[int, dict]:
    """{stop pk: needs} as of now: a tour is often planned days before its disk is built, and meanwhile a release
    may be published or withdrawn, or a school updated otherwise."""
    current = current_releases()
    return {stop.pk: needs_for(getattr(stop.school, "nas_node", None), stop.school, current)
            for stop in tour.stops.select_related("school__nas_node")}


def from_versions(tour: Tour, needs: dict[int, dict] | None = None) -> tuple[list[str], dict[str, list]]:
    """(collections, {slug: [manifest id held, or None for an empty NAS]}) for the tour's schools; needs: {stop pk:
    needs} (by default, the needs recorded on the stops)."""
    manifests = {(slug, v): m for slug, v, m in Release.objects.values_list("collection__slug", "version",
                                                                           "manifest")}
    collections: list[str] = []
    starts: dict[str, list] = {}
    for stop in tour.stops.select_related("school__nas_node"):
        node = getattr(stop.school, "nas_node", None)
        held = (node.held if node else {}) or {}
        for slug in (stop.needs if needs is None else needs.get(stop.pk, {})):
            if slug not in collections:
                collections.append(slug)
            version = held.get(slug)
            start = manifests.get((slug, int(version))) if version is not None else None
            if start not in starts.setdefault(slug, []):
                starts[slug].append(start)
    return sorted(collections), starts


def check_can_build(tour: Tour) -> None:
    """A disk cannot be rebuilt once NAS have applied it (their receipts name its id), nor twice at once."""
    if tour.state in (Tour.State.ON_TOUR, Tour.State.DONE):
        raise services.ContentsError(_("Des NAS ont déjà appliqué le disque de cette tournée : prévoyez une "
                                       "nouvelle tournée plutôt que de le reconstruire."))
    if tour.job_id and tour.job.status in (tour.job.Status.QUEUED, tour.job.Status.RUNNING):
        raise services.ContentsError(_("Le disque de cette tournée est déjà en construction."))


STALE_BUILD_SECONDS = 6 * 3600


def _sweep_stale_builds(root: Path) -> None:
    """Remove the temporary folders of builds killed outright (a worker stopped by SIGKILL or a power cut never
    reaches its clean-up); one untouched for hours is no live build."""
    limit = time.time() - STALE_BUILD_SECONDS
    for folder in root.glob(".building-*"):
        try:
            if folder.stat().st_mtime < limit:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def build_bundle(tour: Tour, progress=None) -> dict:
    """Build the tour's bundle (engine events → progress(event)) for what the schools need now (the stops' needs
    are updated with the bundle). Written to a temporary folder, renamed when complete; on any error or
    cancellation the temporary folder is removed and the tour is unchanged."""
    import preau_nas

    if tour.state in (Tour.State.ON_TOUR, Tour.State.DONE):
        check_can_build(tour)
    needs = fresh_needs(tour)
    collections, starts = from_versions(tour, needs)
    if not collections:
        raise services.ContentsError(_("Les écoles de cette tournée n'ont besoin de rien : pas de disque à faire."))
    root = bundles_root()
    root.mkdir(parents=True, exist_ok=True)
    current = current_releases()  # the engine's "latest" may be a withdrawn release: aim at the current one
    targets = {slug: current[slug].manifest for slug in collections if slug in current}
    _sweep_stale_builds(root)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        summary = preau_nas.bundle.build(services.store_path(), work / "bundle", services.publisher_key_path(),
                                         collections=collections, from_versions=starts, targets=targets,
                                         progress=progress)
        final = root / f"tour-{tour.pk}-{summary['bundle'][:16]}-{uuid.uuid4().hex[:6]}"
        os.replace(work / "bundle", final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with transaction.atomic():
        tour = Tour.objects.select_for_update().get(pk=tour.pk)
        old = tour.bundle_path
        before = audit.snapshot(tour, fields=["state", "bundle_id"])
        tour.bundle_path, tour.bundle_id, tour.bundle_bytes = str(final), summary["bundle"], summary["bytes"]
        tour.state = Tour.State.BUNDLE_READY
        tour.save(update_fields=["bundle_path", "bundle_id", "bundle_bytes", "state"])
        for stop in tour.stops.all():
            if stop.pk in needs and needs[stop.pk] != stop.needs:
                stop.needs = needs[stop.pk]
                stop.save(update_fields=["needs"])
        audit.record(None, AuditEntry.Action.UPDATE, tour, before, audit.snapshot(tour, fields=["state", "bundle_id"]),
                     note=_("disque de tournée prêt"))
    if old and old != str(final) and Path(old).parent == root:
        shutil.rmtree(old, ignore_errors=True)  # the previous bundle of this tour is superseded
    return {"tour": tour.name, "tour_pk": tour.pk, "bundle": summary["bundle"], "chunks": summary["chunks"], "bytes": summary["bytes"],
            "collections": {c: d["version"] for c, d in summary["collections"].items()}}


def bundle_files(tour: Tour):
    """(relative path, absolute path) of every file of the tour's ready bundle, sorted."""
    base = Path(tour.bundle_path)
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        yield path.relative_to(base).as_posix(), path


def archive_folder(tour: Tour) -> str:
    """The one folder the archive extracts to, named after the tour: "/", "\\" and control characters of the name
    become "-", so that it stays one folder (a name like "a/../../b" cannot reach out of the extraction folder)."""
    return "preau-" + re.sub(r"[/\\\x00-\x1f\x7f]", "-", tour.name)


def stream_tar(tour: Tour, chunk: int = 1 << 20):
    """A ustar/pax archive of the bundle, produced piece by piece (a pack may be a gigabyte)."""
    import tarfile

    prefix = archive_folder(tour)
    base = Path(tour.bundle_path)
    for directory in sorted(p for p in base.rglob("*") if p.is_dir()):  # receipts/ is empty until the tour
        info = tarfile.TarInfo(f"{prefix}/{directory.relative_to(base).as_posix()}")
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(directory.stat().st_mtime)
        yield info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")
    for rel, path in bundle_files(tour):
        size = path.stat().st_size
        info = tarfile.TarInfo(f"{prefix}/{rel}")
        info.size, info.mode, info.mtime = size, 0o644, int(path.stat().st_mtime)
        yield info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")
        with open(path, "rb") as f:
            while data := f.read(chunk):
                yield data
        if size % tarfile.BLOCKSIZE:
            yield b"\0" * (tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE)
    yield b"\0" * (tarfile.BLOCKSIZE * 2)


# --------------------------------------------------------------------------- receipts


def _disk_id(bundle_dir) -> str:
    """The signed id of the disk in `bundle_dir`; refused if unreadable or signed by another publishing key
    (another deployment of Préau: its disks, tours and NAS keys mean nothing here)."""
    from preau_nas.keys import open_envelope

    try:
        data = (Path(bundle_dir) / "preau-bundle.json").read_bytes()
        _obj, bundle_id, signer = open_envelope(data, None, "bundle")
    except Exception as exc:  # noqa: BLE001 — missing, unreadable or not a signed envelope: the same refusal
        raise services.ContentsError(_("%(d)s : pas un disque de tournée lisible (%(e)s).")
                                     % {"d": bundle_dir, "e": exc}) from exc
    if signer != services.publisher_public_key():
        raise services.ContentsError(_("Le disque %(b)s est signé par une autre clé de publication : il vient d'un "
                                       "autre déploiement de Préau. Aucun accusé relevé.") % {"b": bundle_id[:16]})
    return bundle_id


def tour_for_bundle(bundle_dir) -> Tour:
    """The tour whose bundle is the one in `bundle_dir` (by its signed id)."""
    bundle_id = _disk_id(bundle_dir)
    found = list(Tour.objects.filter(bundle_id=bundle_id).order_by("pk")[:2])
    if not found:
        raise services.ContentsError(_("Le disque %(b)s ne correspond à aucune tournée de ce déploiement.")
                                     % {"b": bundle_id[:16]})
    if len(found) > 1:  # the same disk built for two tours (same schools, versions and second): never guess
        raise services.ContentsError(_("Le disque %(b)s est celui de plusieurs tournées (%(t)s) : précisez la tournée "
                                       "(--tour).") % {"b": bundle_id[:16], "t": ", ".join(t.name for t in found)})
    return found[0]


def ingest_summary(report: dict) -> str:
    """« 2 accusés acceptés, 1 refusé, 2 livraisons nouvelles. » for the page and the command."""
    a, r, n = len(report["accepted"]), len(report["rejected"]), report["new_deliveries"]
    return "{}, {}, {}.".format(
        ngettext("%(n)s accusé accepté", "%(n)s accusés acceptés", a) % {"n": a},
        ngettext("%(n)s refusé", "%(n)s refusés", r) % {"n": r},
        ngettext("%(n)s livraison nouvelle", "%(n)s livraisons nouvelles", n) % {"n": n})


def ingest_dir(user, tour: Tour, bundle_dir) -> dict:
    """Read the receipts of a bundle folder (preau-bundle.json + receipts/) for this tour.

    The folder's disk must be this tour's (same signed id, our publishing key): another tour's disk or
    another deployment's is refused as a whole, nothing read. A folder with only receipts/ (no
    preau-bundle.json) is read receipt by receipt, each checked against the tour's disk id."""
    import preau_nas

    if not tour.bundle_id:
        raise services.ContentsError(_("Cette tournée n'a pas encore de disque."))
    if (Path(bundle_dir) / "preau-bundle.json").exists():
        disk = _disk_id(bundle_dir)
        if disk != tour.bundle_id:
            other = Tour.objects.filter(bundle_id=disk).first()
            raise services.ContentsError(
                _("Ce dossier est le disque de la tournée « %(o)s », pas celui de « %(t)s » : aucun accusé relevé.")
                % {"o": other.name, "t": tour.name} if other else
                _("Ce dossier est un disque (%(b)s) qui n'est pas celui de la tournée « %(t)s » : aucun accusé "
                  "relevé.") % {"b": disk[:16], "t": tour.name})
    nodes = {n.node_id: n for n in NasNode.objects.filter(school__in=tour.stops.values("school"))}
    known = {nid: n.public_key for nid, n in nodes.items() if n.public_key}
    read = preau_nas.read_receipts(bundle_dir, known)
    rejected = [{"file": r["file"], "error": _refusal(r["error"], Path(bundle_dir) / "receipts" / r["file"], tour)}
                for r in read["rejected"]]
    accepted, new = [], 0
    with transaction.atomic():
        for node_id, r in sorted(read["nodes"].items()):
            if r["bundle"] != tour.bundle_id:
                rejected.append({"file": r["receipt"], "error": _refusal(
                    "another bundle", Path(bundle_dir) / "receipts" / r["receipt"], tour)})
                continue
            node = NasNode.objects.select_for_update().get(pk=nodes[node_id].pk)
            n, confirmed = _record(node, tour, r)
            new += n
            accepted.append({"file": r["receipt"], "node": node_id, "school": node.school.name,
                             "confirmed": confirmed, "new": n})
        tour = Tour.objects.select_for_update().get(pk=tour.pk)
        reported = set((tour.last_ingest or {}).get("reported", [])) | {a["node"] for a in accepted}
        tour.last_ingest = {"at": timezone.now().isoformat(), "accepted": accepted, "rejected": rejected,
                            "new_deliveries": new, "reported": sorted(reported)}
        if reported:
            tour.state = Tour.State.DONE if set(nodes) <= reported else Tour.State.ON_TOUR
        tour.save(update_fields=["last_ingest", "state"])
        audit.record(user, AuditEntry.Action.UPDATE, tour, None,
                     {"receipts_accepted": len(accepted), "receipts_refused": len(rejected), "new_deliveries": new},
                     note=_("accusés de réception relevés"))
    return tour.last_ingest


def _claims(path: Path) -> dict:
    """What a refused receipt says of itself (node id, disk id), unchecked: only to explain the refusal."""
    from preau_nas.keys import open_envelope

    try:
        obj, _rid, _signer = open_envelope(path.read_bytes()[:MAX_RECEIPT_BYTES], None, "receipt")
    except Exception:  # noqa: BLE001 — unreadable: the engine's own reason is used
        return {}
    return obj if isinstance(obj, dict) else {}


def _refusal(error: str, path: Path | None = None, tour: Tour | None = None) -> str:
    """The engine's reason, in French, as precise as the receipt allows (which school, which deployment)."""
    claims = _claims(path) if path is not None else {}
    node_id, disk = str(claims.get("node_id") or ""), claims.get("bundle")
    foreign = bool(disk) and not Tour.objects.filter(bundle_id=disk).exists()
    if "forged" in error:
        if foreign:
            return _("accusé d'un autre déploiement : disque inconnu ici et signature qui n'est pas celle du NAS "
                     "%(n)s de ce déploiement") % {"n": node_id}
        return _("signature qui n'est pas celle du NAS (accusé falsifié)")
    if "unknown node" in error:
        node = NasNode.objects.select_related("school").filter(node_id=node_id).first() if node_id else None
        if node is None:
            return _("NAS %(n)s inconnu de ce déploiement (accusé d'un autre déploiement ?)") % {"n": node_id or "?"}
        if tour is not None and not tour.stops.filter(school=node.school_id).exists():
            return _("école hors tournée : %(s)s (%(n)s) n'était pas prévue dans cette tournée") % {
                "s": node.school.name, "n": node_id}
        return _("le NAS de %(s)s n'a pas de clé enregistrée : réenrôlez-le, puis relevez de nouveau") % {
            "s": node.school.name}
    if "another bundle" in error:
        if foreign:
            return _("accusé écrit pour un autre disque, celui d'aucune tournée de ce déploiement")
        return _("accusé écrit pour un autre disque")
    return _("accusé illisible ou modifié (%(e)s)") % {"e": error}


def _record(node: NasNode, tour: Tour, receipt: dict) -> tuple[int, dict]:
    """Deliveries for the releases the receipt confirms; the node's held versions. Returns (new, {slug: v})."""
    confirmed = {slug: e["version"] for slug, e in receipt["collections"].items()
                 if e.get("status") in CONFIRMED and e.get("version")}
    releases = {(r.collection.slug, r.version): r for r in Release.objects.select_related("collection").filter(
        collection__slug__in=list(confirmed), version__in=list(confirmed.values()))}
    new = 0
    when = timezone.now()
    for slug, version in confirmed.items():
        release = releases.get((slug, version))
        if release is None:
            continue
        _delivery, created = Delivery.objects.get_or_create(
            node=node, release=release, defaults={"via": Delivery.Via.TOUR, "tour": tour.name, "delivered_at": when})
        new += created
    held = dict(node.held or {})
    changed = False
    for slug, version in confirmed.items():
        if held.get(slug) is None or int(held[slug]) < version:
            held[slug], changed = version, True
    if changed:
        node.held = held
        node.save(update_fields=["held"])
    return new, confirmed


def ingest_uploads(user, tour: Tour, files) -> dict:
    """Receipts uploaded from the disk's receipts/ folder: checked against the tour's own bundle."""
    if not tour.bundle_path or not (Path(tour.bundle_path) / "preau-bundle.json").exists():
        raise services.ContentsError(_("Le disque de cette tournée n'est plus sur le serveur : relevez les accusés "
                                       "avec « preau receipts-ingest DOSSIER »."))
    if not files:
        raise services.ContentsError(_("Choisissez les fichiers du dossier receipts/ du disque."))
    with tempfile.TemporaryDirectory(prefix="receipts-") as tmp:
        shutil.copy(Path(tour.bundle_path) / "preau-bundle.json", Path(tmp) / "preau-bundle.json")
        rd = Path(tmp) / "receipts"
        rd.mkdir()
        for f in files:
            name = os.path.basename(f.name or "")
            if not name.endswith(".json"):
                raise services.ContentsError(_("%(f)s : un accusé est un fichier .json.") % {"f": name or "?"})
            if f.size > MAX_RECEIPT_BYTES:
                raise services.ContentsError(_("%(f)s : fichier trop gros pour un accusé.") % {"f": name})
            with open(rd / name, "wb") as out:
                for piece in f.chunks():
                    out.write(piece)
        return ingest_dir(user, tour, tmp)
