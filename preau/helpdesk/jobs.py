"""Background jobs of the assistance: refreshing the figures page's stored figures (snapshots.py)."""

from preau.core.jobs import job_kind


@job_kind("helpdesk.figures")
def run_refresh_figures(params: dict, progress, user) -> dict:
    """Refresh the snapshots named by `keys` (a page read them stale)."""
    from . import snapshots
    from .models import FigureSnapshot

    wanted = list(FigureSnapshot.objects.filter(key__in=params.get("keys", [])))
    for i, snapshot in enumerate(wanted):
        progress(i, len(wanted), snapshot.key)
        snapshots.refresh(snapshot.scope, snapshot.year, snapshot.commune_id)
    return {"computed": len(wanted)}
