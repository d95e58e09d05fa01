"""Forms of the asset pages: they only validate input; preau.fleet.services does the writes and the checks.

A status change accepts any known status: the lifecycle (through the service) is the one that
refuses a transition, with its own French sentence, so the page says why rather than "invalid choice".
"""

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import lifecycle
from .lifecycle import Status
from .models import Asset, DeviceModel, Site

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class _ReasonMixin(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Motif"), max_length=300, required=False)
    ticket = forms.CharField(label=gettext_lazy("Demande liée (n° de ticket)"), max_length=40, required=False)


class TransitionForm(_ReasonMixin):
    """Change of status. The select offers what lifecycle.allowed() offers (deploying has its own form)."""

    target = forms.CharField(label=gettext_lazy("Nouveau statut"), widget=forms.Select)
    field_order = ["target", "reason", "ticket"]

    def __init__(self, *args, asset: Asset, **kwargs):
        super().__init__(*args, **kwargs)
        self.asset = asset
        self.fields["target"].widget.choices = [(s, lifecycle.label(s)) for s in transition_targets(asset)]
        self.fields["reason"].required = True

    def clean_target(self) -> str:
        target = self.cleaned_data["target"]
        if target == Status.DEPLOYED:
            raise forms.ValidationError(_("Pour mettre un appareil en service, utilisez l'action « Déployer »."))
        return target


def transition_targets(asset: Asset) -> list[str]:
    """The statuses the page offers: the lifecycle's, except "deployed" (it needs a place: see DeployForm)."""
    return [s for s in lifecycle.allowed(asset.status) if s != Status.DEPLOYED]


class PlaceSchoolForm(forms.Form):
    """First step of deploy and move: which school (UAI)."""

    school = forms.CharField(label=gettext_lazy("École (UAI)"), max_length=8, required=False,
                             widget=forms.TextInput(attrs={"placeholder": "0429901J", "size": 9}))


class DeployForm(_ReasonMixin):
    """Deploy into an empty slot of the chosen school (or its class, or the school itself without a slot).

    `place` values: "slot:<id>", "class:<id>" or "school"."""

    place = forms.ChoiceField(label=gettext_lazy("Emplacement"), widget=forms.RadioSelect)

    def __init__(self, *args, slots=(), classes=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(f"slot:{s.pk}", _("%(label)s (%(where)s)") % {
            "label": s.label, "where": s.school_class.name if s.school_class else _("école")}) for s in slots]
        choices += [(f"class:{k.pk}", _("%(name)s, sans emplacement") % {"name": k.name}) for k in classes]
        choices.append(("school", _("L'école, sans emplacement ni classe")))
        self.fields["place"].choices = choices


class MoveForm(forms.Form):
    """Move a device that is not in service: to a site, or to a school (and optionally one of its classes)."""

    site = forms.ModelChoiceField(label=gettext_lazy("Site (dépôt, atelier)"), queryset=Site.objects.none(),
                                  required=False)
    school_class = forms.TypedChoiceField(label=gettext_lazy("Classe"), required=False, coerce=int,
                                          empty_value=None)
    reason = forms.CharField(label=gettext_lazy("Motif"), max_length=300, required=False)

    def __init__(self, *args, sites, classes=(), school=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.school = school
        if school is None:
            self.fields["site"].queryset = sites
            del self.fields["school_class"]
        else:
            del self.fields["site"]
            self.fields["school_class"].choices = [("", _("— l'école elle-même —"))] + [
                (k.pk, k.name) for k in classes]

    def clean(self):
        data = super().clean()
        if self.school is None and not data.get("site"):
            raise forms.ValidationError(_("Choisissez un site, ou indiquez une école (UAI)."))
        return data


class ReplaceForm(_ReasonMixin):
    """Replace a failed (or deployed) device by one from stock of the same category."""

    replacement = forms.CharField(label=gettext_lazy("Remplaçant (numéro d'inventaire)"), max_length=32)
    next_status = forms.ChoiceField(label=gettext_lazy("Devenir de l'appareil remplacé"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["next_status"].choices = [(s, lifecycle.label(s)) for s in lifecycle.allowed(Status.FAILED)]

    def clean_replacement(self) -> str:
        return self.cleaned_data["replacement"].strip()


class AssetEditForm(forms.ModelForm):
    """Descriptive fields only: status, place, tag and category have their own actions."""

    reason = forms.CharField(label=gettext_lazy("Motif de la modification"), max_length=300, required=False)

    class Meta:
        model = Asset
        fields = ["serial", "origin", "purchased_on", "warranty_until", "cost", "hostname", "cpu", "cpu_64bit",
                  "ram_mb", "disk_gb", "netboot", "os", "notes"]
        widgets = {"purchased_on": DATE, "warranty_until": DATE, "notes": forms.Textarea(attrs={"rows": 3})}


class AssetCreateForm(forms.ModelForm):
    """A new device, in stock at a site (the depot by default); it is deployed afterwards from its page."""

    reason = forms.CharField(label=gettext_lazy("Motif"), max_length=300, required=False)

    class Meta:
        model = Asset
        fields = ["tag", "model", "serial", "origin", "purchased_on", "warranty_until", "cost", "site", "notes"]
        widgets = {"purchased_on": DATE, "warranty_until": DATE, "notes": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"site": gettext_lazy("Vide : le dépôt de l'agglomération.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = DeviceModel.objects.all()
        self.fields["site"].required = False

    def clean_tag(self) -> str:
        return self.cleaned_data["tag"].strip()
