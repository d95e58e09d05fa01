"""preau import-assets FICHIER [--create-models] [--dry-run]"""

from django.core.management.base import BaseCommand

from preau.fleet.importer import import_assets
from preau.territory.management.commands._importing import add_size_option, max_bytes, run_import


class Command(BaseCommand):
    help = ("Importe les appareils du parc d'un fichier CSV (séparateur « ; » ou « , ») ou d'un classeur XLSX : "
            "numéro d'inventaire (obligatoire), numéro de série, catégorie, fabricant, modèle, statut, UAI école, "
            "classe, site, date d'achat, fin de garantie, coût, origine, nom de machine, notes. Un numéro "
            "d'inventaire connu met l'appareil à jour. Tout ou rien. Voir docs/fleet-import.md.")

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FICHIER")
        parser.add_argument("--create-models", action="store_true",
                            help="créer les modèles d'appareils inconnus (fabricant + modèle ; la catégorie de la "
                                 "ligne est alors obligatoire) ; par défaut un modèle inconnu est une erreur")
        parser.add_argument("--dry-run", action="store_true",
                            help="tout vérifier et compter, sans rien enregistrer")
        add_size_option(parser)

    def handle(self, *args, **options):
        run_import(self, import_assets, options["file"], create_models=options["create_models"],
                   dry_run=options["dry_run"], max_bytes=max_bytes(options), no_progress=options["no_progress"])
