"""Filter sets of the territory lists, shared by the web lists and the JSON API.

Usage in a web view (the queryset always comes from preau.accounts.access)::

    f = SchoolFilter(request.GET, queryset=schools_for(request.user), request=request)
    page = paginate(request, f.qs)          # f.form renders the filter form

Query parameters (all optional, combined with AND):

    SchoolFilter:  q, commune, kind, sector, access, network, circonscription, stratum, ordering
    CommuneFilter: q, department, stratum, network, epci, ordering

`access=unknown` (or `network=unknown`) selects the schools whose value is not
known (no connectivity record, or an empty value): an empty parameter means
"no filter", as in any HTML form.
"""

import django_filters
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from .codes import normalize_insee, normalize_uai
from .models import Access, Circonscription, Commune, FibreNetwork, School, SchoolKind, Sector, Stratum

UNKNOWN = "unknown"

ACCESS_CHOICES = [(value, label) for value, label in Access.choices if value] + [(UNKNOWN, _("inconnu"))]
NETWORK_CHOICES = [(value, label) for value, label in FibreNetwork.choices if value] + [(UNKNOWN, _("inconnu"))]


def search_terms(value: str) -> list[str]:
    """The words of a search box, at most 8 of them (each one must match)."""
    return [term for term in (value or "").split() if term][:8]


def case_variants(term: str) -> set[str]:
    """The term and its lower/upper/capitalised forms when it has non-ASCII letters.

    SQLite's LIKE folds the case of ASCII letters only: « école » would miss « École ».
    """
    if term.isascii():
        return {term}
    return {term, term.lower(), term.upper(), term.capitalize()}


def icontains_any(field: str, term: str) -> Q:
    q = Q()
    for variant in case_variants(term):
        q |= Q(**{f"{field}__icontains": variant})
    return q


class StableOrderingFilter(django_filters.OrderingFilter):
    """OrderingFilter that always ends with the primary key, so pages never overlap or skip rows."""

    def filter(self, qs, value):
        qs = super().filter(qs, value)
        if value and qs.query.order_by:
            qs = qs.order_by(*qs.query.order_by, "pk")
        return qs


class SchoolFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_q", label=_("Recherche"),
        help_text=_("Nom de l'école, UAI, nom ou code INSEE de la commune, code postal (chaque mot doit correspondre)."),
    )
    commune = django_filters.CharFilter(
        method="filter_commune", label=_("Commune (code INSEE)"), help_text=_("Code INSEE de la commune, ex. 42218."),
    )
    kind = django_filters.ChoiceFilter(choices=SchoolKind.choices, label=_("Type"))
    sector = django_filters.ChoiceFilter(choices=Sector.choices, label=_("Secteur"))
    access = django_filters.ChoiceFilter(
        choices=ACCESS_CHOICES, method="filter_access", label=_("Accès à internet"),
        help_text=_("Type d'accès de l'école ; « unknown » : accès inconnu ou non renseigné."),
    )
    network = django_filters.ChoiceFilter(
        choices=NETWORK_CHOICES, method="filter_network", label=_("Réseau fibre"),
        help_text=_("Réseau fibre de l'école ; « unknown » : réseau inconnu ou non renseigné."),
    )
    circonscription = django_filters.ModelChoiceFilter(
        queryset=Circonscription.objects.all(), label=_("Circonscription"),
        help_text=_("Identifiant de la circonscription."),
    )
    stratum = django_filters.ChoiceFilter(
        field_name="commune__stratum", choices=Stratum.choices, label=_("Strate de la commune"),
    )
    ordering = StableOrderingFilter(
        fields=(("name", "name"), ("uai", "uai"), ("commune__name", "commune"), ("pupils", "pupils"),
                ("kind", "kind"), ("sector", "sector")),
        field_labels={"name": _("nom"), "uai": _("UAI"), "commune__name": _("commune"),
                      "pupils": _("élèves"), "kind": _("type"), "sector": _("secteur")},
        label=_("Tri"),
        help_text=_("Champs de tri : name, uai, commune, pupils, kind, sector ; préfixe « - » pour l'ordre décroissant."),
    )

    class Meta:
        model = School
        fields = ["q", "commune", "kind", "sector", "access", "network", "circonscription", "stratum"]

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        for term in search_terms(value):
            queryset = queryset.filter(
                icontains_any("name", term) | Q(uai__istartswith=normalize_uai(term))
                | icontains_any("commune__name", term) | Q(commune__insee=normalize_insee(term))
                | Q(postal_code__startswith=term)
            )
        return queryset

    def filter_commune(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(commune__insee=normalize_insee(value))

    def filter_access(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == UNKNOWN:
            return queryset.filter(Q(connectivity__isnull=True) | Q(connectivity__access=""))
        return queryset.filter(connectivity__access=value)

    def filter_network(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == UNKNOWN:
            return queryset.filter(Q(connectivity__isnull=True) | Q(connectivity__network=""))
        return queryset.filter(connectivity__network=value)


class CommuneFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_q", label=_("Recherche"),
        help_text=_("Nom, code INSEE ou code postal de la commune (chaque mot doit correspondre)."),
    )
    department = django_filters.CharFilter(label=_("Département"), help_text=_("Code du département, ex. 42."))
    stratum = django_filters.ChoiceFilter(choices=Stratum.choices, label=_("Strate"))
    network = django_filters.ChoiceFilter(
        field_name="fibre_network", choices=NETWORK_CHOICES, method="filter_network", label=_("Réseau fibre"),
        help_text=_("Réseau fibre de la commune (ARCEP) ; « unknown » : non renseigné."),
    )
    epci = django_filters.CharFilter(
        field_name="epci__siren", label=_("EPCI (SIREN)"), help_text=_("SIREN de l'EPCI, ex. 244200770."),
    )
    ordering = StableOrderingFilter(
        fields=(("name", "name"), ("insee", "insee"), ("population", "population")),
        field_labels={"name": _("nom"), "insee": _("code INSEE"), "population": _("population")},
        label=_("Tri"),
        help_text=_("Champs de tri : name, insee, population ; préfixe « - » pour l'ordre décroissant."),
    )

    class Meta:
        model = Commune
        fields = ["q", "department", "stratum", "network", "epci"]

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        for term in search_terms(value):
            queryset = queryset.filter(
                icontains_any("name", term) | Q(insee=normalize_insee(term)) | Q(postal_codes__icontains=term)
            )
        return queryset

    def filter_network(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == UNKNOWN:
            return queryset.filter(fibre_network="")
        return queryset.filter(fibre_network=value)
