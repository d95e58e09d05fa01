"""Forms of the requalification batch pages: selection, creation, intake steps, per-device actions, rules.

The forms only check and convert what the user typed; the writes are preau.fleet.services' do_*.
"""

from django import forms
from django.core.validators import MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import REQUALIFIABLE, EligibilityRule, ErasureCertificate, Site

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _today():
    return timezone.localdate()


def parse_tags(raw: str) -> list[str]:
    """`SEM-1, SEM-2 SEM-3` -> ["SEM-1", "SEM-2", "SEM-3"] (commas or spaces, duplicates dropped, order kept)."""
    seen: list[str] = []
    for part in raw.replace(",", " ").split():
        tag = part.strip().upper()
        if tag and tag not in seen:
            seen.append(tag)
    return seen[:500]


class BatchSelectionForm(forms.Form):
    """Step 1 (GET): which school's devices, of which categories; or tags chosen on the asset list."""

    school = forms.CharField(label=_("École (UAI)"), max_length=8, required=False,
                             widget=forms.TextInput(attrs={"list": "school-uais", "autocomplete": "off",
                                                           "placeholder": "0420001A"}))
    categories = forms.MultipleChoiceField(
        label=_("Catégories"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(c.value, c.label) for c in REQUALIFIABLE])
    tags = forms.CharField(label=_("Numéros d'inventaire"), required=False, max_length=10000,
                           help_text=_("Séparés par des virgules, ex. SEM-00001,SEM-00002"))

    def __init__(self, *args, schools=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.schools = schools  # the schools the user may pick from (a queryset)

    def clean_school(self):
        uai = self.cleaned_data["school"].strip().upper()
        if not uai:
            return None
        school = self.schools.filter(uai=uai).first() if self.schools is not None else None
        if school is None:
            raise forms.ValidationError(_("École inconnue : UAI « %(uai)s ».") % {"uai": uai})
        return school

    def clean_categories(self):
        return self.cleaned_data["categories"] or [c.value for c in REQUALIFIABLE]

    def clean_tags(self):
        return parse_tags(self.cleaned_data["tags"])


class BatchCreateForm(forms.Form):
    """Step 2 (POST): the devices kept (checkboxes), the workshop and notes."""

    assets = forms.ModelMultipleChoiceField(label=_("Appareils"), queryset=None, to_field_name="tag",
                                            widget=forms.CheckboxSelectMultiple,
                                            error_messages={"required": _("Cochez au moins un appareil.")})
    workshop = forms.ModelChoiceField(label=_("Atelier partenaire"),
                                      queryset=Site.objects.filter(kind=Site.Kind.WORKSHOP),
                                      empty_label=_("— choisir l'atelier —"))
    notes = forms.CharField(label=_("Notes"), required=False, max_length=2000,
                            widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, candidates=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assets"].queryset = candidates
        self.fields["assets"].label_from_instance = lambda a: a.tag


class DateStepForm(forms.Form):
    """Pick-up, intake or return of a batch: the date it happened (today by default)."""

    on = forms.DateField(label=_("Date"), initial=_today, widget=DATE)

    def clean_on(self):
        on = self.cleaned_data["on"]
        if on > timezone.localdate():
            raise forms.ValidationError(_("La date ne peut pas être dans le futur."))
        return on


class EligibilityForm(forms.Form):
    """The workshop's own verdict after testing the device, always with a reason."""

    eligible = forms.TypedChoiceField(label=_("Décision"), coerce=lambda v: v == "1",
                                      choices=[("1", _("éligible")), ("0", _("non éligible"))])
    reason = forms.CharField(label=_("Motif"), max_length=200,
                             error_messages={"required": _("Le motif est obligatoire.")})


class ErasureForm(forms.Form):
    """One disk's erasure certificate (NIST SP 800-88 rev. 1: clear, purge or destroy)."""

    number = forms.CharField(label=_("Numéro de certificat"), max_length=40, required=False,
                             help_text=_("Laisser vide pour un numéro automatique (EFF-année-n°)."))
    disk_serial = forms.CharField(label=_("Numéro de série du disque"), max_length=80)
    disk_model = forms.CharField(label=_("Modèle du disque"), max_length=120, required=False)
    disk_size_gb = forms.IntegerField(label=_("Capacité (Go)"), required=False, min_value=1, max_value=1_000_000)
    method = forms.ChoiceField(label=_("Méthode (NIST SP 800-88)"), choices=ErasureCertificate.Method.choices)
    tool = forms.CharField(label=_("Outil"), max_length=80,
                           widget=forms.TextInput(attrs={"placeholder": "nwipe 0.34"}))
    pattern = forms.CharField(label=_("Motif d'écriture"), max_length=80, required=False,
                              widget=forms.TextInput(attrs={"placeholder": _("zéros, PRNG…")}))
    passes = forms.IntegerField(label=_("Passes"), initial=1, min_value=1, max_value=99)
    verification = forms.ChoiceField(label=_("Vérification"), choices=ErasureCertificate.Verification.choices)
    operator = forms.CharField(label=_("Opérateur"), max_length=120)
    performed_on = forms.DateField(label=_("Date"), initial=_today, widget=DATE)

    def clean_performed_on(self):
        on = self.cleaned_data["performed_on"]
        if on > timezone.localdate():
            raise forms.ValidationError(_("La date ne peut pas être dans le futur."))
        return on

    def clean_number(self):
        number = self.cleaned_data["number"].strip()
        if number and ErasureCertificate.objects.filter(number=number).exists():
            raise forms.ValidationError(_("Le certificat %(n)s existe déjà.") % {"n": number})
        return number

    def service_fields(self) -> dict:
        fields = dict(self.cleaned_data)
        if not fields["number"]:
            del fields["number"]  # the service numbers it
        fields["disk_model"] = fields["disk_model"] or ""
        return fields


class ConvertForm(forms.Form):
    notes = forms.CharField(label=_("Notes"), max_length=300, required=False)


class RejectForm(forms.Form):
    """To DEEE recycling (waste electrical and electronic equipment): weight, recycler, certificate."""

    weight_kg = forms.DecimalField(label=_("Poids (kg)"), max_digits=6, decimal_places=2,
                                   validators=[MinValueValidator(0.01)])
    recycler = forms.CharField(label=_("Éco-organisme / recycleur"), max_length=120)
    certificate = forms.CharField(label=_("Bordereau / certificat"), max_length=80, required=False)
    recycled_on = forms.DateField(label=_("Date"), initial=_today, widget=DATE)
    notes = forms.CharField(label=_("Notes"), max_length=300, required=False)


NUMERIC = {EligibilityRule.Criterion.MIN_RAM_MB, EligibilityRule.Criterion.MAX_AGE_YEARS,
           EligibilityRule.Criterion.MIN_DISK_GB}


class RuleForm(forms.Form):
    """One eligibility criterion: on or off, and its threshold when it has one."""

    active = forms.BooleanField(label=_("Active"), required=False)
    value = forms.IntegerField(label=_("Valeur"), required=False, min_value=0, max_value=10_000_000)

    def __init__(self, *args, criterion: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.criterion = criterion
        self.label = EligibilityRule.Criterion(criterion).label
        self.numeric = criterion in NUMERIC
        if not self.numeric:
            del self.fields["value"]
        self.fields["active"].label = self.label

    def clean(self):
        data = super().clean()
        if self.numeric and data.get("active") and data.get("value") is None:
            self.add_error("value", _("« %(c)s » : une valeur est nécessaire pour une règle active.")
                           % {"c": self.label})
        return data
