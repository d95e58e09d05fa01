"""`preau worker`: run queued background jobs (imports, later bundles and releases)."""

import time

from django.core.management.base import BaseCommand

from preau.core import jobs


class Command(BaseCommand):
    help = "Exécute les tâches en attente (imports…). --once : une passe puis sortie."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="traiter les tâches en attente puis sortir")
        parser.add_argument("--interval", type=float, default=2.0, help="secondes entre deux recherches")

    def handle(self, *args, once=False, interval=2.0, **options):
        while True:
            job = jobs.run()
            if job is not None:
                self.stdout.write(f"{job}: {job.get_status_display()}")
                continue
            if once:
                return
            time.sleep(interval)
