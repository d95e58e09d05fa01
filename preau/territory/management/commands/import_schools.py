"""preau import-schools FILE... [--all] [--secondary]"""

from django.core.management.base import BaseCommand

from preau.territory.importers import import_schools

from ._importing import add_size_option, max_bytes, run_import


class Command(BaseCommand):
    help = ("Importe des écoles (et les classes du fichier des effectifs). Formats reconnus par leur en-tête : "
            "Annuaire de l'éducation, Adresse et géolocalisation des établissements, Effectifs et nombre de "
            "classes, IPS des écoles (DEPP), CSV des écoles de la Loire. Séparateur « ; » ou « , », UTF-8.")

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FICHIER")
        parser.add_argument("--all", action="store_true", dest="include_all",
                            help="garder toutes les écoles : une commune absente de la base est alors une erreur "
                                 "(par défaut, les écoles hors des communes importées sont ignorées)")
        parser.add_argument("--secondary", action="store_true", dest="include_secondary",
                            help="garder aussi les collèges et lycées")
        add_size_option(parser)

    def handle(self, *args, **options):
        run_import(self, import_schools, options["files"], include_all=options["include_all"],
                   include_secondary=options["include_secondary"], max_bytes=max_bytes(options),
                   no_progress=options["no_progress"])
