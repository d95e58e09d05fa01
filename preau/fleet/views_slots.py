"""The equipment standard (dotation): create the slots every class and every school should have.

Fleet managers only (others 403). The scope is one school (UAI), one commune (INSEE) or the whole
territory; the result says how many slots were created (an existing slot of a category counts).
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from preau.accounts import access as territory_access
from preau.territory.models import current_school_year

from . import access, services
from .models import Category


class StandardForm(forms.Form):
    school = forms.CharField(label=gettext_lazy("École (UAI)"), required=False, max_length=8)
    commune = forms.CharField(label=gettext_lazy("ou commune (code INSEE)"), required=False, max_length=5)
    everywhere = forms.BooleanField(label=gettext_lazy("ou tout le territoire"), required=False)
    year = forms.IntegerField(label=gettext_lazy("Année scolaire (rentrée)"), min_value=2000, max_value=2100)
    per_class = forms.MultipleChoiceField(label=gettext_lazy("Dans chaque classe"), choices=Category.choices,
                                          required=False, widget=forms.CheckboxSelectMultiple)
    per_school = forms.MultipleChoiceField(label=gettext_lazy("Dans chaque école"), choices=Category.choices,
                                           required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        data = super().clean()
        given = [bool(data.get("school")), bool(data.get("commune")), bool(data.get("everywhere"))]
        if sum(given) != 1:
            raise forms.ValidationError(_("Choisissez une école, une commune ou tout le territoire (un seul)."))
        if not data.get("per_class") and not data.get("per_school"):
            raise forms.ValidationError(_("Choisissez au moins une catégorie d'appareil."))
        schools = territory_access.schools_for(self.user).filter(closed_on__isnull=True)
        if data.get("school"):
            data["schools"] = schools.filter(pk=territory_access.get_school(self.user, data["school"]).pk)
        elif data.get("commune"):
            data["schools"] = schools.filter(commune=territory_access.get_commune(self.user, data["commune"]))
        else:
            data["schools"] = schools
        return data


@login_required
def standard(request: HttpRequest) -> HttpResponse:
    access.require_manage_fleet(request.user)
    initial = {"year": current_school_year(), "per_class": list(services.CLASS_STANDARD),
               "per_school": list(services.SCHOOL_STANDARD), "school": request.GET.get("school", "")}
    form = StandardForm(request.POST or None, initial=initial, user=request.user)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        result = services.do_apply_standard(request.user, d["schools"], year=d["year"], per_class=d["per_class"],
                                            per_school=d["per_school"])
        messages.success(request, ngettext(
            "Dotation appliquée : %(created)s emplacement créé (écoles concernées : %(touched)s sur %(schools)s).",
            "Dotation appliquée : %(created)s emplacements créés (écoles concernées : %(touched)s sur %(schools)s).",
            result["created"]) % {"created": result["created"], "touched": result["schools_touched"],
                                  "schools": result["schools"]})
        if d.get("school"):
            return redirect("territory:school", uai=d["school"].upper())
        return redirect("fleet:standard")
    return render(request, "fleet/standard.html", {"form": form}, status=400 if form.errors else 200)


urlpatterns = [path("dotation/", standard, name="standard")]
