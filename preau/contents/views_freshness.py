"""The freshness dashboard, /contenus/fraicheur/: per collection, the subscribed schools up to date, late,
never delivered, failing or silent (a stacked bar and its table), the silent and failing NAS, and a map of the
schools coloured by the freshness of one collection.

At 50,000 NAS computing the page takes seconds (docs/contents-bench.md): a computed page (in its slim form:
counts, lists, map, late schools) is reused for the same user, collection and language while
freshness.data_fingerprint() (one query) is unchanged, PAGE_SECONDS at most. Beyond MAP_MAX_POINTS schools,
the map shows one point per square of a grid, coloured by its most frequent state.

Who (preau.contents.access): whoever sees the NAS — the contents team and committees over the whole territory,
commune staff, advisors, directors and teachers over their schools; others get a 403. The error messages of
failing NAS are shown as on the NAS list (contents:nodes), to the same people.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from types import SimpleNamespace

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import get_language, ngettext

from preau.accounts import access as territory_access
from preau.territory import maps

from . import access, freshness

MAP_STATES = ["uptodate", "late1", "late", "never", "failing", "silent"]
# Rows shown in the page's lists (the counts are always whole): a longer list is for the NAS list's filters
# (silent, in error) or a tour's proposal (late schools), not for reading; it also keeps the page fast at
# 50,000 schools (its time is the template's rows).
LATE_ROWS, ALERT_ROWS = 100, 50
MAP_MAX_POINTS = 600  # beyond, the map groups the schools by square (GRID x GRID over the territory)
GRID = 24
PAGE_SECONDS = 60  # a computed page is reused (same user, collection, language and data) for this long
_pages: OrderedDict = OrderedDict()  # per process: key -> (expires, context)
PAGES_KEPT = 32


def _grouped(project, located, cf) -> list[tuple]:
    """One point per square of the grid holding schools: coloured by its most frequent state (ties: the order
    of MAP_STATES), titled with its number of schools and their states."""
    cells: dict[tuple[int, int], dict] = {}
    xs, ys = [], []
    for pk, s in located:
        x, y = project(s.lon, s.lat)
        xs.append(x)
        ys.append(y)
        key = (min(int(x / max(project.width, 1) * GRID), GRID - 1), min(int(y / max(project.height, 1) * GRID),
                                                                          GRID - 1))
        cell = cells.setdefault(key, {"x": 0.0, "y": 0.0, "n": 0, "states": dict.fromkeys(MAP_STATES, 0)})
        cell["x"] += x
        cell["y"] += y
        cell["n"] += 1
        cell["states"][cf.states[pk]] += 1
    points = []
    for cell in cells.values():
        state = max(MAP_STATES, key=lambda k: (cell["states"][k], -MAP_STATES.index(k)))
        detail = ", ".join(f"{n} {freshness.STATES[k]}" for k, n in cell["states"].items() if n)
        points.append((f"{cell['x'] / cell['n']:.1f}", f"{cell['y'] / cell['n']:.1f}", state, freshness.COLOURS[state],
                       ngettext("%(n)s école", "%(n)s écoles", cell["n"]) % {"n": cell["n"]}, detail))
    return points


def _map(user, schools: dict, cf: freshness.CollectionFreshness) -> dict:
    """The territory SVG map (commune outlines) with the subscribed schools coloured by their state; beyond
    MAP_MAX_POINTS schools, one point per square of a GRID x GRID grid (its most frequent state)."""
    located = [(pk, s) for pk, s in schools.items() if pk in cf.states and s.lat is not None and s.lon is not None]
    communes = list(territory_access.communes_for(user).filter(boundary__isnull=False)
                    .values_list("insee", "name", "boundary"))
    lons = [s.lon for _pk, s in located]
    lats = [s.lat for _pk, s in located]
    for _insee, _name, geometry in communes:
        glons, glats = maps.geometry_bounds(geometry)
        lons += glons
        lats += glats
    project = maps.Projection(lons, lats)
    if len(located) > MAP_MAX_POINTS:
        points = _grouped(project, located, cf)
    else:
        points = []
        for pk, s in located:
            x, y = project(s.lon, s.lat)
            state = cf.states[pk]
            points.append((f"{x:.1f}", f"{y:.1f}", state, freshness.COLOURS[state], s.name, s.uai))
    return {
        "width": f"{project.width:.0f}", "height": f"{project.height:.0f}", "points": points,
        "shapes": [(insee, name, maps.svg_path(geometry, project)) for insee, name, geometry in communes],
        "linked": len(located) <= 600, "radius": 4 if len(located) <= 600 else 2,
        "grouped": len(located) > MAP_MAX_POINTS,
    }


def _page(user, wanted: str) -> dict:
    """What the page shows, computed from the data (freshness.compute) and kept only in its slim form: counts
    per collection, the lists, the map and the late schools of the chosen collection."""
    data = freshness.compute(territory_access.schools_for(user))
    # The map shows the collection asked for, else the one reaching the most schools.
    chosen = next((cf for cf in data.collections if cf.collection.slug == wanted), None)
    if chosen is None and data.collections:
        chosen = max(data.collections, key=lambda cf: cf.total)
    late: list = []
    if chosen is not None:
        slug = chosen.collection.slug
        late = [(data.schools[pk], state, freshness.STATES[state], data.nodes.get(pk),
                 (data.nodes[pk].held or {}).get(slug) if pk in data.nodes else None)
                for pk, state in chosen.states.items() if state != "uptodate"]
        late.sort(key=lambda r: (MAP_STATES.index(r[1]), r[0].name))
    map_ = _map(user, data.schools, chosen) if chosen else None
    slim = [freshness.CollectionFreshness(cf.collection, cf.current, cf.counts) for cf in data.collections]
    chosen_slim = next((cf for cf in slim if chosen is not None and cf.collection.pk == chosen.collection.pk), None)
    return {
        "data": SimpleNamespace(schools=range(len(data.schools)), collections=slim, silent=data.silent,
                                failing=data.failing),
        "chosen": chosen_slim, "map": map_, "late": late[:LATE_ROWS], "late_total": len(late),
        "legend": [(k, freshness.STATES[k], freshness.COLOURS[k], chosen.counts[k] if chosen else 0)
                   for k in MAP_STATES],
    }


@login_required
def freshness_dashboard(request: HttpRequest) -> HttpResponse:
    """Computing the page for 50,000 NAS takes seconds: a page is reused while the data's fingerprint
    (freshness.data_fingerprint: one query) is unchanged, PAGE_SECONDS at most (docs/contents-bench.md)."""
    access.require_see_nodes(request.user)
    wanted = request.GET.get("collection", "")
    key = (request.user.pk, wanted, get_language(), freshness.data_fingerprint())
    now = time.monotonic()
    kept = _pages.get(key)
    if kept is None or kept[0] < now:
        kept = _pages[key] = (now + PAGE_SECONDS, _page(request.user, wanted))
        while len(_pages) > PAGES_KEPT:
            _pages.popitem(last=False)
    _pages.move_to_end(key)
    return render(request, "contents/freshness.html", {
        **kept[1],
        "can_read_collections": access.can_read_collections(request.user),
        "silent_days": freshness.silent_days(), "late_rows": LATE_ROWS, "alert_rows": ALERT_ROWS,
    })


urlpatterns = [
    path("fraicheur/", freshness_dashboard, name="freshness"),
]
