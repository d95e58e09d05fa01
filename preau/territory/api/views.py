"""API viewsets of the territory: communes, schools, classes and connectivity under /api/v1/.

Scope: every queryset comes from preau.accounts.access (schools_for, communes_for,
classes_for), exactly as the web pages: what a user cannot see answers 404; what
a user sees but may not change answers 403. Writes go through the do_* services,
which write the audit log:

- PATCH /schools/{uai}/connectivity/ and /connectivity/{uai}/: admins, and commune
  staff for the schools of their communes (access.can_edit_school);
- POST /classes/ and DELETE /classes/{id}/: admins.

Lists are paginated (limit/offset, 100 by default, at most 1000), filtered with
the filter sets shared with the web lists and run a fixed number of SQL queries
whatever their size.
"""

from django.db.models import Count, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from preau.accounts import access
from preau.core.api import (
    FORBIDDEN_TO_CHANGE,
    INVALID_FIELDS,
    NOT_FOUND,
    ApiPagination,
    ScopedLookupMixin,
    fake_view,
    refusals,
)
from preau.territory import services
from preau.territory.codes import normalize_insee, normalize_uai
from preau.territory.models import Commune, Connectivity, School, SchoolClass, current_school_year

from .filters import CommuneFilter, ConnectivityFilter, SchoolClassFilter, SchoolFilter
from .serializers import (
    CommuneDetailSerializer,
    CommuneSerializer,
    ConnectivitySerializer,
    SchoolClassSerializer,
    SchoolSerializer,
)

UAI_REGEX = r"[0-9]{7}[A-Za-z]"
INSEE_REGEX = r"[0-9][0-9ABab][0-9]{3}"


def connectivity_of(school: School) -> Connectivity:
    """The school's connectivity record, or an unsaved empty one (access unknown) if there is none yet."""
    try:
        return school.connectivity
    except Connectivity.DoesNotExist:
        return Connectivity(school=school)


UAI_PARAM = OpenApiParameter("uai", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description="UAI de l'école (7 chiffres et la lettre de contrôle), ex. 0429901J.")
INSEE_PARAM = OpenApiParameter("insee", OpenApiTypes.STR, OpenApiParameter.PATH,
                               description="Code INSEE de la commune, ex. 42218.")

SCOPE_NOTE = (
    " Périmètre : toute l'agglomération pour l'équipe numérique, les techniciens et le comité ; "
    "ses communes pour un agent communal ; ses circonscriptions pour l'Éducation nationale ; "
    "son école pour un directeur ou un enseignant ; rien pour un atelier partenaire."
)


@extend_schema_view(
    list=extend_schema(
        summary="Lister les communes",
        description="Les communes du périmètre de l'utilisateur, avec leur EPCI, leur couverture fibre (ARCEP) "
                    "et le nombre d'écoles visibles. Paginé (limit/offset), filtrable et triable." + SCOPE_NOTE,
    ),
    retrieve=extend_schema(
        summary="Lire une commune",
        description="Une commune par son code INSEE, avec son contour GeoJSON s'il a été importé. "
                    "404 si elle est hors du périmètre de l'utilisateur.",
        parameters=[INSEE_PARAM], responses={200: CommuneDetailSerializer, 404: NOT_FOUND},
    ),
)
class CommuneViewSet(ScopedLookupMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = CommuneSerializer
    filterset_class = CommuneFilter
    pagination_class = ApiPagination
    lookup_field = "insee"
    lookup_value_regex = INSEE_REGEX
    lookup_normalize = staticmethod(normalize_insee)

    def get_queryset(self):
        if fake_view(self):
            return Commune.objects.none()
        user = self.request.user
        return (access.communes_for(user).select_related("epci")
                .annotate(school_count=Count("schools", filter=access.visible_schools_q(user)))
                .order_by("name", "pk"))

    def get_serializer_class(self):
        return CommuneDetailSerializer if self.action == "retrieve" else CommuneSerializer


CONNECTIVITY_PATCH_DESCRIPTION = (
    "Modifie la connectivité d'une école (la crée si elle n'existe pas encore). Champs modifiables : "
    "access, network, operator, bandwidth_mbps, connected_on, planned_on ; tout autre champ est refusé (400). "
    "La source devient « manual » et la modification est inscrite au journal. Réservé à l'équipe numérique "
    "et aux agents communaux pour les écoles de leurs communes : 403 pour les autres utilisateurs qui voient "
    "l'école, 404 si l'école est hors de leur périmètre."
)


@extend_schema_view(
    list=extend_schema(
        summary="Lister les écoles",
        description="Les écoles du périmètre de l'utilisateur, avec leur commune (code INSEE et nom), leur "
                    "circonscription, leur connectivité et le nombre de classes de l'année scolaire en cours. "
                    "Paginé (limit/offset), filtrable et triable." + SCOPE_NOTE,
    ),
    retrieve=extend_schema(
        summary="Lire une école",
        description="Une école par son UAI. 404 si elle est hors du périmètre de l'utilisateur.",
        parameters=[UAI_PARAM], responses={200: SchoolSerializer, 404: NOT_FOUND},
    ),
)
class SchoolViewSet(ScopedLookupMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = SchoolSerializer
    filterset_class = SchoolFilter
    pagination_class = ApiPagination
    lookup_field = "uai"
    lookup_value_regex = UAI_REGEX
    lookup_normalize = staticmethod(normalize_uai)

    def get_queryset(self):
        if fake_view(self):
            return School.objects.none()
        return (access.schools_for(self.request.user)
                .select_related("commune", "circonscription", "connectivity")
                .annotate(class_count=Count("classes", filter=Q(classes__year=current_school_year())))
                .order_by("name", "uai"))

    @extend_schema(
        methods=["GET"], summary="Lire la connectivité d'une école",
        description="La connectivité de l'école (accès inconnu et champs vides si elle n'est pas encore "
                    "renseignée). 404 si l'école est hors du périmètre de l'utilisateur.",
        parameters=[UAI_PARAM], responses={200: ConnectivitySerializer, 404: NOT_FOUND},
    )
    @extend_schema(
        methods=["PATCH"], summary="Modifier la connectivité d'une école", description=CONNECTIVITY_PATCH_DESCRIPTION,
        parameters=[UAI_PARAM], request=ConnectivitySerializer,
        responses={200: ConnectivitySerializer, 400: INVALID_FIELDS, 403: FORBIDDEN_TO_CHANGE, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get", "patch"], url_path="connectivity",
            serializer_class=ConnectivitySerializer, filterset_class=None, pagination_class=None)
    def connectivity(self, request, uai=None):
        if request.method == "PATCH":
            return patch_connectivity(request, uai)
        school = access.get_school(request.user, uai)
        return Response(ConnectivitySerializer(connectivity_of(school)).data)


def patch_connectivity(request, uai: str) -> Response:
    """The one PATCH of a connectivity: scope (404), right (403), validation (400), service (audit)."""
    school = access.get_school(request.user, uai)
    access.require_edit_school(request.user, school)
    serializer = ConnectivitySerializer(connectivity_of(school), data=request.data, partial=True)
    serializer.is_valid(raise_exception=True)
    with refusals():
        conn = services.do_update_connectivity(request.user, school, **serializer.validated_data)
    return Response(ConnectivitySerializer(conn).data)


@extend_schema_view(
    list=extend_schema(
        summary="Lister les connectivités",
        description="Les connectivités renseignées des écoles du périmètre de l'utilisateur (une par école ; "
                    "une école sans connectivité n'y figure pas). Paginé, filtrable et triable." + SCOPE_NOTE,
    ),
    retrieve=extend_schema(
        summary="Lire la connectivité d'une école",
        description="La connectivité d'une école par son UAI (accès inconnu et champs vides si elle n'est pas "
                    "encore renseignée). 404 si l'école est hors du périmètre de l'utilisateur.",
        parameters=[UAI_PARAM], responses={200: ConnectivitySerializer, 404: NOT_FOUND},
    ),
    partial_update=extend_schema(
        summary="Modifier la connectivité d'une école", description=CONNECTIVITY_PATCH_DESCRIPTION,
        parameters=[UAI_PARAM], request=ConnectivitySerializer,
        responses={200: ConnectivitySerializer, 400: INVALID_FIELDS, 403: FORBIDDEN_TO_CHANGE, 404: NOT_FOUND},
    ),
)
class ConnectivityViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ConnectivitySerializer
    filterset_class = ConnectivityFilter
    pagination_class = ApiPagination
    lookup_field = "uai"
    lookup_value_regex = UAI_REGEX
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        if fake_view(self):
            return Connectivity.objects.none()
        return (Connectivity.objects.filter(school__in=access.schools_for(self.request.user))
                .select_related("school__commune").order_by("school__name", "school__uai"))

    def retrieve(self, request, uai=None):
        school = access.get_school(request.user, uai)
        return Response(ConnectivitySerializer(connectivity_of(school)).data)

    def partial_update(self, request, uai=None):
        return patch_connectivity(request, uai)


@extend_schema_view(
    list=extend_schema(
        summary="Lister les classes",
        description="Les classes des écoles du périmètre de l'utilisateur, toutes années scolaires confondues "
                    "(filtre year pour une année). Paginé, filtrable et triable." + SCOPE_NOTE,
    ),
    retrieve=extend_schema(
        summary="Lire une classe",
        description="Une classe par son identifiant. 404 si son école est hors du périmètre de l'utilisateur.",
        responses={200: SchoolClassSerializer, 404: NOT_FOUND},
    ),
    create=extend_schema(
        summary="Créer une classe",
        description="Crée une classe dans une école (par son UAI) ; inscrite au journal. Réservé à l'équipe "
                    "numérique (403 sinon). Le nom doit être unique dans l'école pour l'année (400 sinon).",
        responses={201: SchoolClassSerializer, 400: INVALID_FIELDS, 403: FORBIDDEN_TO_CHANGE},
    ),
    destroy=extend_schema(
        summary="Supprimer une classe",
        description="Supprime une classe ; inscrit au journal. Réservé à l'équipe numérique : 403 pour les autres "
                    "utilisateurs qui voient la classe, 404 si elle est hors de leur périmètre.",
        responses={204: None, 403: FORBIDDEN_TO_CHANGE, 404: NOT_FOUND},
    ),
)
class SchoolClassViewSet(ScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = SchoolClassSerializer
    filterset_class = SchoolClassFilter
    pagination_class = ApiPagination
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if fake_view(self):
            return SchoolClass.objects.none()
        return (access.classes_for(self.request.user).select_related("school__commune")
                .order_by("school__name", "school__uai", "-year", "name", "pk"))

    def get_serializer(self, *args, **kwargs):
        if not fake_view(self):
            kwargs["school_queryset"] = access.schools_for(self.request.user)
        return super().get_serializer(*args, **kwargs)

    def create(self, request, *args, **kwargs):
        access.require_admin(request.user)
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        school = data.pop("school")
        with refusals():
            serializer.instance = services.do_create_class(self.request.user, school, **data)

    def destroy(self, request, *args, **kwargs):
        klass = self.get_object()
        access.require_admin(request.user)
        services.do_delete_class(request.user, klass)
        return Response(status=status.HTTP_204_NO_CONTENT)


def register(router) -> None:
    router.register("communes", CommuneViewSet, basename="commune")
    router.register("schools", SchoolViewSet, basename="school")
    router.register("classes", SchoolClassViewSet, basename="schoolclass")
    router.register("connectivity", ConnectivityViewSet, basename="connectivity")
