"""Filter sets of the contents API. The NAS status filter is the web list's (preau.contents.views.filter_nodes)."""

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from preau.contents.models import NasNode, Release, Subscription, Tour
from preau.contents.views import NODE_STATUSES, filter_nodes
from preau.territory.codes import normalize_insee, normalize_uai


class ReleaseFilter(django_filters.FilterSet):
    collection = django_filters.CharFilter(field_name="collection__slug", label=_("Collection"),
                                           help_text=_("Identifiant de la collection."))
    withdrawn = django_filters.BooleanFilter(field_name="withdrawn_at", lookup_expr="isnull", exclude=True,
                                             label=_("Retirée"),
                                             help_text=_("true : versions retirées ; false : les autres."))

    class Meta:
        model = Release
        fields = ["collection", "withdrawn"]


class SubscriptionFilter(django_filters.FilterSet):
    collection = django_filters.CharFilter(field_name="collection__slug", label=_("Collection"),
                                           help_text=_("Identifiant de la collection."))

    class Meta:
        model = Subscription
        fields = ["collection"]


class NodeFilter(django_filters.FilterSet):
    school = django_filters.CharFilter(method="filter_school", label=_("École (UAI)"))
    commune = django_filters.CharFilter(method="filter_commune", label=_("Commune (INSEE)"))
    mode = django_filters.ChoiceFilter(choices=NasNode.Mode.choices, label=_("Mode"))
    status = django_filters.ChoiceFilter(choices=NODE_STATUSES, method="filter_status", label=_("État"),
                                         help_text=_("enrolled, silent, never, revoked ou error (comme la liste "
                                                     "web)."))

    class Meta:
        model = NasNode
        fields = ["school", "commune", "mode", "status"]

    def filter_school(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(school__uai=normalize_uai(value))

    def filter_commune(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(school__commune__insee=normalize_insee(value))

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return filter_nodes(queryset, value)


class TourFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=Tour.State.choices, label=_("État"))

    class Meta:
        model = Tour
        fields = ["state"]
