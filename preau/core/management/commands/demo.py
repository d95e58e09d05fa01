"""`preau demo`: build the deterministic demo territory and its demo accounts."""

from django.core.management.base import BaseCommand, CommandError

from preau.accounts.models import Role, User
from preau.core import demo
from preau.territory.models import Commune


class Command(BaseCommand):
    help = "Construit le territoire de démonstration (≈50 communes, 300 écoles, 1 800 classes) et ses comptes."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="ne rien faire si la base contient déjà des communes")
        parser.add_argument("--seed", type=int, default=2016)

    def handle(self, *args, if_empty=False, seed=2016, **options):
        if Commune.objects.exists():
            if if_empty:
                self.stdout.write("La base contient déjà un territoire : démonstration non chargée.")
                self._print_accounts(list(User.objects.filter(email__endswith="@demo.preau.local", is_active=True)
                                          .order_by("pk").values_list("username", "role")))
                return
            raise CommandError("La base contient déjà un territoire : la démonstration se charge dans une base vide "
                               "(supprimez data/preau.sqlite3 ou utilisez une autre DATABASE_URL).")
        counts = demo.build(seed)
        for name, values in counts.items():
            self.stdout.write(f"{name}: " + ", ".join(f"{k} {v}" for k, v in values.items() if k != "accounts"))
        self._print_accounts(counts.get("accounts", {}).get("accounts", []))

    def _print_accounts(self, accounts) -> None:
        if accounts:
            self.stdout.write("\nComptes de démonstration (mot de passe : demo) :")
            for username, role in accounts:
                self.stdout.write(f"  {username:<12} {Role(role).label if role in Role.values else role}")
