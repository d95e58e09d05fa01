"""The freshness dashboard, /contenus/fraicheur/: per collection, the subscribed schools up to date, late,
never delivered, failing or silent (a stacked bar and its table), the silent and failing NAS, and a map of the
schools coloured by the freshness of one collection.

Who (preau.contents.access): whoever sees the NAS — the contents team and committees over the whole territory,
commune staff, advisors, directors and teachers over their schools; others get a 403. The error messages of
failing NAS are shown as on the NAS list (contents:nodes), to the same people.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from preau.accounts import access as territory_access
from preau.territory import maps

from . import access, freshness

MAP_STATES = ["uptodate", "late1", "late", "never", "failing", "silent"]


def _map(user, schools: dict, cf: freshness.CollectionFreshness) -> dict:
    """The territory SVG map (commune outlines) with the subscribed schools coloured by their state."""
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
    points = []
    for pk, s in located:
        x, y = project(s.lon, s.lat)
        state = cf.states[pk]
        points.append((f"{x:.1f}", f"{y:.1f}", state, freshness.COLOURS[state], s.name, s.uai))
    return {
        "width": f"{project.width:.0f}", "height": f"{project.height:.0f}", "points": points,
        "shapes": [(insee, name, maps.svg_path(geometry, project)) for insee, name, geometry in communes],
        "linked": len(points) <= 600, "radius": 4 if len(points) <= 600 else 2,
    }


@login_required
def freshness_dashboard(request: HttpRequest) -> HttpResponse:
    access.require_see_nodes(request.user)
    data = freshness.compute(territory_access.schools_for(request.user))
    # The map shows the collection asked for, else the one reaching the most schools.
    wanted = request.GET.get("collection", "")
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
    return render(request, "contents/freshness.html", {
        "data": data, "chosen": chosen, "map": _map(request.user, data.schools, chosen) if chosen else None,
        "late": late[:500], "late_total": len(late),
        "legend": [(k, freshness.STATES[k], freshness.COLOURS[k], chosen.counts[k] if chosen else 0)
                   for k in MAP_STATES],
        "can_read_collections": access.can_read_collections(request.user),
        "silent_days": freshness.silent_days(),
    })


urlpatterns = [
    path("fraicheur/", freshness_dashboard, name="freshness"),
]
