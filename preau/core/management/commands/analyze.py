"""`preau analyze`: refresh the database's planner statistics (after bulk loads; nightly from cron)."""

import time

from django.core.management.base import BaseCommand

from preau.core.maintenance import analyze


class Command(BaseCommand):
    help = "Met à jour les statistiques du planificateur de la base (après un gros import ; chaque nuit par cron)."

    def handle(self, *args, **options):
        start = time.monotonic()
        analyze()
        self.stdout.write(f"ANALYZE : {time.monotonic() - start:.1f} s")
