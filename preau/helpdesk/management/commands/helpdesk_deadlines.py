"""`preau helpdesk-deadlines`: the deadlines watch (services.check_deadlines). Marks breached deadlines,
warns before a resolution deadline, escalates breaches to the agglomeration, and prints the counts.
Idempotent: run it every 10 minutes from cron, for instance

    */10 7-18 * * 1-5  preau  /srv/preau/.venv/bin/preau helpdesk-deadlines --quiet
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from preau.helpdesk import services

LABELS = {
    "take_charge_breached": "délais de prise en charge dépassés",
    "resolve_breached": "délais de résolution dépassés",
    "warned": "alertes d'échéance proche",
    "escalated": "demandes escaladées",
}


class Command(BaseCommand):
    help = "Surveille les échéances des demandes d'assistance (dépassements, alertes, escalades)."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="date et heure de référence ISO 8601 (tests, rattrapage)")
        parser.add_argument("--json", action="store_true", help="une ligne JSON")
        parser.add_argument("--quiet", action="store_true", help="n'affiche rien s'il n'y a rien à signaler")

    def handle(self, *args, **options):
        now = None
        if options.get("now"):
            now = parse_datetime(options["now"])
            if now is None:
                raise CommandError(f"--now : date illisible « {options['now']} » (ex. 2026-11-05T10:00:00+01:00).")
            if timezone.is_naive(now):
                now = timezone.make_aware(now)
        counts = services.check_deadlines(now=now)
        if options.get("json"):
            self.stdout.write(json.dumps(counts, sort_keys=True))
            return
        if options.get("quiet") and not any(counts.values()):
            return
        for key, label in LABELS.items():
            self.stdout.write(f"{counts.get(key, 0):>6}  {label}")
