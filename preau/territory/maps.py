"""Server-rendered SVG maps: commune boundaries and schools as points, no tile server, no JavaScript.

Coordinates are WGS84 (lon, lat); the projection is equirectangular scaled by
cos(mean latitude), which is faithful enough at the scale of a department.
"""

import math
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

WIDTH = 1000.0


@dataclass
class Point:
    x: float
    y: float
    status: str
    label: str
    url: str


class Projection:
    def __init__(self, lons: list[float], lats: list[float], width: float = WIDTH, margin: float = 10.0):
        if not lons:
            lons, lats = [4.0, 5.0], [45.0, 46.0]
        self.lon0, lon1 = min(lons), max(lons)
        lat0, self.lat1 = min(lats), max(lats)
        self.kx = math.cos(math.radians((lat0 + self.lat1) / 2))
        span_x = max((lon1 - self.lon0) * self.kx, 1e-6)
        span_y = max(self.lat1 - lat0, 1e-6)
        self.margin = margin
        self.scale = (width - 2 * margin) / max(span_x, span_y * 0.6)
        self.width = span_x * self.scale + 2 * margin
        self.height = span_y * self.scale + 2 * margin

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        return ((lon - self.lon0) * self.kx * self.scale + self.margin, (self.lat1 - lat) * self.scale + self.margin)


def _rings(geometry: dict) -> list[list[list[float]]]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates") or []
    if kind == "Polygon":
        return coords
    if kind == "MultiPolygon":
        return [ring for polygon in coords for ring in polygon]
    return []


def geometry_bounds(geometry: dict) -> tuple[list[float], list[float]]:
    lons, lats = [], []
    for ring in _rings(geometry):
        for lon, lat, *_rest in ring:
            lons.append(lon)
            lats.append(lat)
    return lons, lats


def svg_path(geometry: dict, project: Projection, min_step: float = 0.6) -> str:
    """An SVG path for a (Multi)Polygon, dropping points closer than min_step units to the previous one."""
    parts = []
    for ring in _rings(geometry):
        out, last = [], None
        for lon, lat, *_rest in ring:
            x, y = project(lon, lat)
            if last is None or abs(x - last[0]) + abs(y - last[1]) >= min_step:
                out.append(f"{x:.1f},{y:.1f}")
                last = (x, y)
        if len(out) >= 3:
            parts.append("M" + "L".join(out) + "Z")
    return "".join(parts)


def school_status(access: str | None, planned_on) -> str:
    if access == "fibre":
        return "fibre"
    if planned_on:
        return "planned"
    if access in ("adsl", "4g", "satellite"):
        return "other"
    if access == "none":
        return "none"
    return "unknown"


STATUS_LABELS = {
    "fibre": _("raccordée à la fibre"),
    "planned": _("raccordement fibre prévu"),
    "other": _("ADSL, 4G ou satellite"),
    "none": _("aucun accès"),
    "unknown": _("connectivité inconnue"),
}
