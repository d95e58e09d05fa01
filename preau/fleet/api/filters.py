"""Filter sets used only by the fleet API (device models, batches, slots).

Assets use the filter set shared with the web list and exports, preau.fleet.filters.AssetFilter.
"""

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from preau.fleet.filters import AssetFilter  # noqa: F401  (re-exported for the views)
from preau.fleet.models import Category, DeviceModel, RequalificationBatch, Slot
from preau.territory.codes import normalize_uai
from preau.territory.filters import StableOrderingFilter, icontains_any, search_terms


class DeviceModelFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("Recherche"),
                                  help_text=_("Fabricant ou modèle (chaque mot doit correspondre)."))
    category = django_filters.ChoiceFilter(choices=Category.choices, label=_("Catégorie"))
    ordering = StableOrderingFilter(
        fields=(("category", "category"), ("maker", "maker"), ("name", "name"), ("released_year", "released_year")),
        label=_("Tri"),
        help_text=_("Champs de tri : category, maker, name, released_year ; préfixe « - » pour l'ordre décroissant."),
    )

    class Meta:
        model = DeviceModel
        fields = ["q", "category"]

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        for term in search_terms(value):
            queryset = queryset.filter(icontains_any("maker", term) | icontains_any("name", term))
        return queryset


class BatchFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=RequalificationBatch.State.choices, label=_("État"))
    workshop = django_filters.NumberFilter(field_name="workshop_id", label=_("Atelier"),
                                           help_text=_("Identifiant du site de l'atelier."))

    class Meta:
        model = RequalificationBatch
        fields = ["state", "workshop"]


class SlotFilter(django_filters.FilterSet):
    school = django_filters.CharFilter(method="filter_school", label=_("École (UAI)"),
                                       help_text=_("UAI de l'école, ex. 0429901J."))
    school_class = django_filters.NumberFilter(field_name="school_class_id", label=_("Classe"),
                                               help_text=_("Identifiant de la classe."))
    category = django_filters.ChoiceFilter(choices=Category.choices, label=_("Catégorie"))
    free = django_filters.BooleanFilter(field_name="asset", lookup_expr="isnull", label=_("Libre"),
                                        help_text=_("true : emplacements sans appareil ; false : occupés."))

    class Meta:
        model = Slot
        fields = ["school", "school_class", "category", "free"]

    def filter_school(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(school__uai=normalize_uai(value))
