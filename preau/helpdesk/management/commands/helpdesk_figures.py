"""`preau helpdesk-figures`: compute the assistance figures page ahead of time (snapshots.refresh_all) for
every scope that may read it, refresh the stale ones, drop those nobody reads. Run it from cron:

    */10 * * * *  preau  /opt/preau/venv/bin/preau helpdesk-figures --quiet
"""

import json

from django.core.management.base import BaseCommand

from preau.helpdesk import snapshots
from preau.territory.management.commands._importing import ProgressBar


class Command(BaseCommand):
    help = "Calcule à l'avance les chiffres de l'assistance (par périmètre et année scolaire)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="tout recalculer, même ce qui est à jour")
        parser.add_argument("--json", action="store_true", help="une ligne JSON")
        parser.add_argument("--quiet", action="store_true", help="n'affiche rien s'il n'y avait rien à calculer")
        parser.add_argument("--no-progress", action="store_true", help="pas de barre de progression")

    def handle(self, *args, **options):
        bar = ProgressBar(enabled=not (options["no_progress"] or options["quiet"] or options["json"]))
        try:
            counts = snapshots.refresh_all(force=options["force"], progress=bar)
        finally:
            bar.close()
        if options["json"]:
            self.stdout.write(json.dumps(counts, sort_keys=True))
        elif not (options["quiet"] and not counts["computed"] and not counts["dropped"]):
            self.stdout.write(f"{counts['computed']} chiffres calculés en {counts['seconds']} s, "
                              f"{counts['fresh']} déjà à jour, {counts['dropped']} supprimés.")
