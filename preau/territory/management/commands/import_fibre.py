"""preau import-fibre FILE"""

from django.core.management.base import BaseCommand

from preau.territory.importers import import_fibre

from ._importing import add_size_option, max_bytes, run_import


class Command(BaseCommand):
    help = ("Importe l'observatoire ARCEP du FttH par commune (extrait par commune ou ftthCommunes.csv national) : "
            "réseau fibre des communes et connectivité par défaut des écoles (jamais une saisie manuelle).")

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FICHIER")
        add_size_option(parser)

    def handle(self, *args, **options):
        run_import(self, import_fibre, options["file"], max_bytes=max_bytes(options),
                   no_progress=options["no_progress"])
