"""API viewsets of the contents service under /api/v1/contents/: collections (and publishing), releases,
subscriptions, the schools' NAS, operator tours.

Same rules as the pages (preau.contents.access): the contents team (admins, technicians) manages; committees
read everything; commune staff, advisors, directors and teachers see the NAS of the schools they see (404 for a
school out of scope); others get a 403 (anonymous: 401). Writes go through preau.contents.services (audit
entry); a refusal of a service answers 400 {"detail": "<sentence>"} and changes nothing. Publishing (from a
server folder or an uploaded archive) is a background job: 202 with the job's id and page.

Lists are paginated (limit/offset, 100 by default, at most 1000) and run a fixed number of SQL queries.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from preau.contents import access, services, tours, uploads
from preau.contents import jobs as contents_jobs
from preau.contents.forms import resolve_import_dir
from preau.contents.models import Collection, NasNode, Release, Subscription, Tour, TourStop
from preau.contents.views import current_versions, describe_node
from preau.core import api, jobs
from preau.core.api import FORBIDDEN, INVALID, NOT_FOUND, ApiPagination, Refused, fake_view
from preau.core.models import Job
from preau.territory.api.views import UAI_REGEX
from preau.territory.codes import normalize_uai

from .filters import NodeFilter, ReleaseFilter, SubscriptionFilter, TourFilter
from .serializers import (
    CollectionCreateSerializer,
    CollectionDetailSerializer,
    CollectionSerializer,
    EnrolmentCodeSerializer,
    JobRefSerializer,
    JobSerializer,
    ModeSerializer,
    NodeDetailSerializer,
    NodeSerializer,
    PublishSerializer,
    ReleaseSerializer,
    RevokeSerializer,
    SubscriptionCreateSerializer,
    SubscriptionSerializer,
    TourDetailSerializer,
    TourPlanSerializer,
    TourSerializer,
    WithdrawSerializer,
)


def refusals():
    """The services' refusals as API answers (400): see api.refusals."""
    return api.refusals(services.ContentsError)


SLUG_PARAM = OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH,
                              description="Identifiant de la collection, ex. cycle2.")
UAI_PARAM = OpenApiParameter("uai", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description="UAI de l'école du NAS, ex. 0429901J.")
ID_PARAM = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Identifiant.")
READERS = (" L'équipe numérique, les techniciens et le comité ; 403 pour les autres rôles.")
MANAGERS = " Réservé à l'équipe numérique (administrateurs, techniciens) : 403 sinon."
NODES_SCOPE = (" Périmètre : tous les NAS pour l'équipe numérique, les techniciens et le comité ; ceux des écoles "
               "qu'il voit pour un agent communal, un conseiller, un directeur ou un enseignant ; 403 pour les "
               "autres rôles.")


def collections_queryset():
    current = (Release.objects.filter(collection=OuterRef("pk"), withdrawn_at__isnull=True)
               .order_by("-version").values("version")[:1])
    return (Collection.objects.annotate(current_version=Subquery(current),
                                        release_count=Count("releases", distinct=True),
                                        subscription_count=Count("subscriptions", distinct=True))
            .order_by("name", "pk"))


def collection_response(request, slug: str, code: int = status.HTTP_200_OK) -> Response:
    access.require_read_collections(request.user)
    collection = get_object_or_404(collections_queryset().prefetch_related(
        Prefetch("releases", queryset=Release.objects.select_related("collection", "published_by")
                 .order_by("-version")),
        Prefetch("subscriptions", queryset=Subscription.objects.select_related("collection", "commune", "school")
                 .order_by("pk"))), slug=slug)
    return Response(CollectionDetailSerializer(collection).data, status=code)


def discard_parsed_uploads(request) -> None:
    """A refused publish whose body was already parsed (a session's CSRF check reads it): remove the upload."""
    files = getattr(request, "_files", None)  # DRF's parsed files; a placeholder class until parsed
    for f in files.values() if hasattr(files, "values") else ():
        if isinstance(f, uploads.ArchiveUpload):
            uploads.discard(f.token)


# --------------------------------------------------------------------------- collections


@extend_schema_view(
    list=extend_schema(summary="Lister les collections",
                       description="Les collections de contenus avec leur version actuelle (la dernière non "
                                   "retirée), leur nombre de versions et d'abonnements. Paginé." + READERS),
    retrieve=extend_schema(summary="Lire une collection",
                           description="Une collection avec ses versions (de la plus récente à la plus ancienne) et "
                                       "ses abonnements." + READERS,
                           parameters=[SLUG_PARAM],
                           responses={200: CollectionDetailSerializer, 403: FORBIDDEN, 404: NOT_FOUND}),
    create=extend_schema(summary="Créer une collection",
                         description="Crée une collection, abonnée par défaut à toutes les écoles ; inscrit au "
                                     "journal. Identifiant unique (400 sinon)." + MANAGERS,
                         request=CollectionCreateSerializer,
                         responses={201: CollectionDetailSerializer, 400: INVALID, 403: FORBIDDEN}),
)
class CollectionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = CollectionSerializer
    pagination_class = ApiPagination
    lookup_field = "slug"
    filter_backends = []
    parser_classes = [JSONParser, MultiPartParser]

    def initialize_request(self, request, *args, **kwargs):
        # A publish upload goes straight into its own upload folder, capped (set before the body is read).
        if request.method == "POST" and request.path.endswith("/publish/") \
                and request.content_type == "multipart/form-data":
            request.upload_handlers = [uploads.ArchiveUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    def get_queryset(self):
        if fake_view(self):
            return Collection.objects.none()
        return collections_queryset()

    def list(self, request, *args, **kwargs):
        access.require_read_collections(request.user)
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, slug=None):
        return collection_response(request, slug)

    def create(self, request):
        access.require_manage_contents(request.user)
        serializer = CollectionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with refusals():
            collection = services.do_create_collection(request.user, **serializer.validated_data)
        return collection_response(request, collection.slug, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Publier une version",
        description="Publie la version suivante de la collection en tâche de fond, depuis un dossier du serveur "
                    "(src_dir, sous PREAU_CONTENT_IMPORT_ROOT ; hors de ce dossier : 400) ou depuis une archive "
                    "envoyée (archive, en multipart/form-data : .zip, .tar, .tar.gz, .tar.bz2, .tar.xz, .tar.zst, "
                    "au plus PREAU_CONTENT_UPLOAD_MAX_BYTES une fois extraite). Une archive illisible ou qui n'en "
                    "est pas une, ou un zip dont un élément sort du dossier, est un lien ou dépasse la taille, est "
                    "refusée tout de suite (400) ; une archive tar est vérifiée pendant l'extraction, et la tâche "
                    "échoue alors avec la phrase qui nomme l'élément. Rien n'est publié en cas de refus ; "
                    "l'envoi est effacé après la tâche. Répond 202 avec la tâche (suivre son état sur sa "
                    "page)." + MANAGERS,
        parameters=[SLUG_PARAM], request=PublishSerializer,
        responses={202: JobRefSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, slug=None):
        try:
            collection = access.get_collection(request.user, slug)
            access.require_manage_contents(request.user)
        except Exception:
            discard_parsed_uploads(request)
            raise
        serializer = PublishSerializer(data=request.data)
        if not serializer.is_valid():
            discard_parsed_uploads(request)
            raise ValidationError(serializer.errors)
        data = serializer.validated_data
        if data.get("archive"):
            try:
                token = uploads.receive(data["archive"])
            except uploads.ArchiveRefused as exc:
                raise ValidationError({"archive": [str(exc)]}) from exc
            job = contents_jobs.enqueue_publish(request.user, collection, notes=data["notes"], upload=token,
                                                archive=data["archive"].name)
        else:
            try:
                src_dir = resolve_import_dir(data["src_dir"])
            except DjangoValidationError as exc:
                raise ValidationError({"src_dir": exc.messages}) from exc
            job = contents_jobs.enqueue_publish(request.user, collection, notes=data["notes"], src_dir=src_dir)
        return Response({"job": job.pk, "status": job.status,
                         "url": request.build_absolute_uri(reverse("core:job", args=[job.pk])),
                         "api_url": request.build_absolute_uri(reverse("contents-job-detail", args=[job.pk]))},
                        status=status.HTTP_202_ACCEPTED)


# --------------------------------------------------------------------------- the contents' background jobs


@extend_schema_view(
    retrieve=extend_schema(summary="Suivre une tâche de contenus",
                           description="L'état d'une tâche de fond des contenus (publication, disque de tournée) : "
                                       "avancement (done/total, message), puis résultat ou erreur. Visible par qui "
                                       "l'a lancée et par les administrateurs (403 sinon) ; 404 pour une tâche "
                                       "inconnue ou d'un autre domaine.",
                           parameters=[ID_PARAM], responses={200: JobSerializer, 403: FORBIDDEN, 404: NOT_FOUND}),
)
class JobViewSet(viewsets.GenericViewSet):
    serializer_class = JobSerializer
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        return Job.objects.filter(kind__startswith="contents.")

    def retrieve(self, request, pk=None):
        job = get_object_or_404(self.get_queryset(), pk=pk)
        if not (request.user.is_admin or job.created_by_id == request.user.pk):
            raise PermissionDenied(_("Cette tâche ne vous appartient pas."))
        done, total, message = jobs.live_progress(job) if job.status == Job.Status.RUNNING else (
            job.done, job.total, job.message)
        return Response(JobSerializer({
            "id": job.pk, "kind": job.kind, "status": job.status, "done": done, "total": total, "message": message,
            "result": job.result, "error": job.error, "created_at": job.created_at,
            "finished_at": job.finished_at}).data)


# --------------------------------------------------------------------------- releases


@extend_schema_view(
    list=extend_schema(summary="Lister les versions publiées",
                       description="Les versions de toutes les collections, de la plus récente à la plus ancienne "
                                   "par collection ; filtres collection (identifiant) et withdrawn. Paginé."
                                   + READERS),
    retrieve=extend_schema(summary="Lire une version publiée",
                           description="Une version : manifeste signé, taille, octets nouveaux, fichiers, notes, "
                                       "qui l'a publiée, retrait." + READERS,
                           parameters=[ID_PARAM], responses={200: ReleaseSerializer, 403: FORBIDDEN, 404: NOT_FOUND}),
)
class ReleaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ReleaseSerializer
    filterset_class = ReleaseFilter
    pagination_class = ApiPagination
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if fake_view(self):
            return Release.objects.none()
        access.require_read_collections(self.request.user)
        return Release.objects.select_related("collection", "published_by").order_by("collection__slug", "-version")

    @extend_schema(summary="Retirer une version",
                   description="Retire la version (les NAS ne la reçoivent plus : la version actuelle redevient la "
                               "précédente non retirée), avec un motif obligatoire ; inscrit au journal. Une version "
                               "déjà retirée : 400." + MANAGERS,
                   parameters=[ID_PARAM], request=WithdrawSerializer,
                   responses={200: ReleaseSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        release = self.get_object()
        access.require_manage_contents(request.user)
        serializer = WithdrawSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with refusals():
            services.do_withdraw_release(request.user, release, serializer.validated_data["reason"])
        return Response(ReleaseSerializer(self.get_queryset().get(pk=release.pk)).data)


# --------------------------------------------------------------------------- subscriptions


@extend_schema_view(
    list=extend_schema(summary="Lister les abonnements",
                       description="Qui reçoit quelle collection : toutes les écoles, celles d'une commune, un type "
                                   "d'école ou une école. Filtre collection (identifiant). Paginé." + READERS),
    create=extend_schema(summary="Ajouter un abonnement",
                         description="Ajoute qui reçoit la collection (portée all, commune avec son code INSEE, kind "
                                     "avec un type d'école, school avec une UAI) ; le même abonnement deux fois est "
                                     "refusé (400). Inscrit au journal." + MANAGERS,
                         request=SubscriptionCreateSerializer,
                         responses={201: SubscriptionSerializer, 400: INVALID, 403: FORBIDDEN}),
    destroy=extend_schema(summary="Retirer un abonnement",
                          description="Retire l'abonnement ; inscrit au journal." + MANAGERS,
                          parameters=[ID_PARAM], responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND}),
)
class SubscriptionViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                          viewsets.GenericViewSet):
    serializer_class = SubscriptionSerializer
    filterset_class = SubscriptionFilter
    pagination_class = ApiPagination
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if fake_view(self):
            return Subscription.objects.none()
        access.require_read_collections(self.request.user)
        return Subscription.objects.select_related("collection", "commune", "school").order_by("collection__slug",
                                                                                                "pk")

    def create(self, request, *args, **kwargs):
        access.require_manage_contents(request.user)
        serializer = SubscriptionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with refusals():
            sub = services.do_subscribe(request.user, data["collection"], scope=data["scope"],
                                        commune=data.get("commune"), school_kind=data.get("school_kind") or "",
                                        school=data.get("school"))
        return Response(SubscriptionSerializer(self.get_queryset().get(pk=sub.pk)).data,
                        status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        sub = self.get_object()
        access.require_manage_contents(request.user)
        services.do_unsubscribe(request.user, sub)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- NAS nodes


def node_in_scope(user, uai: str) -> tuple:
    """(school, node) in the user's scope: 403 without the NAS pages, 404 out of scope or without a NAS."""
    school, node = access.get_node_school(user, normalize_uai(uai))
    return school, node


def node_response(user, uai: str) -> Response:
    school, node = node_in_scope(user, uai)
    if node is None:
        raise Http404(_("Cette école n'a pas encore de NAS."))
    node = NasNode.objects.select_related("school__commune").get(pk=node.pk)
    return Response(NodeDetailSerializer(describe_node(node, current_versions())).data)


def managed_node(user, uai: str) -> tuple:
    school, node = node_in_scope(user, uai)
    access.require_manage_contents(user)
    return school, node


@extend_schema_view(
    list=extend_schema(summary="Lister les NAS des écoles",
                       description="Les NAS des écoles : mode, enrôlement, dernier contact (silent_days au-delà de "
                                   "PREAU_NAS_SILENT_DAYS), versions détenues (à jour ou en retard), espace libre, "
                                   "dernière erreur. Filtres school (UAI), commune (INSEE), mode, status (enrolled, "
                                   "silent, never, revoked, error). Paginé." + NODES_SCOPE),
    retrieve=extend_schema(summary="Lire le NAS d'une école",
                           description="Le NAS d'une école, avec les collections qu'elle reçoit et ses 50 dernières "
                                       "livraisons. 404 hors du périmètre ou si l'école n'a pas de NAS." + NODES_SCOPE,
                           parameters=[UAI_PARAM], responses={200: NodeDetailSerializer, 403: FORBIDDEN,
                                                              404: NOT_FOUND}),
)
class NodeViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = NodeSerializer
    filterset_class = NodeFilter
    pagination_class = ApiPagination
    lookup_field = "uai"
    lookup_value_regex = UAI_REGEX

    def get_queryset(self):
        if fake_view(self):
            return NasNode.objects.none()
        access.require_see_nodes(self.request.user)
        return access.nodes_for(self.request.user).select_related("school__commune").order_by("school__name", "pk")

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        current, now = current_versions(), timezone.now()
        for node in page:
            describe_node(node, current, now)
        return self.get_paginated_response(NodeSerializer(page, many=True).data)

    def retrieve(self, request, uai=None):
        return node_response(request.user, uai)

    @extend_schema(summary="Changer le mode d'un NAS",
                   description="online (tire lui-même), offline (tournées) ou auto (selon la connectivité de "
                               "l'école) ; inscrit au journal. 404 si l'école n'a pas de NAS." + MANAGERS,
                   parameters=[UAI_PARAM], request=ModeSerializer,
                   responses={200: NodeDetailSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND})
    @action(detail=True, methods=["post"])
    def mode(self, request, uai=None):
        _school, node = managed_node(request.user, uai)
        if node is None:
            raise Http404(_("Cette école n'a pas encore de NAS."))
        serializer = ModeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with refusals():
            services.do_set_mode(request.user, node, serializer.validated_data["mode"])
        return node_response(request.user, uai)

    @extend_schema(summary="Révoquer un NAS",
                   description="Refuse aussitôt les identifiants du NAS (il faudra le réenrôler avec un nouveau "
                               "code), avec un motif obligatoire ; inscrit au journal. Un NAS jamais enrôlé ou déjà "
                               "révoqué : 400." + MANAGERS,
                   parameters=[UAI_PARAM], request=RevokeSerializer,
                   responses={200: NodeDetailSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND})
    @action(detail=True, methods=["post"])
    def revoke(self, request, uai=None):
        _school, node = managed_node(request.user, uai)
        if node is None or not node.enrolled_at:
            raise Refused(_("Ce NAS n'est pas enrôlé : rien à révoquer."))
        if node.revoked_at:
            raise Refused(_("Ce NAS est déjà révoqué."))
        serializer = RevokeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.do_revoke(request.user, node, serializer.validated_data["reason"])
        return node_response(request.user, uai)

    @extend_schema(summary="Nouveau code d'enrôlement",
                   description="Un code à usage unique (valable 48 h ; un nouveau code annule le précédent) pour "
                               "enrôler le NAS de l'école (créé s'il n'existe pas), avec la commande à lancer sur le "
                               "NAS. Le code n'est montré que dans cette réponse (jamais stocké en clair, "
                               "Cache-Control: no-store)." + MANAGERS,
                   parameters=[UAI_PARAM], request=None,
                   responses={201: EnrolmentCodeSerializer, 403: FORBIDDEN, 404: NOT_FOUND})
    @action(detail=True, methods=["post"], url_path="enrolment-code", url_name="enrolment-code")
    def enrolment_code(self, request, uai=None):
        school, _node = managed_node(request.user, uai)
        node, code = services.do_new_enrolment_code(request.user, school)
        server = request.build_absolute_uri("/").rstrip("/")
        response = Response({"node_id": node.node_id, "code": code, "expires_at": node.enrolment_expires_at,
                             "command": f"preau-nas enrol --server {server} --code {code}"},
                            status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


# --------------------------------------------------------------------------- tours


def tour_response(request, pk: int, code: int = status.HTTP_200_OK) -> Response:
    access.require_read_collections(request.user)
    tour = get_object_or_404(Tour.objects.select_related("created_by").annotate(stop_count=Count("stops"))
                             .prefetch_related(Prefetch("stops", queryset=TourStop.objects.select_related("school")
                                                        .order_by("order"))), pk=pk)
    return Response(TourDetailSerializer(tour).data, status=code)


@extend_schema_view(
    list=extend_schema(summary="Lister les tournées",
                       description="Les tournées des techniciens (un disque USB pour les NAS hors ligne) : date, "
                                   "état, disque, nombre d'écoles. Filtre state. Paginé." + READERS),
    retrieve=extend_schema(summary="Lire une tournée",
                           description="Une tournée avec ses écoles dans l'ordre de visite et ce dont chacune a "
                                       "besoin ({collection: {held, target}})." + READERS,
                           parameters=[ID_PARAM], responses={200: TourDetailSerializer, 403: FORBIDDEN,
                                                             404: NOT_FOUND}),
    create=extend_schema(summary="Prévoir une tournée",
                         description="Une tournée des écoles données (UAI ; chacune doit avoir un NAS), dans l'ordre "
                                     "du plus proche voisin, ou sans écoles, les écoles hors ligne en retard d'une "
                                     "commune. Nom unique (400 sinon). Le disque se prépare sur la page de la "
                                     "tournée." + MANAGERS,
                         request=TourPlanSerializer, responses={201: TourDetailSerializer, 400: INVALID,
                                                                403: FORBIDDEN}),
)
class TourViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = TourSerializer
    filterset_class = TourFilter
    pagination_class = ApiPagination
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if fake_view(self):
            return Tour.objects.none()
        access.require_read_collections(self.request.user)
        return (Tour.objects.select_related("created_by").annotate(stop_count=Count("stops"))
                .order_by("-planned_on", "-created_at", "-pk"))

    def retrieve(self, request, pk=None):
        return tour_response(request, pk)

    def create(self, request):
        access.require_manage_contents(request.user)
        serializer = TourPlanSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with refusals():
            tour = tours.do_plan_tour(request.user, name=data["name"], planned_on=data.get("planned_on"),
                                      uais=" ".join(data.get("uais") or []), commune=data.get("commune"))
        return tour_response(request, tour.pk, status.HTTP_201_CREATED)


def register(router) -> None:
    router.register("contents/collections", CollectionViewSet, basename="contents-collection")
    router.register("contents/releases", ReleaseViewSet, basename="contents-release")
    router.register("contents/subscriptions", SubscriptionViewSet, basename="contents-subscription")
    router.register("contents/nodes", NodeViewSet, basename="contents-node")
    router.register("contents/tours", TourViewSet, basename="contents-tour")
    router.register("contents/jobs", JobViewSet, basename="contents-job")
