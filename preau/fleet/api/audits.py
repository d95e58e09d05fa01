"""Room audits in the API: /api/v1/room-audits/ — start one in a class, report seen tags, finish.

Same rules as the pages (preau.fleet.views_audit): the fleet team anywhere, a director in its school;
committees read. Out of scope → 404, in scope without the right → 403, a finished audit → 400.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from preau.accounts import access as territory_access
from preau.core.api import FORBIDDEN, NOT_FOUND, ApiPagination, Refused, fake_view
from preau.fleet import room_audit
from preau.fleet.models import RoomAudit
from preau.fleet.views_audit import audits_for, can_audit

DENIED = "Inventaires de salle : réservés à l'équipe du parc et au directeur de l'école."


class DifferencesSerializer(serializers.Serializer):
    present = serializers.ListField(child=serializers.CharField())
    missing = serializers.ListField(child=serializers.CharField())
    misplaced = serializers.ListField(child=serializers.CharField())
    unknown = serializers.ListField(child=serializers.CharField())


class RoomAuditSerializer(serializers.ModelSerializer):
    school = serializers.SlugRelatedField(slug_field="uai", read_only=True)
    differences = serializers.SerializerMethodField()

    class Meta:
        model = RoomAudit
        fields = ["id", "school", "school_class", "started_at", "finished_at", "expected", "seen", "differences"]
        read_only_fields = fields

    @extend_schema(responses=DifferencesSerializer)
    def get_differences(self, audit) -> dict:
        diff = room_audit.differences(audit)
        out = {key: [a.tag for a in diff[key]] for key in ("present", "missing", "misplaced")}
        out["unknown"] = diff["unknown"]
        return out


class StartSerializer(serializers.Serializer):
    school = serializers.CharField(help_text="UAI de l'école.")
    school_class = serializers.IntegerField(required=False, allow_null=True,
                                            help_text="Identifiant de la classe ; absent : hors classe.")


class SeenSerializer(serializers.Serializer):
    tag = serializers.CharField(help_text="Numéro d'inventaire, ou l'adresse de la fiche lue dans le QR code.")
    seen = serializers.BooleanField(default=True, help_text="false : décocher.")


@extend_schema_view(
    list=extend_schema(summary="Inventaires de salle visibles", description=DENIED + " Les plus récents d'abord."),
    retrieve=extend_schema(summary="Un inventaire de salle et ses écarts",
                           description="Attendus (figés au début), constatés, et les écarts : présents, absents, "
                                       "pas à leur place, inconnus.",
                           responses={200: RoomAuditSerializer, 404: NOT_FOUND}),
)
class RoomAuditViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = RoomAuditSerializer
    pagination_class = ApiPagination

    def get_queryset(self):
        if fake_view(self):
            return RoomAudit.objects.none()
        return audits_for(self.request.user).order_by("-started_at", "-pk")

    def get_object(self):
        user = self.request.user
        audit = get_object_or_404(RoomAudit.objects.select_related("school", "school_class"), pk=self.kwargs["pk"],
                                  school__in=territory_access.schools_for(user))
        if not audits_for(user).filter(pk=audit.pk).exists():
            raise PermissionDenied(DENIED)
        return audit

    def _require_audit(self, school) -> None:
        if not can_audit(self.request.user, school):
            raise PermissionDenied(DENIED)

    @extend_schema(summary="Commencer un inventaire de salle", request=StartSerializer,
                   description="Fige la liste des appareils attendus dans la classe (ou hors classe). " + DENIED,
                   responses={201: RoomAuditSerializer, 403: FORBIDDEN, 404: NOT_FOUND})
    def create(self, request):
        data = StartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        school = territory_access.get_school(request.user, data.validated_data["school"])
        self._require_audit(school)
        klass = None
        if data.validated_data.get("school_class"):
            klass = get_object_or_404(school.classes, pk=data.validated_data["school_class"])
        audit = room_audit.start(request.user, school, klass)
        return Response(RoomAuditSerializer(audit).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Constater (ou décocher) un appareil", request=SeenSerializer,
                   description="Le numéro saisi, scanné, ou l'adresse de la fiche lue dans le QR code de l'étiquette.",
                   responses={200: RoomAuditSerializer, 400: OpenApiResponse(description="Inventaire terminé."),
                              403: FORBIDDEN, 404: NOT_FOUND})
    @action(detail=True, methods=["post"])
    def seen(self, request, pk=None):
        audit = self.get_object()
        self._require_audit(audit.school)
        data = SeenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            room_audit.mark_seen(audit, data.validated_data["tag"], seen=data.validated_data["seen"])
        except ValueError as exc:
            raise Refused(str(exc)) from exc
        audit.refresh_from_db()
        return Response(RoomAuditSerializer(audit).data)

    @extend_schema(summary="Terminer l'inventaire de salle",
                   description="Écrit un événement « inventaire de salle » sur chaque appareil concerné (présent, "
                               "absent, pas à sa place) ; ne déplace rien.",
                   request=None, responses={200: RoomAuditSerializer, 400: OpenApiResponse(description="Déjà terminé."),
                                            403: FORBIDDEN, 404: NOT_FOUND})
    @action(detail=True, methods=["post"])
    def finish(self, request, pk=None):
        audit = self.get_object()
        self._require_audit(audit.school)
        try:
            room_audit.finish(request.user, audit)
        except ValueError as exc:
            raise Refused(str(exc)) from exc
        audit.refresh_from_db()
        return Response(RoomAuditSerializer(audit).data)
