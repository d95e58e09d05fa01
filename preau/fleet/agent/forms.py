"""The form that places a queued device: its tag, its catalogue model, its category and where it goes.

It only checks and converts; placement.place() writes (through preau.fleet.services)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from preau.territory.codes import normalize_uai
from preau.territory.models import School, SchoolClass

from ..models import Asset, Category, DeviceModel, Slot


class PlaceForm(forms.Form):
    tag = forms.CharField(label=_("Numéro d'inventaire"), max_length=32)
    model = forms.ModelChoiceField(label=_("Modèle du catalogue"), queryset=DeviceModel.objects.none(),
                                   required=False, empty_label=_("— nouveau modèle (ci-dessous) —"))
    maker = forms.CharField(label=_("Fabricant (nouveau modèle)"), max_length=80, required=False)
    model_name = forms.CharField(label=_("Modèle (nouveau modèle)"), max_length=120, required=False)
    category = forms.ChoiceField(label=_("Catégorie"), choices=Category.choices)
    school = forms.CharField(label=_("École (UAI)"), max_length=8, required=False,
                             help_text=_("Vide : l'appareil part au dépôt, en stock."))
    school_class = forms.ModelChoiceField(label=_("Classe"), queryset=SchoolClass.objects.none(), required=False)
    slot = forms.ModelChoiceField(label=_("Emplacement libre"), queryset=Slot.objects.none(), required=False)
    deploy = forms.BooleanField(label=_("Mettre en service (déployé)"), required=False, initial=True)

    def __init__(self, *args, school: School | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = DeviceModel.objects.order_by("maker", "name")
        uai = normalize_uai(self.data.get(self.add_prefix("school"), "")) if self.is_bound else (
            school.uai if school else "")
        target = School.objects.filter(uai=uai).first() if uai else None
        if target is not None:
            self.fields["school_class"].queryset = target.classes.order_by("-year", "name")
            self.fields["slot"].queryset = (Slot.objects.filter(school=target, asset__isnull=True)
                                            .select_related("school_class").order_by("school_class__name", "label"))

    def clean_tag(self):
        tag = self.cleaned_data["tag"].strip().upper()
        if Asset.objects.filter(tag=tag).exists():
            raise forms.ValidationError(_("Le numéro d'inventaire %(tag)s existe déjà.") % {"tag": tag})
        return tag

    def clean_school(self):
        uai = normalize_uai(self.cleaned_data["school"])
        if not uai:
            return None
        school = School.objects.filter(uai=uai).first()
        if school is None:
            raise forms.ValidationError(_("École inconnue : UAI « %(uai)s ».") % {"uai": uai})
        return school

    def clean(self):
        data = super().clean()
        if not data.get("model") and not (data.get("maker", "").strip() and data.get("model_name", "").strip()):
            self.add_error("model", _("Choisissez un modèle du catalogue ou indiquez fabricant et modèle."))
        school, klass, slot = data.get("school"), data.get("school_class"), data.get("slot")
        if (klass or slot) and school is None:
            self.add_error("school", _("Indiquez l'école de la classe ou de l'emplacement."))
        if slot and klass and slot.school_class_id != klass.pk:
            self.add_error("slot", _("Cet emplacement n'est pas dans la classe choisie."))
        if slot and slot.category != data.get("category"):
            self.add_error("slot", _("Cet emplacement attend un appareil de catégorie « %(c)s ».")
                           % {"c": slot.get_category_display()})
        if data.get("deploy") and school is None:
            self.add_error("deploy", _("Pour mettre en service, indiquez au moins l'école."))
        return data
