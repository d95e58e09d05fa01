"""The demo contents, built after the fleet (order 40): three collections with a few releases published
through the real engine (small generated trees, a few KB each, in a temporary folder under DATA_DIR), and a
NAS node for almost every demo school in mixed states: up to date, late by one release, never delivered,
silent for weeks, enrolment code issued but never used, revoked; a few report an error. And a tour in
progress: the late offline schools of one commune, its disk built by the real engine, and one school already
visited (a NAS in a temporary folder really applies the disk, and its signed receipt is ingested).

Nodes and deliveries are written in bulk (no check-in goes through the agents' HTTP side). Deterministic for a
given seed: the same schools get the same states and versions (manifest ids differ: they sign a date).
The store may hold leftovers of a previous demo whose database was emptied: the demo collections' pointers
and manifests are removed from the store first (never when the database knows the collection).
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from preau.accounts.models import User
from preau.core import demo
from preau.territory.models import Connectivity

from . import services, tours
from .models import Collection, Delivery, NasNode, Release, Subscription, Tour

# slug, name, description, releases (days ago), subscription: None (all schools) or a school kind
COLLECTIONS = [
    ("cycle2", "Ressources cycle 2", "Lecture, numération, albums et vidéos pour le CP, le CE1 et le CE2.",
     [150, 80, 12], None),
    ("cycle3", "Ressources cycle 3", "Sciences, histoire, géographie et anglais pour le CM1, le CM2 et la 6e.",
     [120, 30], None),
    ("client-leger-2026", "Image client léger 2026", "Image de démarrage PXE des clients légers des classes.",
     [200, 45], "elementaire"),
]
NOTES = ["Version de rentrée.", "Corrections et nouveaux albums.", "Ajout des vidéos de sciences.",
         "Mise à jour de sécurité.", "Nouvelles fiches d'exercices."]
WORDS = ("lecture écriture calcul nombre géométrie conte album chanson poésie sciences eau air plante "
         "animal carte frise histoire anglais couleur forme mesure temps saison").split()
ERRORS = ["Disque presque plein : 2 % libre.", "Délai dépassé en joignant le serveur.",
          "Somme de contrôle incorrecte pour un fragment : nouvelle tentative."]
# Node states and their share (the rest is up to date).
STATES = [("none", 0.04), ("code", 0.05), ("revoked", 0.03), ("silent", 0.08), ("never", 0.07), ("late", 0.20)]


def _write_tree(rng, root: Path, slug: str, version: int) -> None:
    """A few small files; each version rewrites some and adds one, so releases share most chunks."""
    for i in range(3 + version):
        sub = root / ("fiches" if i % 2 else "albums")
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"{slug}-{i:02d}.txt"
        if path.exists() and rng.random() < 0.6:
            continue
        path.write_text(" ".join(rng.choice(WORDS) for _ in range(rng.randint(150, 400))) + "\n", encoding="utf-8")
    (root / "LISEZMOI.txt").write_text(f"{slug} version {version}\n", encoding="utf-8")


def _forget_orphans(slugs: list[str]) -> None:
    store = services.store_path()
    for slug in slugs:
        for part in ("collections", "manifests", "deltas"):
            shutil.rmtree(store / part / slug, ignore_errors=True)


def _state(rng) -> str:
    x, acc = rng.random(), 0.0
    for name, share in STATES:
        acc += share
        if x < acc:
            return name
    return "uptodate"


def build_contents(rng, context: dict) -> dict:
    slugs = [c[0] for c in COLLECTIONS]
    if Collection.objects.filter(slug__in=slugs).exists():
        return {"collections": 0, "releases": 0, "nodes": 0, "deliveries": 0}
    _forget_orphans(slugs)
    admin = User.objects.filter(username="admin").first()
    now = timezone.now()
    collections: list[tuple[Collection, list[Release], str | None]] = []
    base = Path(settings.DATA_DIR)
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="demo-contents-", dir=base) as tmp:
        for slug, name, description, ages, kind in COLLECTIONS:
            collection = services.do_create_collection(admin, slug=slug, name=name, description=description)
            if kind:
                collection.subscriptions.all().delete()
                Subscription.objects.create(collection=collection, scope=Subscription.Scope.KIND, school_kind=kind)
            releases = []
            src = Path(tmp) / slug
            for version, days in enumerate(ages, start=1):
                _write_tree(rng, src, slug, version)
                release = services.publish(admin, collection, src, notes=NOTES[(version - 1) % len(NOTES)])
                Release.objects.filter(pk=release.pk).update(published_at=now - timedelta(days=days))
                release.published_at = now - timedelta(days=days)
                releases.append(release)
            collections.append((collection, releases, kind))

    access = dict(Connectivity.objects.values_list("school_id", "access"))
    nodes, held_by_node = [], []
    for school in context["schools"]:
        state = _state(rng)
        if state == "none":
            continue
        node = NasNode(school=school, node_id=services.node_id_for(school),
                       mode=NasNode.Mode.OFFLINE if rng.random() < 0.15 else NasNode.Mode.AUTO)
        held: dict[str, int] = {}
        if state == "code":
            node.enrolment_code_hash = services.digest(f"demo-{school.uai}-{rng.random()}")
            node.enrolment_expires_at = now + timedelta(hours=rng.randint(2, 40))
        else:
            node.enrolled_at = now - timedelta(days=rng.randint(100, 240), minutes=rng.randint(0, 1440))
            node.agent_version = "0.1.0"
            node.disk_free_bytes = rng.randint(20, 900) * 10**9
            node.last_checkin_seq = rng.randint(500, 5000)
            if state == "silent":
                node.last_checkin_at = now - timedelta(days=rng.randint(9, 45), minutes=rng.randint(0, 1440))
            else:
                node.last_checkin_at = now - timedelta(minutes=rng.randint(5, 60 * 30))
            if state == "revoked":
                node.revoked_at = now - timedelta(days=rng.randint(1, 20))
                node.last_checkin_at = node.revoked_at - timedelta(hours=rng.randint(1, 48))
            for collection, releases, kind in collections:
                if kind and school.kind != kind:
                    continue
                if state == "never":
                    continue
                latest = len(releases)
                behind = 1 if state in ("late", "silent", "revoked") else 0
                if state == "late" and rng.random() < 0.5:
                    behind = 0  # late on some collections only
                if latest - behind >= 1:
                    held[collection.slug] = latest - behind
            if rng.random() < 0.06 or (state == "never" and rng.random() < 0.5):
                node.last_error = rng.choice(ERRORS)
        node.held = held
        nodes.append(node)
        held_by_node.append(held)
    NasNode.objects.bulk_create(nodes, batch_size=1000)

    by_slug = {c.slug: releases for c, releases, _kind in collections}
    deliveries = []
    for node, held in zip(nodes, held_by_node, strict=True):
        offline = services.effective_mode(node.mode, access.get(node.school_id)) == NasNode.Mode.OFFLINE
        via = Delivery.Via.TOUR if offline else Delivery.Via.ONLINE
        for slug, version in held.items():
            for release in by_slug[slug][:version]:
                start = max(release.published_at, node.enrolled_at)
                deliveries.append(Delivery(
                    node=node, release=release, via=via, delivered_at=start + timedelta(hours=rng.randint(1, 96)),
                    tour=f"T-{release.published_at:%Y%m%d}" if via == Delivery.Via.TOUR else ""))
    Delivery.objects.bulk_create(deliveries, batch_size=2000)
    tour = _tour_in_progress(admin, now)
    return {"collections": len(collections), "releases": sum(len(r) for _c, r, _k in collections),
            "nodes": len(nodes), "deliveries": Delivery.objects.filter(release__collection__slug__in=slugs).count(),
            "tours": 1 if tour else 0}


def _tour_in_progress(admin, now) -> Tour | None:
    """The commune with the most late offline schools gets a tour (8 schools at most, nearest-neighbour order)
    planned for the day after tomorrow, its disk built; the first school whose NAS holds nothing of what it
    needs is visited: a NAS folder with that node's id and a key of its own (registered as the node's) applies
    a copy of the disk and writes its signed receipt, which is ingested as at the office."""
    import preau_nas

    by_commune: dict = {}
    for node in NasNode.objects.select_related("school__connectivity", "school__commune").filter(
            enrolled_at__isnull=False, revoked_at__isnull=True).order_by("school__uai"):
        if tours.is_offline(node):
            by_commune.setdefault(node.school.commune, []).append(node)
    current = tours.current_releases()
    candidates = []
    for commune, nodes in by_commune.items():
        late = [n.school.uai for n in nodes if tours.needs_for(n, n.school, current)]
        if late:
            candidates.append((-len(late), commune.insee, late))
    if not candidates:
        return None
    _n, _insee, uais = min(candidates)
    tour = tours.do_plan_tour(admin, name=f"Tournée de démonstration {now:%d/%m/%Y}",
                              planned_on=(now + timedelta(days=2)).date(), uais=" ".join(uais[:8]))
    tours.build_bundle(tour)
    tour.refresh_from_db()
    stop = next((s for s in tour.stops.select_related("school").order_by("order")
                 if s.needs and all(n.get("held") is None for n in s.needs.values())), None)
    if stop is None:
        return tour
    node = NasNode.objects.get(school=stop.school)
    with tempfile.TemporaryDirectory(prefix="demo-tour-", dir=Path(settings.DATA_DIR)) as tmp:
        disk = Path(tmp) / "disk"
        shutil.copytree(tour.bundle_path, disk)
        root = preau_nas.init_node(Path(tmp) / "nas", node.node_id, [services.publisher_public_key()],
                                   collections=sorted(stop.needs)).root
        NasNode.objects.filter(pk=node.pk).update(public_key=preau_nas.Node(root).keypair().public)
        preau_nas.bundle.apply(root, disk)
        tours.ingest_dir(admin, tour, disk)
    return tour


demo.register(40, "contents", build_contents)
