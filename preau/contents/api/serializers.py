"""Serializers of the contents API. Read serializers expect the querysets of views.py; write serializers only
validate input: the views hand it to preau.contents.services (and tours, jobs)."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from preau.contents.models import Collection, Delivery, NasNode, Release, Subscription, Tour, TourStop
from preau.fleet.api.serializers import SchoolRefSerializer, StrictInputMixin
from preau.territory.models import Commune, School, SchoolKind

# --------------------------------------------------------------------------- collections and releases


class ReleaseSerializer(serializers.ModelSerializer):
    collection = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    published_by = serializers.StringRelatedField(read_only=True)

    class Meta:
        model = Release
        fields = ["id", "collection", "version", "manifest", "notes", "total_bytes", "new_bytes", "files",
                  "published_at", "published_by", "withdrawn_at", "withdraw_reason"]
        read_only_fields = fields


class SubscriptionSerializer(serializers.ModelSerializer):
    collection = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    commune = serializers.SlugRelatedField(slug_field="insee", read_only=True, allow_null=True)
    school = serializers.SlugRelatedField(slug_field="uai", read_only=True, allow_null=True)
    label = serializers.SerializerMethodField(help_text=_("Qui reçoit la collection, en toutes lettres."))

    class Meta:
        model = Subscription
        fields = ["id", "collection", "scope", "commune", "school_kind", "school", "label"]
        read_only_fields = fields

    def get_label(self, sub: Subscription) -> str:
        from preau.contents.views import describe_subscription

        return describe_subscription(sub)


class CollectionSerializer(serializers.ModelSerializer):
    current_version = serializers.IntegerField(read_only=True, allow_null=True,
                                               help_text=_("La dernière version non retirée (null : aucune)."))
    release_count = serializers.IntegerField(read_only=True)
    subscription_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Collection
        fields = ["slug", "name", "description", "created_at", "current_version", "release_count",
                  "subscription_count"]
        read_only_fields = fields


class CollectionDetailSerializer(CollectionSerializer):
    releases = ReleaseSerializer(many=True, read_only=True)
    subscriptions = SubscriptionSerializer(many=True, read_only=True)

    class Meta(CollectionSerializer.Meta):
        fields = [*CollectionSerializer.Meta.fields, "releases", "subscriptions"]
        read_only_fields = fields


class CollectionCreateSerializer(StrictInputMixin, serializers.Serializer):
    slug = serializers.SlugField(max_length=60, help_text=_("Nom dans le magasin et sur les NAS : lettres, "
                                                            "chiffres, tirets."))
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class PublishSerializer(StrictInputMixin, serializers.Serializer):
    src_dir = serializers.CharField(required=False, max_length=1000, help_text=_(
        "Dossier sur le serveur, sous PREAU_CONTENT_IMPORT_ROOT (un chemin relatif y est pris)."))
    archive = serializers.FileField(required=False, help_text=_(
        "Ou une archive .zip, .tar, .tar.gz, .tar.bz2, .tar.xz, .tar.zst (envoi multipart/form-data)."))
    notes = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, data):
        if bool(data.get("src_dir")) == bool(data.get("archive")):
            raise serializers.ValidationError(
                {"non_field_errors": [_("Indiquez soit un dossier du serveur (src_dir), soit une archive "
                                        "(archive), pas les deux.")]})
        return data


class JobRefSerializer(serializers.Serializer):
    job = serializers.IntegerField(read_only=True, help_text=_("Identifiant de la tâche de fond."))
    status = serializers.CharField(read_only=True)
    url = serializers.CharField(read_only=True, help_text=_("Page de la tâche (barre de progression, résultat)."))
    api_url = serializers.CharField(read_only=True, help_text=_("L'état de la tâche dans l'API."))


class JobSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True, help_text=_("queued, running, done, failed ou cancelled."))
    done = serializers.IntegerField(read_only=True)
    total = serializers.IntegerField(read_only=True)
    message = serializers.CharField(read_only=True)
    result = serializers.JSONField(read_only=True, allow_null=True, help_text=_(
        "Une fois terminée : {changed, collection, version, new_bytes, total_bytes} (changed false : contenu "
        "identique, rien de publié)."))
    error = serializers.CharField(read_only=True, help_text=_("Une fois échouée : la phrase qui dit pourquoi."))
    created_at = serializers.DateTimeField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)


class WithdrawSerializer(StrictInputMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text=_("Motif du retrait (obligatoire)."))


class SubscriptionCreateSerializer(StrictInputMixin, serializers.Serializer):
    collection = serializers.SlugRelatedField(slug_field="slug", queryset=Collection.objects.all(),
                                              error_messages={"does_not_exist": _("Collection inconnue : {value}.")})
    scope = serializers.ChoiceField(choices=Subscription.Scope.choices)
    commune = serializers.SlugRelatedField(slug_field="insee", queryset=Commune.objects.all(), required=False,
                                           allow_null=True, help_text=_("Code INSEE (portée commune)."),
                                           error_messages={"does_not_exist": _("Commune inconnue : {value}.")})
    school_kind = serializers.CharField(required=False, allow_blank=True, help_text=_(
        "Type d'école (portée kind) : %(k)s.") % {"k": ", ".join(SchoolKind.values)})
    school = serializers.SlugRelatedField(slug_field="uai", queryset=School.objects.all(), required=False,
                                          allow_null=True, help_text=_("UAI (portée school)."),
                                          error_messages={"does_not_exist": _("École inconnue : {value}.")})

    def validate(self, data):
        needed = {Subscription.Scope.COMMUNE: "commune", Subscription.Scope.KIND: "school_kind",
                  Subscription.Scope.SCHOOL: "school"}.get(data["scope"])
        if needed and not data.get(needed):
            raise serializers.ValidationError({needed: [_("Obligatoire pour cette portée.")]})
        if data.get("school_kind") and data["school_kind"] not in SchoolKind.values:
            raise serializers.ValidationError({"school_kind": [_("Type d'école inconnu : %(k)s.")
                                                               % {"k": data["school_kind"]}]})
        return data


# --------------------------------------------------------------------------- NAS nodes


class HeldSerializer(serializers.Serializer):
    collection = serializers.CharField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    current = serializers.IntegerField(read_only=True, allow_null=True,
                                       help_text=_("Version actuelle de la collection (null : aucune)."))
    state = serializers.CharField(read_only=True, help_text=_("uptodate (à jour) ou late (en retard)."))


class NodeSerializer(serializers.ModelSerializer):
    school = SchoolRefSerializer(read_only=True)
    commune = serializers.CharField(source="school.commune.insee", read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)
    silent_days = serializers.SerializerMethodField(help_text=_(
        "Jours sans contact, au-delà du seuil PREAU_NAS_SILENT_DAYS (null sinon)."))
    held = serializers.SerializerMethodField()

    class Meta:
        model = NasNode
        fields = ["node_id", "school", "commune", "mode", "active", "enrolled_at", "revoked_at", "last_checkin_at",
                  "silent_days", "agent_version", "disk_free_bytes", "last_error", "held"]
        read_only_fields = fields

    def get_silent_days(self, node) -> int | None:
        return getattr(node, "silent_for", None)

    @extend_schema_field(HeldSerializer(many=True))
    def get_held(self, node) -> list:
        return [{"collection": slug, "version": version, "current": latest, "state": state}
                for slug, version, state, latest in getattr(node, "held_list", [])]


class DeliverySerializer(serializers.ModelSerializer):
    collection = serializers.CharField(source="release.collection.slug", read_only=True)
    version = serializers.IntegerField(source="release.version", read_only=True)

    class Meta:
        model = Delivery
        fields = ["collection", "version", "via", "tour", "delivered_at"]
        read_only_fields = fields


class NodeDetailSerializer(NodeSerializer):
    collections = serializers.SerializerMethodField(help_text=_("Les collections que l'école reçoit."))
    deliveries = serializers.SerializerMethodField(help_text=_("Les 50 dernières livraisons."))

    class Meta(NodeSerializer.Meta):
        fields = [*NodeSerializer.Meta.fields, "collections", "deliveries"]
        read_only_fields = fields

    def get_collections(self, node) -> list[str]:
        from preau.contents.services import collections_for_school

        return list(collections_for_school(node.school).values_list("slug", flat=True))

    @extend_schema_field(DeliverySerializer(many=True))
    def get_deliveries(self, node) -> list:
        return DeliverySerializer(node.deliveries.select_related("release__collection")[:50], many=True).data


class ModeSerializer(StrictInputMixin, serializers.Serializer):
    mode = serializers.ChoiceField(choices=NasNode.Mode.choices)


class RevokeSerializer(StrictInputMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text=_("Motif de la révocation (obligatoire)."))


class EnrolmentCodeSerializer(serializers.Serializer):
    node_id = serializers.CharField(read_only=True)
    code = serializers.CharField(read_only=True, help_text=_("Code à usage unique, montré cette fois seulement."))
    expires_at = serializers.DateTimeField(read_only=True)
    command = serializers.CharField(read_only=True, help_text=_("La commande à lancer sur le NAS."))


# --------------------------------------------------------------------------- tours


class TourStopSerializer(serializers.ModelSerializer):
    school = SchoolRefSerializer(read_only=True)

    class Meta:
        model = TourStop
        fields = ["order", "school", "needs"]
        read_only_fields = fields


class TourSerializer(serializers.ModelSerializer):
    created_by = serializers.StringRelatedField(read_only=True)
    state = serializers.CharField(read_only=True, help_text=_(
        "planned (prévue), bundle_ready (disque prêt), on_tour (en tournée), done (terminée)."))
    stop_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Tour
        fields = ["id", "name", "planned_on", "state", "created_by", "created_at", "bundle_id", "bundle_bytes",
                  "stop_count"]
        read_only_fields = fields


class TourDetailSerializer(TourSerializer):
    stops = TourStopSerializer(many=True, read_only=True)

    class Meta(TourSerializer.Meta):
        fields = [*TourSerializer.Meta.fields, "stops"]
        read_only_fields = fields


class TourPlanSerializer(StrictInputMixin, serializers.Serializer):
    name = serializers.CharField(max_length=40)
    planned_on = serializers.DateField(required=False, allow_null=True)
    uais = serializers.ListField(child=serializers.CharField(max_length=8), required=False, help_text=_(
        "Les écoles, dans n'importe quel ordre (l'ordre de visite est calculé)."))
    commune = serializers.SlugRelatedField(slug_field="insee", queryset=Commune.objects.all(), required=False,
                                           allow_null=True, help_text=_(
                                               "Sans écoles : les écoles hors ligne en retard de cette commune."),
                                           error_messages={"does_not_exist": _("Commune inconnue : {value}.")})
