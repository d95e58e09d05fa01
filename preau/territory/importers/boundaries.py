"""Commune boundaries from an IGN Admin Express GeoJSON (properties `code`, `nom`).

Sets Commune.boundary (the WGS84 geometry, as is) and lat/lon (the area-weighted centroid of
its polygons, rounded to 6 decimals). Features of communes missing from the database (other
communes, or 2018 codes since merged) are skipped and listed in a note.
"""

from __future__ import annotations

import json

from django.db import transaction

from ..codes import insee_error, normalize_insee
from ..models import Commune
from .base import (
    MAX_FILE_BYTES,
    FileError,
    ImportFailed,
    Progress,
    Report,
    RowError,
    Ticker,
    Upsert,
    display_name,
    read_text,
)


def _ring_centroid(ring) -> tuple[float, float, float]:
    """(signed area, cx, cy) of a closed ring of [lon, lat] points (shoelace formula)."""
    a = cx = cy = 0.0
    for (x0, y0, *_), (x1, y1, *_) in zip(ring, ring[1:], strict=False):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    return a / 2, cx, cy


def centroid(geometry: dict) -> tuple[float, float] | None:
    """(lat, lon) of a Polygon / MultiPolygon, holes subtracted; None when degenerate."""
    polys = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    area = sx = sy = 0.0
    points = []
    for poly in polys:
        for k, ring in enumerate(poly):
            a, cx, cy = _ring_centroid(ring)
            # Outer ring adds, holes subtract, whatever their orientation.
            sign = 1 if k == 0 else -1
            if (a < 0) ^ (sign < 0):
                a, cx, cy = -a, -cx, -cy
            area += a
            sx += cx
            sy += cy
            points += ring
    if abs(area) < 1e-12:
        if not points:
            return None
        return (round(sum(p[1] for p in points) / len(points), 6), round(sum(p[0] for p in points) / len(points), 6))
    return round(sy / (6 * area), 6), round(sx / (6 * area), 6)


def _valid_geometry(g) -> bool:
    if not isinstance(g, dict) or g.get("type") not in ("Polygon", "MultiPolygon"):
        return False
    coords = g.get("coordinates")
    try:
        polys = [coords] if g["type"] == "Polygon" else coords
        for poly in polys:
            for ring in poly:
                if len(ring) < 4:
                    return False
                for p in ring:
                    if not (-180 <= float(p[0]) <= 180 and -90 <= float(p[1]) <= 90):
                        return False
    except (TypeError, ValueError, IndexError, KeyError):
        return False
    return True


def import_boundaries(path, *, user=None, progress: Progress | None = None, names: dict | None = None,
                      max_bytes: int | None = MAX_FILE_BYTES) -> Report:
    name = display_name(path, names)
    report = Report(kind="boundaries", file=name)
    try:
        text, _note = read_text(path, name, max_bytes)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FileError(name, f"JSON invalide ({exc.msg}, colonne {exc.colno}) : un GeoJSON des contours "
                                  f"des communes est attendu", line=exc.lineno) from None
        if not isinstance(data, dict) or data.get("type") != "FeatureCollection" \
                or not isinstance(data.get("features"), list):
            raise FileError(name, "format non reconnu : un GeoJSON « FeatureCollection » de communes (propriétés "
                                  "« code », « nom ») est attendu")
    except FileError as exc:
        report.errors.append(exc.error)
        raise ImportFailed([exc.error], [report]) from None

    features = data["features"]
    communes = {c["insee"]: c for c in Commune.objects.order_by().values("id", "insee", "name", "boundary", "lat", "lon")}
    incoming: dict[str, dict] = {}
    outside: list[str] = []
    ticker = Ticker(progress, len(features), f"{name} : contours")
    for i, f in enumerate(features, start=1):
        ticker.tick()
        props = (f or {}).get("properties") or {}
        raw = str(props.get("code") or props.get("INSEE_COM") or props.get("insee") or "")
        insee = normalize_insee(raw)
        err = insee_error(insee)
        where = f"entité n° {i}"
        if err:
            report.errors.append(RowError(name, None, "properties.code", f"{where} : {err}"))
            continue
        geometry = (f or {}).get("geometry")
        if not _valid_geometry(geometry):
            report.errors.append(RowError(name, None, "geometry", f"{where} ({insee}) : un polygone ou multipolygone "
                                                                  f"en longitude/latitude (WGS84) est attendu"))
            continue
        if insee not in communes:
            outside.append(insee)
            continue
        point = centroid(geometry)
        values = {"boundary": geometry}
        if point:
            values["lat"], values["lon"] = point
        incoming[insee] = values
    report.rejected = len(report.errors)
    if report.errors:
        raise ImportFailed(report.errors, [report])
    if outside:
        report.skipped = len(outside)
        report.notes.append(f"{len(outside)} contour(s) de communes absentes de la base ignoré(s)")
    with transaction.atomic():
        up = Upsert(Commune, "insee", communes, user, f"import {name}")
        for code, values in incoming.items():
            up.add(code, values)
        # The audit keeps only the centroid, not the (large) geometry.
        for _obj, before, after in up.changes:
            if "boundary" in after:
                before["boundary"] = "…" if before.get("boundary") else None
                after["boundary"] = f"{after['boundary']['type']} ({len(json.dumps(after['boundary']))} octets)"
        up.save()
        report.created, report.updated, report.unchanged = up.created, up.updated, up.unchanged
        ticker.finish()
    return report
