"""Forms of the contents pages: collections, publishing from a server folder, withdrawing, subscriptions,
NAS actions. Errors are French sentences naming the field."""

from pathlib import Path

from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from preau.territory.models import Commune, School, SchoolKind

from .models import NasNode, Subscription


def import_root() -> Path:
    """The server folder releases may be published from (PREAU_CONTENT_IMPORT_ROOT)."""
    root = getattr(settings, "PREAU_CONTENT_IMPORT_ROOT", None) or Path(settings.DATA_DIR) / "contents" / "incoming"
    return Path(root).resolve()


class CollectionForm(forms.Form):
    slug = forms.SlugField(label=pgettext_lazy("collection", "Identifiant"), max_length=60,
                           help_text=gettext_lazy("Nom dans le magasin et sur les NAS : lettres, chiffres, tirets."))
    name = forms.CharField(label=gettext_lazy("Nom"), max_length=120)
    description = forms.CharField(label=gettext_lazy("Description"), required=False, widget=forms.Textarea(
        attrs={"rows": 3}))


class PublishForm(forms.Form):
    src_dir = forms.CharField(label=gettext_lazy("Dossier sur le serveur"), max_length=1000)
    notes = forms.CharField(label=gettext_lazy("Notes de version"), required=False,
                            widget=forms.Textarea(attrs={"rows": 3}))

    def clean_src_dir(self) -> str:
        return resolve_import_dir(self.cleaned_data["src_dir"])


def resolve_import_dir(raw: str) -> str:
    """The absolute server folder to publish (relative paths are taken inside the import root); refused
    outside the import root or when missing (ValidationError, a French sentence). Shared with the API."""
    root = import_root()
    raw = raw.strip()
    path = Path(raw)
    if not path.is_absolute():
        path = root / path
    path = path.resolve()
    if path != root and root not in path.parents:
        raise forms.ValidationError(
            _("Dossier de publication : « %(p)s » est hors du dossier autorisé %(root)s.")
            % {"p": raw, "root": root})
    if not path.is_dir():
        raise forms.ValidationError(_("Dossier de publication : « %(p)s » n'existe pas sur le serveur.")
                                    % {"p": raw})
    return str(path)


class UploadPublishForm(forms.Form):
    archive = forms.FileField(label=gettext_lazy("Archive (.zip, .tar, .tar.gz, .tar.zst)"),
                              widget=forms.ClearableFileInput(attrs={
                                  "accept": ".zip,.tar,.tgz,.gz,.bz2,.xz,.zst"}))
    notes = forms.CharField(label=gettext_lazy("Notes de version"), required=False,
                            widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_upload_%s")  # beside the server-folder form on the same page
        super().__init__(*args, **kwargs)


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Motif du retrait"), max_length=300)


class SubscriptionForm(forms.Form):
    scope = forms.ChoiceField(label=gettext_lazy("Portée"), choices=Subscription.Scope.choices)
    commune = forms.CharField(label=gettext_lazy("Commune (code INSEE)"), required=False, max_length=5)
    school_kind = forms.ChoiceField(label=gettext_lazy("Type d'école"), required=False,
                                    choices=[("", "—"), *SchoolKind.choices])
    school = forms.CharField(label=gettext_lazy("École (UAI)"), required=False, max_length=8)

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        if scope == Subscription.Scope.COMMUNE:
            commune = Commune.objects.filter(insee=(data.get("commune") or "").strip().upper()).first()
            if commune is None:
                self.add_error("commune", _("Commune : code INSEE « %(c)s » inconnu.") % {"c": data.get("commune")})
            data["commune_obj"] = commune
        elif scope == Subscription.Scope.KIND:
            if not data.get("school_kind"):
                self.add_error("school_kind", _("Type d'école : choisissez un type."))
        elif scope == Subscription.Scope.SCHOOL:
            school = School.objects.filter(uai=(data.get("school") or "").strip().upper()).first()
            if school is None:
                self.add_error("school", _("École : UAI « %(u)s » inconnu.") % {"u": data.get("school")})
            data["school_obj"] = school
        return data


class RevokeForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Motif de la révocation"), max_length=300)


class ModeForm(forms.Form):
    mode = forms.ChoiceField(label=gettext_lazy("Mode"), choices=NasNode.Mode.choices)
