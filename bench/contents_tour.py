"""The tour bundle case of the contents benchmark (bench/contents.py), with the real engine.

Publishes 3 collections (t-lecture, t-video, t-calcul) in VERSIONS versions through preau.contents.services
.publish into the benchmark's own content store: mostly incompressible files (videos, images, PDFs), a few
text files, each version replacing about one file in six and adding one. Then sets the held versions of the
NAS of `schools` schools: one in five empty (nothing of the three), the others at v1…v(N-1) of some
collections and current on others; plans a tour of them (tours.do_plan_tour) and times tours.build_bundle.
For comparison, builds for each school alone the bundle it would need (same engine, same targets, from its
own versions only) and sums their sizes: the tour bundle carries each missing chunk once.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

SLUGS = ["t-lecture", "t-video", "t-calcul"]


def _write_version(src: Path, version: int, files: int, size: int, rng: random.Random) -> None:
    """Version 1: `files` files; each later version replaces one file in six (a different sixth each time)
    and adds one."""
    src.mkdir(parents=True, exist_ok=True)
    count = files + version - 1
    for j in range(count):
        path = src / f"d{j % 4}" / (f"f{j:03d}.txt" if j % 8 == 0 else f"f{j:03d}.bin")
        new = j >= files + version - 2 if version > 1 else True
        if new or (j + version) % 6 == 0:
            path.parent.mkdir(exist_ok=True)
            if path.suffix == ".txt":
                words = [f"mot{rng.randint(0, 999)}" for _ in range(size // 20)]
                path.write_text(" ".join(words))
            else:
                path.write_bytes(rng.randbytes(size))


def run_tour_bundle(info: dict, n_schools: int, tmp: Path, *, quick: bool, log=print) -> dict:
    import preau_nas

    from preau.accounts.models import User
    from preau.contents import services, tours
    from preau.contents.models import NasNode, Release

    versions, files, size = (3, 16, 48 * 1024) if quick else (4, 32, 96 * 1024)
    admin = User.objects.get(pk=info["admin"])
    rng = random.Random(42)
    t = time.perf_counter()
    for slug in SLUGS:
        collection = services.do_create_collection(admin, slug=slug, name=slug)
        src = tmp / "src" / slug
        for v in range(1, versions + 1):
            _write_version(src, v, files, size, rng)
            services.publish(admin, collection, src)
    publish_s = round(time.perf_counter() - t, 1)
    manifests = {(r.collection.slug, r.version): r.manifest for r in
                 Release.objects.filter(collection__slug__in=SLUGS).select_related("collection")}
    current = {slug: max(v for s, v in manifests if s == slug) for slug in SLUGS}
    content_bytes = sum(p.stat().st_size for p in (tmp / "src").rglob("*") if p.is_file())

    nodes = list(NasNode.objects.filter(revoked_at__isnull=True).select_related("school").order_by("pk")
                 [:n_schools])
    empty = 0
    for i, node in enumerate(nodes):
        held = dict(info["current"])  # up to date on the 20 collections of the dashboard
        if i % 5 == 0:
            empty += 1
        else:
            for k, slug in enumerate(SLUGS):
                held[slug] = 1 + (i + k) % versions  # v1 … vN (current: nothing needed)
            if all(held[s] == current[s] for s in SLUGS):
                held[SLUGS[0]] = 1
        NasNode.objects.filter(pk=node.pk).update(held=held)
    tour = tours.do_plan_tour(admin, name="bench", uais=" ".join(n.school.uai for n in nodes))
    stops = list(tour.stops.select_related("school__nas_node").order_by("order"))
    needs = [stop.needs for stop in stops]
    if any(not need for need in needs):
        raise RuntimeError("a school of the tour needs nothing")

    t = time.perf_counter()
    built = tours.build_bundle(tour)
    seconds = time.perf_counter() - t

    per_school = []
    work = tmp / "per-school"
    t = time.perf_counter()
    for i, stop in enumerate(stops):
        held = stop.school.nas_node.held or {}
        starts = {slug: [manifests[(slug, int(held[slug]))] if slug in held else None] for slug in stop.needs}
        out = work / str(i)
        summary = preau_nas.bundle.build(services.store_path(), out, services.publisher_key_path(),
                                         collections=sorted(stop.needs), from_versions=starts,
                                         targets={s: manifests[(s, current[s])] for s in stop.needs})
        per_school.append(summary["bytes"])
        shutil.rmtree(out, ignore_errors=True)
    per_school_s = time.perf_counter() - t
    total = sum(per_school)
    log(f"  tour of {len(stops)} schools: bundle {built['bytes']:,} B in {seconds:.1f} s; alone: {total:,} B")
    return {
        "schools": len(stops), "empty_schools": empty, "collections": len(SLUGS), "versions": versions,
        "published_bytes": content_bytes, "publish_s": publish_s,
        "seconds": round(seconds, 2), "bundle_bytes": built["bytes"], "chunks": built["chunks"],
        "sum_per_school_bytes": total, "ratio": round(built["bytes"] / total, 3) if total else None,
        "per_school_bytes_min": min(per_school), "per_school_bytes_max": max(per_school),
        "per_school_build_s": round(per_school_s, 1), "collections_in_bundle": built["collections"],
        "needs_kinds": len({tuple(sorted((s, n["held"]) for s, n in need.items())) for need in needs}),
    }
