"""Forms of the request pages. They only check the shape of the input; the rules live in services."""

from django import forms
from django.utils.translation import gettext_lazy as _

from . import lifecycle
from .models import Category, Domain, NotificationPreference, Party, Priority, Ticket


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several photos or PDFs at once; each is checked by attachments.prepare()."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,application/pdf"}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data if d]
        return [super().clean(data, initial)] if data else []


def grouped_categories():
    """[(domain label, [categories…])] in the domains' order, active categories only."""
    groups: dict[str, list] = {}
    for category in Category.objects.filter(active=True).order_by("position", "label"):
        groups.setdefault(category.domain, []).append(category)
    return [(Domain(d).label, groups[d]) for d in Domain.values if d in groups]


class NewTicketForm(forms.Form):
    category = forms.ModelChoiceField(queryset=Category.objects.filter(active=True), label=_("Quel est le problème ?"),
                                      widget=forms.RadioSelect, error_messages={
                                          "required": _("Choisissez ce qui ne va pas."),
                                          "invalid_choice": _("Ce problème n'est plus proposé.")})
    school_class = forms.TypedChoiceField(label=_("Classe"), required=False, coerce=int, empty_value=None)
    device = forms.ChoiceField(label=_("Appareil concerné (si vous le savez)"), required=False)
    description = forms.CharField(label=_("Décrivez ce qui se passe"), required=False, max_length=10_000,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    photos = MultipleFileField(label=_("Photos ou PDF (facultatif)"))

    def __init__(self, *args, classes=(), devices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["school_class"].choices = [("", _("— toute l'école —"))] + [(k.pk, k.name) for k in classes]
        self.fields["device"].choices = [("", _("— je ne sais pas —"))] + [
            (a.tag, f"{a.get_category_display()} — {a.tag}{' (' + a.school_class.name + ')' if a.school_class else ''}")
            for a in devices]


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Nouveau statut"))
    note = forms.CharField(label=_("Message à l'école (facultatif)"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, ticket: Ticket, targets=None, **kwargs):
        super().__init__(*args, **kwargs)
        targets = targets if targets is not None else lifecycle.allowed(ticket.status)
        self.fields["status"].choices = [(s, lifecycle.label(s)) for s in targets]


class CommentForm(forms.Form):
    body = forms.CharField(label=_("Message"), max_length=10_000, widget=forms.Textarea(attrs={"rows": 3}),
                           error_messages={"required": _("Le message est vide.")})
    internal = forms.BooleanField(label=_("Note interne (jamais montrée à l'école)"), required=False)
    photos = MultipleFileField(label=_("Photos ou PDF"))


class AssignForm(forms.Form):
    assignee = forms.TypedChoiceField(label=_("Confier à"), coerce=int, empty_value=None, required=False)

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", _("— personne —"))] + [(u.pk, str(u)) for u in members]


class ReassignForm(forms.Form):
    party = forms.ChoiceField(label=_("Nouveau responsable"), choices=Party.choices)
    note = forms.CharField(label=_("Pourquoi ?"), max_length=500,
                           error_messages={"required": _("Dites pourquoi la demande change de responsable.")})


class MergeForm(forms.Form):
    into = forms.IntegerField(label=_("Fusionner dans la demande n°"), min_value=1,
                              error_messages={"required": _("Indiquez le numéro de la demande qui reste.")})


class LinkForm(forms.Form):
    kind = forms.ChoiceField(label=_("Lier à"), choices=[("ticket", _("une autre demande (n°)")),
                                                        ("device", _("un appareil (n° d'inventaire)")),
                                                        ("visit", _("une intervention sur place (date)"))])
    other = forms.IntegerField(label=_("Demande n°"), required=False, min_value=1)
    tag = forms.CharField(label=_("N° d'inventaire"), required=False, max_length=32)
    visit_on = forms.DateField(label=_("Date de l'intervention"), required=False,
                               widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("Note"), required=False, max_length=300)


class ReplaceForm(forms.Form):
    replacement = forms.CharField(label=_("Appareil de remplacement (n° d'inventaire)"), max_length=32)


class RateForm(forms.Form):
    satisfaction = forms.TypedChoiceField(label=_("Votre avis"), coerce=int, widget=forms.RadioSelect,
                                          choices=[(i, str(i)) for i in range(1, 6)],
                                          error_messages={"required": _("Choisissez une note de 1 à 5.")})
    comment = forms.CharField(label=_("Un commentaire ?"), required=False, max_length=500)


class ArticleForm(forms.Form):
    article = forms.IntegerField(min_value=1)


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Votre réponse"), max_length=10_000, widget=forms.Textarea(attrs={"rows": 5}),
                           error_messages={"required": _("Le message est vide.")})


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["new_in_queue", "my_requests", "deadlines"]


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Statut"), required=False)
    category = forms.ModelChoiceField(label=_("Problème"), queryset=Category.objects.all(), required=False,
                                      empty_label=_("tous"))
    priority = forms.ChoiceField(label=_("Priorité"), required=False,
                                 choices=[("", _("toutes"))] + list(Priority.choices))
    commune = forms.CharField(label=_("Commune (INSEE)"), required=False, max_length=5)
    school = forms.CharField(label=_("École (UAI)"), required=False, max_length=8)
    breached = forms.BooleanField(label=_("Délai dépassé"), required=False)

    OPEN = "open"
    ALL = "all"

    def __init__(self, *args, default_status: str = OPEN, **kwargs):
        super().__init__(*args, **kwargs)
        first = [(self.OPEN, _("ouvertes")), (self.ALL, _("toutes"))]
        if default_status == self.ALL:
            first.reverse()  # the list's default comes first, so the select shows what is listed
        self.fields["status"].choices = first + list(lifecycle.Status.choices)
