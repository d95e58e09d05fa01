"""Filter sets used only by the API (classes, connectivity records).

Schools and communes use the filter sets shared with the web lists, in preau.territory.filters.
"""

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from preau.territory.codes import normalize_insee, normalize_uai
from preau.territory.filters import (  # noqa: F401  (re-exported for the views)
    NETWORK_CHOICES,
    UNKNOWN,
    CommuneFilter,
    SchoolFilter,
    StableOrderingFilter,
)
from preau.territory.models import Access, Connectivity, ConnectivitySource, Level, SchoolClass


class SchoolClassFilter(django_filters.FilterSet):
    school = django_filters.CharFilter(method="filter_school", label=_("École (UAI)"),
                                       help_text=_("UAI de l'école, ex. 0429901J."))
    commune = django_filters.CharFilter(method="filter_commune", label=_("Commune (code INSEE)"),
                                        help_text=_("Code INSEE de la commune de l'école."))
    year = django_filters.NumberFilter(label=_("Année scolaire"),
                                       help_text=_("Année de la rentrée, ex. 2026 pour 2026-2027."))
    level = django_filters.ChoiceFilter(choices=Level.choices, label=_("Niveau"))
    ordering = StableOrderingFilter(
        fields=(("school__uai", "school"), ("year", "year"), ("name", "name"), ("level", "level"),
                ("pupils", "pupils")),
        label=_("Tri"),
        help_text=_("Champs de tri : school, year, name, level, pupils ; préfixe « - » pour l'ordre décroissant."),
    )

    class Meta:
        model = SchoolClass
        fields = ["school", "commune", "year", "level"]

    def filter_school(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(school__uai=normalize_uai(value))

    def filter_commune(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(school__commune__insee=normalize_insee(value))


class ConnectivityFilter(django_filters.FilterSet):
    commune = django_filters.CharFilter(method="filter_commune", label=_("Commune (code INSEE)"),
                                        help_text=_("Code INSEE de la commune de l'école."))
    access = django_filters.ChoiceFilter(
        choices=[(value, label) for value, label in Access.choices if value] + [(UNKNOWN, _("inconnu"))],
        method="filter_access", label=_("Accès à internet"),
        help_text=_("Type d'accès ; « unknown » : non renseigné."),
    )
    network = django_filters.ChoiceFilter(
        choices=NETWORK_CHOICES, method="filter_network", label=_("Réseau fibre"),
        help_text=_("Réseau fibre ; « unknown » : non renseigné."),
    )
    source = django_filters.ChoiceFilter(choices=ConnectivitySource.choices, label=_("Source"))
    ordering = StableOrderingFilter(
        fields=(("school__uai", "school"), ("school__name", "school_name"), ("updated_at", "updated_at"),
                ("bandwidth_mbps", "bandwidth_mbps")),
        label=_("Tri"),
        help_text=_("Champs de tri : school, school_name, updated_at, bandwidth_mbps ; préfixe « - » pour "
                    "l'ordre décroissant."),
    )

    class Meta:
        model = Connectivity
        fields = ["commune", "access", "network", "source"]

    def filter_commune(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(school__commune__insee=normalize_insee(value))

    def filter_access(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(access="" if value == UNKNOWN else value)

    def filter_network(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(network="" if value == UNKNOWN else value)
