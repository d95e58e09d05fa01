"""Shared bits of the import commands: size option, progress bar on stderr, report printing."""

import sys
import time

from django.core.management.base import CommandError

from preau.territory.importers import CLI_MAX_FILE_BYTES, ImportFailed

MIB = 1024 * 1024


def add_size_option(parser) -> None:
    parser.add_argument(
        "--max-size", type=int, default=None, metavar="MO",
        help=f"taille maximale d'un fichier en Mo (défaut {CLI_MAX_FILE_BYTES // MIB} Mo, "
             f"variable PREAU_IMPORT_MAX_BYTES ; 0 : sans limite)")
    parser.add_argument("--no-progress", action="store_true", help="pas de barre de progression")


def max_bytes(options) -> int | None:
    mb = options.get("max_size")
    if mb is None:
        return CLI_MAX_FILE_BYTES
    return mb * MIB if mb > 0 else None


class ProgressBar:
    """A tiny progress bar on stderr (only on a terminal), redrawn at most 10 times a second."""

    def __init__(self, stream=None, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.enabled = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1 and done < total:
            return
        self.last = now
        width = 30
        frac = done / total if total else 1.0
        filled = int(width * frac)
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {frac:4.0%} {done}/{total} {message[:60]:<60}")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def run_import(command, fn, *args, **kwargs):
    """Run an importer with a progress bar; print one line per report; ImportFailed -> CommandError (exit 1)."""
    bar = ProgressBar(enabled=not kwargs.pop("no_progress", False))
    try:
        result = fn(*args, progress=bar, **kwargs)
    except ImportFailed as exc:
        bar.close()
        raise CommandError(str(exc)) from None
    bar.close()
    for report in result if isinstance(result, list) else [result]:
        command.stdout.write(report.summary())
    return result
