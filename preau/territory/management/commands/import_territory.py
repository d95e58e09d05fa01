"""preau import-territory [--epci SIREN] --epcis epci.json --communes communes.json"""

from django.core.management.base import BaseCommand, CommandError

from preau.territory.importers import import_territory

from ._importing import add_size_option, max_bytes, run_import


class Command(BaseCommand):
    help = ("Importe un EPCI et ses communes (ou, sans --epci, toutes les communes actuelles) depuis les "
            "fichiers JSON Etalab « découpage administratif ».")

    def add_arguments(self, parser):
        parser.add_argument("--epci", default=None, metavar="SIREN",
                            help="SIREN de l'EPCI (ex. 244200770) ; sans : toutes les communes actuelles")
        parser.add_argument("--epcis", default=None, metavar="epci.json", help="fichier epci.json d'Etalab")
        parser.add_argument("--communes", required=True, metavar="communes.json", help="fichier communes.json")
        add_size_option(parser)

    def handle(self, *args, **options):
        if options["epci"] and not options["epcis"]:
            raise CommandError("--epci demande aussi --epcis epci.json")
        run_import(self, import_territory, options["epci"], options["epcis"], options["communes"],
                   max_bytes=max_bytes(options), no_progress=options["no_progress"])
