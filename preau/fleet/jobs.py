"""Background job kinds of the fleet: the asset import started from the web upload (preau/territory/views_import.py).

Registered when this module is imported (preau.fleet.apps ready(), like preau.territory.jobs).
"""

import shutil
from pathlib import Path

from django.utils.translation import gettext as _

from preau.core.jobs import JobError, job_kind


@job_kind("fleet.import")
def run_import(params: dict, progress, user) -> dict:
    from preau.territory.importers import ImportFailed

    from . import access
    from .importer import import_assets

    try:
        if not access.can_manage_fleet(user):
            raise JobError(_("Réservé à l'équipe du parc (agglomération, techniciens)."))
        path = params["path"]
        report = import_assets(path, user=user, create_models=params.get("create_models", False),
                               dry_run=params.get("dry_run", False), progress=progress,
                               names={path: params.get("name") or Path(path).name})
    except ImportFailed as exc:
        raise JobError(str(exc)) from exc
    finally:
        folder = Path(params.get("folder", ""))
        if params.get("folder") and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
    return {"reports": [report.as_dict()]}
