"""Web upload of open-data files: the same importers as the CLI, run as a background job."""

import uuid

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from preau.accounts.access import require_admin
from preau.core import jobs
from preau.core.models import Job

KINDS = [
    ("schools", gettext_lazy("Écoles (annuaire, géolocalisation, effectifs, IPS, CSV Loire)")),
    ("territory", gettext_lazy("Territoire : EPCI et communes (fichiers JSON Etalab)")),
    ("fibre", gettext_lazy("Fibre : observatoire ARCEP par commune (CSV)")),
    ("boundaries", gettext_lazy("Contours des communes (GeoJSON)")),
    ("assets", gettext_lazy("Appareils du parc (CSV/XLSX)")),
]
# Kinds run by another app's job (the fleet's asset import), with the job kind they enqueue.
JOB_KINDS = {"assets": "fleet.import"}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Type de fichier"), choices=KINDS)
    files = MultipleFileField(label=gettext_lazy("Fichier(s)"), widget=MultipleFileInput,
                              help_text=gettext_lazy("Territoire : d'abord epci.json, puis communes.json."))
    epci = forms.CharField(label=gettext_lazy("SIREN de l'EPCI"), required=False, max_length=9,
                           help_text=gettext_lazy("Territoire seulement, ex. 244200770 ; vide : toutes les communes."))
    include_all = forms.BooleanField(label=gettext_lazy("Garder les écoles hors des communes importées"),
                                     required=False)
    include_secondary = forms.BooleanField(label=gettext_lazy("Garder aussi collèges et lycées"), required=False)
    create_models = forms.BooleanField(
        label=gettext_lazy("Créer les modèles d'appareils inconnus"), required=False,
        help_text=gettext_lazy("Appareils du parc seulement : sinon, un modèle absent du catalogue est une erreur."))

    def clean(self):
        data = super().clean()
        files = data.get("files") or []
        limit = settings.PREAU_UPLOAD_MAX_BYTES
        for f in files:
            if f.size > limit:
                raise forms.ValidationError(
                    _("« %(name)s » fait %(size)d Mo : la limite d'envoi est de %(limit)d Mo. Pour un fichier "
                      "plus gros, utilisez la commande « preau import-… » sur le serveur.")
                    % {"name": f.name, "size": f.size // 2**20, "limit": limit // 2**20})
        if data.get("kind") == "territory" and len(files) != 2:
            raise forms.ValidationError(_("Le territoire demande deux fichiers : epci.json et communes.json."))
        if data.get("kind") in ("fibre", "boundaries", "assets") and len(files) != 1:
            raise forms.ValidationError(_("Un seul fichier attendu pour cet import."))
        return data


@login_required
def import_form(request: HttpRequest) -> HttpResponse:
    require_admin(request.user)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        folder = settings.DATA_DIR / "uploads" / uuid.uuid4().hex
        folder.mkdir(parents=True)
        paths, names = [], []
        for i, f in enumerate(form.cleaned_data["files"]):
            path = folder / f"{i:02d}.upload"
            with path.open("wb") as out:
                for chunk in f.chunks():
                    out.write(chunk)
            paths.append(str(path))
            names.append(f.name)
        kind = form.cleaned_data["kind"]
        if kind in JOB_KINDS:
            return redirect("core:job", job_id=enqueue_other(request, kind, paths[0], names[0], folder, form).pk)
        job = jobs.enqueue("territory.import", {
            "kind": kind, "paths": paths, "names": names, "folder": str(folder),
            "epci": form.cleaned_data["epci"], "include_all": form.cleaned_data["include_all"],
            "include_secondary": form.cleaned_data["include_secondary"],
            "title": _("Import : %(names)s") % {"names": ", ".join(names)},
            "result_template": "territory/_import_result.html",
        }, user=request.user)
        return redirect("core:job", job_id=job.pk)
    recent = Job.objects.filter(kind__in=["territory.import", *JOB_KINDS.values()]).select_related("created_by")[:10]
    return render(request, "territory/import_form.html", {"form": form, "recent": recent},
                  status=400 if form.errors else 200)


def enqueue_other(request: HttpRequest, kind: str, path: str, name: str, folder, form: ImportForm) -> Job:
    """The fleet's asset import (job "fleet.import", preau/fleet/jobs.py): one file, models created on demand."""
    from preau.fleet import jobs as fleet_jobs  # noqa: F401  (registers the job kind if the app has not yet)

    return jobs.enqueue(JOB_KINDS[kind], {
        "path": path, "name": name, "folder": str(folder),
        "create_models": form.cleaned_data["create_models"],
        "title": _("Import : %(names)s") % {"names": name},
        "result_template": "territory/_import_result.html",
    }, user=request.user)
