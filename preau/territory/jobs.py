"""Background job kinds of the territory: the open-data imports started from the web upload."""

import shutil
from pathlib import Path

from preau.core.jobs import JobError, job_kind


@job_kind("territory.import")
def run_import(params: dict, progress, user) -> dict:
    from . import importers

    paths = [Path(p) for p in params["paths"]]
    names = {str(p): n for p, n in zip(params["paths"], params["names"], strict=True)}
    kind = params["kind"]
    try:
        if kind == "territory":
            reports = [importers.import_territory(params.get("epci") or None, paths[0], paths[1], user=user,
                                                  progress=progress, names=names)]
        elif kind == "schools":
            reports = importers.import_schools(paths, include_all=params.get("include_all", False),
                                               include_secondary=params.get("include_secondary", False),
                                               user=user, progress=progress, names=names)
        elif kind == "fibre":
            reports = [importers.import_fibre(paths[0], user=user, progress=progress, names=names)]
        elif kind == "boundaries":
            reports = [importers.import_boundaries(paths[0], user=user, progress=progress, names=names)]
        else:
            raise JobError(f"type d'import inconnu : {kind}")
    except importers.ImportFailed as exc:
        raise JobError(str(exc)) from exc
    finally:
        folder = Path(params.get("folder", ""))
        if params.get("folder") and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
    return {"reports": [r.as_dict() for r in reports]}
