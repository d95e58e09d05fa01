"""Filter set of the asset lists, shared by the web list, its exports and the JSON API.

Usage (the queryset always comes from preau.fleet.access)::

    f = AssetFilter(request.GET, queryset=assets_for(request.user), request=request)

Query parameters (all optional, combined with AND): q (tag, serial, hostname, model),
school (UAI), commune (INSEE), category, status, model (id), origin, site (id),
age_min / age_max (years since purchase), ordering.
"""

from datetime import date

import django_filters
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from preau.territory.codes import normalize_insee, normalize_uai
from preau.territory.filters import StableOrderingFilter, icontains_any, search_terms

from .lifecycle import Status
from .models import Asset, Category, DeviceModel, Origin, Site


def years_ago(years: int, today: date | None = None) -> date:
    today = today or date.today()
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def prefix_q(field: str, prefix: str) -> Q:
    """`field` starts with `prefix`, in a form the database answers from an index.

    SQLite's LIKE folds ASCII case, so it cannot use an ordinary index: a range on the bytes can.
    PostgreSQL answers LIKE 'x%' from the varchar_pattern_ops index Django adds to indexed text columns."""
    if connection.vendor == "sqlite":
        return Q(**{f"{field}__gte": prefix, f"{field}__lt": prefix + "\U0010ffff"})
    return Q(**{f"{field}__startswith": prefix})


def search_q(term: str) -> Q:
    """One search word: the start of a tag or a machine name, a whole serial number, or a word of a
    catalogue model (maker or name). Only index lookups, so a rare word does not scan a million assets
    (the fleet bench: ?q=<serial> 334 ms → a few ms). Tags and serials are tried as typed and in
    capitals, machine names as typed, in lower case and in capitals."""
    q = Q()
    for variant in {term, term.upper()}:
        q |= prefix_q("tag", variant) | Q(serial=variant)
    for variant in {term, term.lower(), term.upper()}:
        q |= prefix_q("hostname", variant)
    # A literal list of catalogue ids (the catalogue is small): with a subquery both planners
    # drive the query from the models table and scan the assets.
    model_ids = list(DeviceModel.objects.filter(icontains_any("name", term) | icontains_any("maker", term))
                     .values_list("pk", flat=True)[:500])
    if model_ids:
        q |= Q(model_id__in=model_ids)
    return q


class AssetFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_q", label=_("Recherche"),
        help_text=_("Début du numéro d'inventaire ou du nom de machine, numéro de série complet, fabricant ou "
                    "modèle (chaque mot doit correspondre)."),
    )
    school = django_filters.CharFilter(method="filter_school", label=_("École (UAI)"),
                                       help_text=_("UAI de l'école, ex. 0429901J."))
    commune = django_filters.CharFilter(method="filter_commune", label=_("Commune (code INSEE)"),
                                        help_text=_("Code INSEE de la commune de l'école, ex. 42218."))
    category = django_filters.ChoiceFilter(choices=Category.choices, label=_("Catégorie"))
    status = django_filters.ChoiceFilter(choices=Status.choices, label=_("Statut"))
    model = django_filters.ModelChoiceFilter(queryset=DeviceModel.objects.all(), label=_("Modèle"),
                                             help_text=_("Identifiant du modèle d'appareil."))
    origin = django_filters.ChoiceFilter(choices=Origin.choices, label=_("Origine"))
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), label=_("Site (dépôt, atelier)"),
                                            help_text=_("Identifiant du site."))
    age_min = django_filters.NumberFilter(method="filter_age_min", label=_("Âge minimal (ans)"),
                                          help_text=_("Acheté il y a au moins ce nombre d'années."))
    age_max = django_filters.NumberFilter(method="filter_age_max", label=_("Âge maximal (ans)"),
                                          help_text=_("Acheté il y a au plus ce nombre d'années."))
    ordering = StableOrderingFilter(
        fields=(("tag", "tag"), ("serial", "serial"), ("purchased_on", "purchased"), ("status", "status"),
                ("category", "category")),
        field_labels={"tag": _("numéro d'inventaire"), "serial": _("numéro de série"),
                      "purchased_on": _("date d'achat"), "status": _("statut"), "category": _("catégorie")},
        label=_("Tri"),
        help_text=_("Champs de tri : tag, serial, purchased, status, category ; préfixe « - » pour l'ordre décroissant."),
    )

    class Meta:
        model = Asset
        fields = ["q", "school", "commune", "category", "status", "model", "origin", "site", "age_min", "age_max"]

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        for term in search_terms(value):
            queryset = queryset.filter(search_q(term))
        return queryset

    def filter_school(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(school__uai=normalize_uai(value))

    def filter_commune(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(school__commune__insee=normalize_insee(value))

    def filter_age_min(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(purchased_on__lte=years_ago(int(value)))

    def filter_age_max(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(purchased_on__gte=years_ago(int(value)))
