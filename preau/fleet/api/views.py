"""API viewsets of the fleet under /api/v1/: assets, device models, requalification batches, slots.

Scope: assets come from preau.fleet.access.assets_for, batches from batches_for, slots
from the schools of preau.accounts.access.schools_for: out of scope answers 404. Rights:
changing assets, device models and creating or deploying batches is for the fleet team
(access.can_manage_fleet: admins and technicians); working a batch (pickup, intake,
eligibility, erasure, conversion, rejection, return) is for the fleet team and the batch's
own workshop (access.can_work_batch). In scope without the right answers 403. Writes go
through preau.fleet.services (timeline event and audit entry); a refusal of the lifecycle
or of a service (TransitionRefused, FleetError) answers 400 {"detail": "<sentence>"}.

Lists are paginated (limit/offset, 100 by default, at most 1000), filtered and run a fixed
number of SQL queries whatever their size.
"""

from django.db.models import Count, Prefetch, Q, prefetch_related_objects
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from preau.accounts import access as territory_access
from preau.core import api
from preau.core.api import FORBIDDEN, INVALID, NOT_FOUND, ApiPagination, ScopedLookupMixin, fake_view
from preau.fleet import access, services
from preau.fleet.lifecycle import TransitionRefused
from preau.fleet.models import (
    Asset,
    AssetEvent,
    BatchItem,
    DeviceModel,
    ErasureCertificate,
    RequalificationBatch,
    Slot,
)

from .filters import AssetFilter, BatchFilter, DeviceModelFilter, SlotFilter
from .serializers import (
    AssetCreateSerializer,
    AssetDetailSerializer,
    AssetEventSerializer,
    AssetSerializer,
    AssetUpdateSerializer,
    BatchCreateSerializer,
    BatchDateSerializer,
    BatchDetailSerializer,
    BatchItemSerializer,
    BatchSerializer,
    ConvertSerializer,
    DeploySerializer,
    DeviceModelSerializer,
    EligibilitySerializer,
    ErasureSerializer,
    MoveSerializer,
    RejectSerializer,
    ReplaceResultSerializer,
    ReplaceSerializer,
    SlotSerializer,
    TransitionSerializer,
)


def refusals():
    """The lifecycle's and the services' refusals as API answers (400): see api.refusals."""
    return api.refusals(TransitionRefused, services.FleetError)


TAG_PARAM = OpenApiParameter("tag", OpenApiTypes.STR, OpenApiParameter.PATH,
                             description="Numéro d'inventaire de l'appareil, ex. SEM-00001.")
REFERENCE_PARAM = OpenApiParameter("reference", OpenApiTypes.STR, OpenApiParameter.PATH,
                                   description="Référence du lot, ex. LOT-2026-001.")

ASSET_SCOPE = (
    " Périmètre : tout le parc pour l'équipe numérique, les techniciens et le comité ; les appareils des "
    "écoles qu'il voit pour un agent communal, un conseiller, un directeur ou un enseignant ; les appareils "
    "de ses sites et de ses lots pour un atelier partenaire."
)
MANAGERS = " Réservé à l'équipe du parc (administrateurs, techniciens) : 403 sinon ; 404 hors du périmètre."


def managed_asset(user, tag: str) -> Asset:
    """The asset in the user's scope (404) that the user may change (403)."""
    asset = access.get_asset(user, tag)
    access.require_manage_fleet(user)
    return asset


def detail_response(user, tag: str, code: int = status.HTTP_200_OK) -> Response:
    return Response(AssetDetailSerializer(access.get_asset(user, tag)).data, status=code)


def action_schema(summary: str, description: str, request, response=AssetDetailSerializer, params=(TAG_PARAM,),
                  code: int = 200):
    return extend_schema(summary=summary, description=description, request=request, parameters=list(params),
                         responses={code: response, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND})


# --------------------------------------------------------------------------- assets


@extend_schema_view(
    list=extend_schema(
        summary="Lister les appareils",
        description="Les appareils du parc dans le périmètre de l'utilisateur, avec leur modèle et leur lieu "
                    "(école, classe ou site). Paginé (limit/offset), filtrable (mêmes filtres que la liste web) "
                    "et triable." + ASSET_SCOPE,
    ),
    retrieve=extend_schema(
        summary="Lire un appareil",
        description="Un appareil par son numéro d'inventaire : lieu, emplacement occupé, caractéristiques "
                    "(celles remontées par l'agent, sinon celles du modèle) et interfaces réseau. 404 s'il est "
                    "hors du périmètre de l'utilisateur.",
        parameters=[TAG_PARAM], responses={200: AssetDetailSerializer, 404: NOT_FOUND},
    ),
    create=extend_schema(
        summary="Créer un appareil",
        description="Enregistre un appareil (en stock ; au dépôt sauf école, classe ou site indiqué) et écrit "
                    "l'événement « création » de son historique. Numéro d'inventaire et numéro de série "
                    "uniques (400 sinon). Réservé à l'équipe du parc (403 sinon).",
        request=AssetCreateSerializer, responses={201: AssetDetailSerializer, 400: INVALID, 403: FORBIDDEN},
    ),
    partial_update=extend_schema(
        summary="Modifier un appareil",
        description="Modifie les champs descriptifs (numéro de série, modèle, origine, dates, coût, nom de "
                    "machine, caractéristiques, notes) ; le statut et le lieu changent par les actions dédiées "
                    "(transition, deploy, move, replace). Tout autre champ est refusé (400)." + MANAGERS,
        parameters=[TAG_PARAM], request=AssetUpdateSerializer,
        responses={200: AssetDetailSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND},
    ),
)
class AssetViewSet(ScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AssetSerializer
    filterset_class = AssetFilter
    pagination_class = ApiPagination
    lookup_field = "tag"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if fake_view(self):
            return Asset.objects.none()
        # The catalogue model in its own query (see views_assets.asset_list: a join misleads SQLite's planner).
        return (access.assets_for(self.request.user).select_related("school", "school_class", "site")
                .prefetch_related("model").order_by("tag"))

    def retrieve(self, request, tag=None):
        return detail_response(request.user, tag)

    def create(self, request):
        access.require_manage_fleet(request.user)
        serializer = AssetCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if v is not None}
        reason, model, tag = data.pop("reason", ""), data.pop("model"), data.pop("tag")
        with refusals():
            asset = services.do_create_asset(request.user, model=model, tag=tag, reason=reason, **data)
        return detail_response(request.user, asset.tag, status.HTTP_201_CREATED)

    def partial_update(self, request, tag=None):
        asset = managed_asset(request.user, tag)
        serializer = AssetUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("reason", "")
        with refusals():
            services.do_update_asset(request.user, asset, reason, **data)
        return detail_response(request.user, tag)

    @action_schema("Changer le statut d'un appareil",
                   "Fait passer l'appareil à un autre statut si le cycle de vie le permet (400 avec la phrase "
                   "qui dit les statuts possibles sinon, et rien n'est modifié). Quitter « déployé » ou « en "
                   "panne » libère l'emplacement ; le retour en stock, en réparation ou la réforme ramènent "
                   "l'appareil au dépôt. Motif et demande liée vont dans l'historique." + MANAGERS,
                   TransitionSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request, tag=None):
        asset = managed_asset(request.user, tag)
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with refusals():
            services.do_transition(request.user, asset, data["status"], data["reason"], ticket=data["ticket"])
        return detail_response(request.user, tag)

    @action_schema("Déployer un appareil",
                   "Met en service un appareil en stock ou requalifié : dans un emplacement (il l'occupe ; "
                   "il doit être libre et de la même catégorie), dans une classe ou dans une école. Indiquer "
                   "exactement un de slot, school_class, school." + MANAGERS, DeploySerializer)
    @action(detail=True, methods=["post"])
    def deploy(self, request, tag=None):
        asset = managed_asset(request.user, tag)
        serializer = DeploySerializer(data=request.data,
                                      scope_schools=territory_access.schools_for(request.user))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with refusals():
            services.do_deploy(request.user, asset, slot=data.get("slot"), school_class=data.get("school_class"),
                               school=data.get("school"), reason=data["reason"], ticket=data["ticket"])
        return detail_response(request.user, tag)

    @action_schema("Déplacer un appareil",
                   "Déplace un appareil qui n'est pas en service (stock, réparation…) vers une école, une classe "
                   "ou un site. Un appareil déployé change de place par deploy ou replace (400). Indiquer "
                   "exactement un de school, school_class, site." + MANAGERS, MoveSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request, tag=None):
        asset = managed_asset(request.user, tag)
        serializer = MoveSerializer(data=request.data, scope_schools=territory_access.schools_for(request.user))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with refusals():
            services.do_move(request.user, asset, school=data.get("school"), school_class=data.get("school_class"),
                             site=data.get("site"), reason=data["reason"])
        return detail_response(request.user, tag)

    @action_schema("Remplacer un appareil",
                   "En une action : le remplaçant (en stock ou requalifié, de la bonne catégorie) prend la place "
                   "et l'emplacement de l'appareil en service ou en panne, qui part au dépôt avec son statut "
                   "suivant (next_status ; par défaut réformé pour un client léger, en réparation sinon). Les "
                   "deux historiques le disent." + MANAGERS, ReplaceSerializer, ReplaceResultSerializer)
    @action(detail=True, methods=["post"])
    def replace(self, request, tag=None):
        failed = managed_asset(request.user, tag)
        serializer = ReplaceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        replacement = access.assets_for(request.user).filter(tag=data["replacement"].strip()).first()
        if replacement is None:
            raise ValidationError({"replacement": [_("Appareil inconnu : %(tag)s.") % {"tag": data["replacement"]}]})
        with refusals():
            services.do_replace(request.user, failed, replacement, next_status=data["next_status"],
                                reason=data["reason"], ticket=data["ticket"])
        return Response({"replaced": AssetDetailSerializer(access.get_asset(request.user, failed.tag)).data,
                         "replacement": AssetDetailSerializer(access.get_asset(request.user, replacement.tag)).data})

    @extend_schema(
        summary="Historique d'un appareil",
        description="Les événements de l'appareil, du plus récent au plus ancien : qui, quand, quoi, pourquoi, "
                    "avec le lot, la demande ou l'autre appareil liés. Paginé. 404 hors du périmètre.",
        parameters=[TAG_PARAM], responses={200: AssetEventSerializer(many=True), 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], filter_backends=[], serializer_class=AssetEventSerializer)
    def events(self, request, tag=None):
        asset = access.get_asset(request.user, tag)
        events = (AssetEvent.objects.filter(asset=asset).select_related("user", "batch", "other_asset")
                  .order_by("-at", "-pk"))
        page = self.paginate_queryset(events)
        return self.get_paginated_response(AssetEventSerializer(page, many=True).data)


# --------------------------------------------------------------------------- device models


@extend_schema_view(
    list=extend_schema(summary="Lister les modèles d'appareils",
                       description="Le catalogue des modèles (fabricant, modèle, caractéristiques). Tout "
                                   "utilisateur connecté. Paginé, filtrable et triable."),
    retrieve=extend_schema(summary="Lire un modèle d'appareil",
                           description="Un modèle par son identifiant. Tout utilisateur connecté.",
                           responses={200: DeviceModelSerializer, 404: NOT_FOUND}),
    create=extend_schema(summary="Créer un modèle d'appareil",
                         description="Ajoute un modèle au catalogue (fabricant et modèle uniques, 400 sinon) ; "
                                     "inscrit au journal. Réservé à l'équipe du parc (403 sinon).",
                         responses={201: DeviceModelSerializer, 400: INVALID, 403: FORBIDDEN}),
    partial_update=extend_schema(summary="Modifier un modèle d'appareil",
                                 description="Modifie un modèle du catalogue ; inscrit au journal. Réservé à "
                                             "l'équipe du parc (403 sinon).",
                                 responses={200: DeviceModelSerializer, 400: INVALID, 403: FORBIDDEN,
                                            404: NOT_FOUND}),
)
class DeviceModelViewSet(ScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = DeviceModelSerializer
    filterset_class = DeviceModelFilter
    pagination_class = ApiPagination
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return DeviceModel.objects.order_by("category", "maker", "name", "pk")

    def create(self, request, *args, **kwargs):
        access.require_manage_fleet(request.user)
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        with refusals():
            serializer.instance = services.do_create_model(self.request.user, **serializer.validated_data)

    def partial_update(self, request, *args, **kwargs):
        self.get_object()
        access.require_manage_fleet(request.user)
        return super().partial_update(request, *args, **kwargs)

    def perform_update(self, serializer):
        with refusals():
            serializer.instance = services.do_update_model(self.request.user, serializer.instance,
                                                           **serializer.validated_data)


# --------------------------------------------------------------------------- batches

ITEM_TAG_PARAM = OpenApiParameter("tag", OpenApiTypes.STR, OpenApiParameter.PATH,
                                  description="Numéro d'inventaire d'un appareil du lot.")
WORKERS = (" Réservé à l'équipe du parc et à l'atelier du lot : 403 sinon ; 404 si le lot (ou l'appareil dans "
           "le lot) est hors du périmètre.")
B = RequalificationBatch.State
E = BatchItem.Eligibility
R = BatchItem.Result


def items_queryset():
    """Batch items with what their payload shows, in a fixed number of queries."""
    return (BatchItem.objects.select_related("asset__model", "origin_school")
            .prefetch_related(Prefetch("asset__erasures", queryset=ErasureCertificate.objects.order_by("number")))
            .order_by("asset__tag"))


def batch_response(user, reference: str, code: int = status.HTTP_200_OK) -> Response:
    batch = access.get_batch(user, reference)
    prefetch_related_objects([batch], Prefetch("items", queryset=items_queryset()))
    return Response(BatchDetailSerializer(batch).data, status=code)


def worked_batch(user, reference: str) -> RequalificationBatch:
    batch = access.get_batch(user, reference)
    access.require_work_batch(user, batch)
    return batch


def worked_item(user, reference: str, tag: str) -> BatchItem:
    batch = worked_batch(user, reference)
    return get_object_or_404(BatchItem.objects.select_related("batch", "asset"), batch=batch, asset__tag=tag)


def item_response(item: BatchItem) -> Response:
    return Response(BatchItemSerializer(items_queryset().get(pk=item.pk)).data)


@extend_schema_view(
    list=extend_schema(
        summary="Lister les lots de requalification",
        description="Les lots de requalification (PC devenant clients légers) avec leur avancement. L'équipe "
                    "du parc et le comité voient tous les lots ; un atelier partenaire, ceux de ses sites ; les "
                    "autres rôles, aucun. Paginé et filtrable.",
    ),
    retrieve=extend_schema(
        summary="Lire un lot de requalification",
        description="Un lot par sa référence, avec son avancement et ses appareils (éligibilité, résultat, "
                    "certificats d'effacement). 404 s'il est hors du périmètre.",
        parameters=[REFERENCE_PARAM], responses={200: BatchDetailSerializer, 404: NOT_FOUND},
    ),
    create=extend_schema(
        summary="Constituer un lot de requalification",
        description="Crée un lot pour un atelier partenaire avec des PC (fixes ou portables) qui peuvent partir "
                    "en requalification ; chaque refus est nommé (400). Réservé à l'équipe du parc (403 sinon).",
        request=BatchCreateSerializer, responses={201: BatchDetailSerializer, 400: INVALID, 403: FORBIDDEN},
    ),
)
class BatchViewSet(ScopedLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = BatchSerializer
    filterset_class = BatchFilter
    pagination_class = ApiPagination
    lookup_field = "reference"

    def get_queryset(self):
        if fake_view(self):
            return RequalificationBatch.objects.none()
        passed = ErasureCertificate.Verification.PASSED
        return (access.batches_for(self.request.user).select_related("workshop", "created_by")
                .annotate(n_total=Count("items", distinct=True),
                          n_evaluated=Count("items", filter=Q(items__eligibility__in=[E.ELIGIBLE, E.INELIGIBLE]),
                                            distinct=True),
                          n_eligible=Count("items", filter=Q(items__eligibility=E.ELIGIBLE), distinct=True),
                          n_converted=Count("items", filter=Q(items__result=R.CONVERTED), distinct=True),
                          n_rejected=Count("items", filter=Q(items__result=R.REJECTED), distinct=True),
                          n_erased=Count("erasures__asset", filter=Q(erasures__verification=passed), distinct=True))
                .order_by("-created_at", "-pk"))

    def retrieve(self, request, reference=None):
        return batch_response(request.user, reference)

    def create(self, request):
        access.require_manage_fleet(request.user)
        serializer = BatchCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tags = list(dict.fromkeys(t.strip() for t in data["assets"]))
        assets = list(access.assets_for(request.user).filter(tag__in=tags))
        missing = sorted(set(tags) - {a.tag for a in assets})
        if missing:
            raise ValidationError({"assets": [_("Appareils inconnus : %(tags)s.") % {"tags": ", ".join(missing)}]})
        with refusals():
            batch = services.do_create_batch(request.user, workshop=data["workshop"], assets=assets,
                                             notes=data["notes"])
        return batch_response(request.user, batch.reference, status.HTTP_201_CREATED)

    def _step(self, request, reference, service, *, manage_only=False):
        if manage_only:
            batch = access.get_batch(request.user, reference)
            access.require_manage_fleet(request.user)
        else:
            batch = worked_batch(request.user, reference)
        serializer = BatchDateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        kwargs = {"on": serializer.validated_data["on"]} if not manage_only else {}
        with refusals():
            service(request.user, batch, **kwargs)
        return batch_response(request.user, reference)

    @action_schema("Enlever un lot",
                   "L'atelier prend les appareils : chacun passe « en requalification » sur le site de l'atelier "
                   "et libère son emplacement. Lot « constitué » seulement (400 sinon)." + WORKERS,
                   BatchDateSerializer, BatchDetailSerializer, (REFERENCE_PARAM,))
    @action(detail=True, methods=["post"])
    def pickup(self, request, reference=None):
        return self._step(request, reference, services.do_pickup_batch)

    @action_schema("Réceptionner un lot à l'atelier",
                   "Chaque appareil est évalué selon les règles d'éligibilité actives (motifs enregistrés). Lot "
                   "« enlevé » seulement (400 sinon)." + WORKERS,
                   BatchDateSerializer, BatchDetailSerializer, (REFERENCE_PARAM,))
    @action(detail=True, methods=["post"])
    def receive(self, request, reference=None):
        return self._step(request, reference, services.do_receive_batch)

    @action_schema("Retourner un lot",
                   "L'atelier rapporte les clients légers convertis dans leurs écoles d'origine (au dépôt sinon). "
                   "Chaque appareil doit avoir un résultat, converti ou rejeté (400 sinon)." + WORKERS,
                   BatchDateSerializer, BatchDetailSerializer, (REFERENCE_PARAM,))
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_(self, request, reference=None):
        return self._step(request, reference, services.do_return_batch)

    @action_schema("Déployer un lot retourné",
                   "Chaque client léger retourné reprend l'emplacement qu'il avait quitté (ou son école si "
                   "l'emplacement est pris) ; le lot est clos. Lot « retourné » seulement (400 sinon)." + MANAGERS,
                   None, BatchDetailSerializer, (REFERENCE_PARAM,))
    @action(detail=True, methods=["post"])
    def deploy(self, request, reference=None):
        return self._step(request, reference, services.do_deploy_batch, manage_only=True)

    @action_schema("Certificat d'effacement d'un appareil du lot",
                   "Enregistre l'effacement sécurisé d'un disque (NIST SP 800-88 : clear, purge ou destroy ; "
                   "outil, passes, vérification, opérateur, date) ; le numéro est attribué s'il n'est pas donné. "
                   "Lot « réceptionné » seulement (400 sinon)." + WORKERS,
                   ErasureSerializer, ErasureSerializer, (REFERENCE_PARAM, ITEM_TAG_PARAM), code=201)
    @action(detail=True, methods=["post"], url_path=r"items/(?P<tag>[^/.]+)/erasure", url_name="item-erasure")
    def erasure(self, request, reference=None, tag=None):
        item = worked_item(request.user, reference, tag)
        serializer = ErasureSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with refusals():
            certificate = services.do_record_erasure(request.user, item, **serializer.validated_data)
        return Response(ErasureSerializer(certificate).data, status=status.HTTP_201_CREATED)

    @action_schema("Convertir un appareil du lot en client léger",
                   "L'appareil éligible, au disque effacé et vérifié (clear ou purge), devient un client léger : "
                   "même numéro d'inventaire et même historique, catégorie « client léger », origine "
                   "« requalifié »." + WORKERS,
                   ConvertSerializer, BatchItemSerializer, (REFERENCE_PARAM, ITEM_TAG_PARAM))
    @action(detail=True, methods=["post"], url_path=r"items/(?P<tag>[^/.]+)/convert", url_name="item-convert")
    def convert(self, request, reference=None, tag=None):
        item = worked_item(request.user, reference, tag)
        serializer = ConvertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with refusals():
            services.do_convert(request.user, item, serializer.validated_data["notes"])
        return item_response(item)

    @action_schema("Rejeter un appareil du lot (recyclage DEEE)",
                   "L'appareil non convertible, après un effacement vérifié (ou la destruction du disque), part "
                   "chez un recycleur DEEE : poids, recycleur, bordereau. Il passe « recyclé »." + WORKERS,
                   RejectSerializer, BatchItemSerializer, (REFERENCE_PARAM, ITEM_TAG_PARAM))
    @action(detail=True, methods=["post"], url_path=r"items/(?P<tag>[^/.]+)/reject", url_name="item-reject")
    def reject(self, request, reference=None, tag=None):
        item = worked_item(request.user, reference, tag)
        serializer = RejectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with refusals():
            services.do_reject(request.user, item, **serializer.validated_data)
        return item_response(item)

    @action_schema("Décider de l'éligibilité d'un appareil du lot",
                   "Le verdict de l'atelier après test (remplace celui des règles), avec un motif obligatoire. "
                   "Lot « réceptionné » seulement (400 sinon)." + WORKERS,
                   EligibilitySerializer, BatchItemSerializer, (REFERENCE_PARAM, ITEM_TAG_PARAM))
    @action(detail=True, methods=["post"], url_path=r"items/(?P<tag>[^/.]+)/eligibility",
            url_name="item-eligibility")
    def eligibility(self, request, reference=None, tag=None):
        item = worked_item(request.user, reference, tag)
        serializer = EligibilitySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with refusals():
            services.do_set_eligibility(request.user, item, serializer.validated_data["eligible"],
                                        serializer.validated_data["reason"])
        return item_response(item)


# --------------------------------------------------------------------------- slots


@extend_schema_view(
    list=extend_schema(
        summary="Lister les emplacements",
        description="Ce que chaque classe ou école doit contenir (« client léger de l'enseignant de CM1-A ») "
                    "et l'appareil qui l'occupe, pour les écoles du périmètre de l'utilisateur. Filtre school "
                    "(UAI), school_class, category, free. Paginé.",
    ),
)
class SlotViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = SlotSerializer
    filterset_class = SlotFilter
    pagination_class = ApiPagination

    def get_queryset(self):
        if fake_view(self):
            return Slot.objects.none()
        user = self.request.user
        qs = Slot.objects.all()
        if not user.sees_whole_territory:
            qs = qs.filter(school__in=territory_access.schools_for(user))
        return (qs.select_related("school", "school_class", "asset")
                .order_by("school__name", "school__uai", "school_class__name", "category", "label", "pk"))


def register(router) -> None:
    router.register("assets", AssetViewSet, basename="asset")
    router.register("device-models", DeviceModelViewSet, basename="devicemodel")
    router.register("batches", BatchViewSet, basename="batch")
    router.register("slots", SlotViewSet, basename="slot")
    from .audits import RoomAuditViewSet

    router.register("room-audits", RoomAuditViewSet, basename="roomaudit")
