"""`preau stats --json`: one JSON object of counts (territory, users, and each later module)."""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from preau.core import stats


class Command(BaseCommand):
    help = "Affiche les effectifs de la base (communes, écoles, classes, utilisateurs…)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="une ligne JSON (sinon un tableau lisible)")

    def handle(self, *args, json_output=False, **options):
        data = stats.collect()
        data["users"] = get_user_model().objects.filter(is_active=True).count()
        if options.get("json"):
            self.stdout.write(json.dumps(data, ensure_ascii=False, sort_keys=True))
            return
        for section, values in data.items():
            if isinstance(values, dict):
                self.stdout.write(section)
                for key, value in values.items():
                    self.stdout.write(f"  {key:<24} {value}")
            else:
                self.stdout.write(f"{section:<26} {values}")
