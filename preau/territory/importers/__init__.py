"""Importers of official open data: the same code behind the CLI (`preau import-…`) and the web upload.

Contract:
    import_territory(epci_siren, epcis_path, communes_path, *, user, progress, names) -> Report
    import_schools(paths, *, include_all, include_secondary, user, progress, names) -> list[Report]
    import_fibre(path, *, user, progress, names) -> Report
    import_boundaries(path, *, user, progress, names) -> Report

Each is idempotent (a re-run reports 0 created and N unchanged) and all-or-nothing (one
transaction; any bad row raises ImportFailed listing every problem with file, line, column and
what is expected; nothing is written). `names` maps a path to the name shown in messages
(uploads are temporary files). `progress(done, total, message)` is called as rows are read and
written; an exception it raises (a job cancellation) propagates and rolls everything back.

Size limits: every function takes `max_bytes` (keyword, default MAX_FILE_BYTES =
settings.PREAU_UPLOAD_MAX_BYTES, the upload limit). The CLI passes CLI_MAX_FILE_BYTES
(150 MB by default, env PREAU_IMPORT_MAX_BYTES, option --max-size; never below the upload
limit). A file over the limit is refused from its size alone, before it is read.
"""

from .base import (
    CLI_MAX_FILE_BYTES,
    MAX_FILE_BYTES,
    ImportFailed,
    Progress,
    Report,
    RowError,
)
from .boundaries import import_boundaries
from .fibre import import_fibre
from .schools import import_schools
from .territory import import_territory

__all__ = [
    "CLI_MAX_FILE_BYTES",
    "MAX_FILE_BYTES",
    "ImportFailed",
    "Progress",
    "Report",
    "RowError",
    "import_boundaries",
    "import_fibre",
    "import_schools",
    "import_territory",
]
