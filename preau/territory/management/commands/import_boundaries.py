"""preau import-boundaries FILE.geojson"""

from django.core.management.base import BaseCommand

from preau.territory.importers import import_boundaries

from ._importing import add_size_option, max_bytes, run_import


class Command(BaseCommand):
    help = "Importe les contours des communes (GeoJSON IGN Admin Express, propriétés « code », « nom »)."

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FICHIER")
        add_size_option(parser)

    def handle(self, *args, **options):
        run_import(self, import_boundaries, options["file"], max_bytes=max_bytes(options),
                   no_progress=options["no_progress"])
