"""`preau receipts-ingest DIR`: read the receipts the NAS wrote onto a tour's USB disk (DIR = the bundle folder,
with preau-bundle.json and receipts/). The tour is found by the disk's signed bundle id (or --tour NAME)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext

from preau.contents import services, tours
from preau.contents.models import Tour


class Command(BaseCommand):
    help = "Relève les accusés de réception d'un disque de tournée (dossier du disque)."

    def add_arguments(self, parser):
        parser.add_argument("bundle_dir", help="dossier du disque (preau-bundle.json et receipts/)")
        parser.add_argument("--tour", help="nom de la tournée (par défaut : d'après l'identifiant du disque)")

    def handle(self, *args, bundle_dir, tour=None, **options):
        try:
            if tour:
                found = Tour.objects.filter(name=tour).first()
                if found is None:
                    raise services.ContentsError(f"Tournée inconnue : {tour}.")
            else:
                found = tours.tour_for_bundle(bundle_dir)
            report = tours.ingest_dir(None, found, bundle_dir)
        except services.ContentsError as exc:
            raise CommandError(str(exc)) from exc
        for a in report["accepted"]:
            new = ngettext("%(n)s livraison nouvelle", "%(n)s livraisons nouvelles", a["new"]) % {"n": a["new"]}
            self.stdout.write(f"accepté  {a['file']} : {a['school']} ({a['node']}), {new} {a['confirmed']}")
        for r in report["rejected"]:
            self.stdout.write(f"REFUSÉ   {r['file']} : {r['error']}")
        self.stdout.write(f"Tournée {found.name} : {tours.ingest_summary(report)}")
        if report["rejected"]:
            n = len(report["rejected"])
            self.stderr.write(ngettext("%(n)s accusé refusé : voir ci-dessus.", "%(n)s accusés refusés : voir ci-dessus.",
                                       n) % {"n": n})
