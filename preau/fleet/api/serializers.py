"""Serializers of the fleet API. Read serializers expect the select_related querysets of views.py;
write serializers only validate input: the views hand it to preau.fleet.services."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from preau.fleet.lifecycle import Status, allowed
from preau.fleet.models import (
    Asset,
    AssetEvent,
    BatchItem,
    Category,
    DeviceModel,
    ErasureCertificate,
    NetworkInterface,
    RequalificationBatch,
    Site,
    Slot,
)
from preau.territory.models import School, SchoolClass

# --------------------------------------------------------------------------- references


class DeviceModelRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeviceModel
        fields = ["id", "category", "maker", "name"]
        read_only_fields = fields


class SchoolRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = School
        fields = ["uai", "name"]
        read_only_fields = fields


class SchoolClassRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = SchoolClass
        fields = ["id", "name", "year", "level"]
        read_only_fields = fields


class SiteRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ["id", "name", "kind"]
        read_only_fields = fields


class SlotRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Slot
        fields = ["id", "label", "category"]
        read_only_fields = fields


class StrictInputMixin:
    """Refuse unknown keys (400 naming them) instead of silently ignoring them."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": [_("Un objet JSON est attendu.")]})
        writable = {name for name, f in self.fields.items() if not f.read_only}
        unknown = sorted(set(data) - writable)
        if unknown:
            raise ValidationError({key: [_("Champ inconnu ou non modifiable.")] for key in unknown})
        return super().to_internal_value(data)


# --------------------------------------------------------------------------- device models


class DeviceModelSerializer(StrictInputMixin, serializers.ModelSerializer):
    class Meta:
        model = DeviceModel
        fields = ["id", "category", "maker", "name", "cpu", "cpu_64bit", "ram_mb", "disk_gb", "netboot",
                  "released_year", "notes"]
        read_only_fields = ["id"]


# --------------------------------------------------------------------------- assets


class AssetSerializer(serializers.ModelSerializer):
    """An asset in a list: where it is, what it is, in what state."""

    model = DeviceModelRefSerializer(read_only=True)
    school = SchoolRefSerializer(read_only=True, allow_null=True)
    school_class = SchoolClassRefSerializer(read_only=True, allow_null=True)
    site = SiteRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Asset
        fields = ["tag", "serial", "category", "status", "origin", "model", "school", "school_class", "site",
                  "purchased_on", "warranty_until", "cost", "hostname", "updated_at"]
        read_only_fields = fields


class PlaceSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[("class", "class"), ("school", "school"), ("site", "site"),
                                            ("none", "none")], read_only=True,
                                   help_text=_("class, school, site ou none."))
    label = serializers.CharField(read_only=True, help_text=_("Où est l'appareil, en toutes lettres."))


class SpecsSerializer(serializers.Serializer):
    """What the machine itself reported (agent inventory), else the model's catalogue value."""

    cpu = serializers.CharField(read_only=True)
    cpu_64bit = serializers.BooleanField(read_only=True, allow_null=True)
    ram_mb = serializers.IntegerField(read_only=True, allow_null=True)
    disk_gb = serializers.IntegerField(read_only=True, allow_null=True)
    netboot = serializers.BooleanField(read_only=True, allow_null=True)
    os = serializers.CharField(read_only=True)


class InterfaceSerializer(serializers.ModelSerializer):
    class Meta:
        model = NetworkInterface
        fields = ["mac", "name"]
        read_only_fields = fields


def place_of(asset: Asset) -> dict:
    if asset.school_class_id:
        return {"kind": "class", "label": f"{asset.school.name} — {asset.school_class.name}"}
    if asset.school_id:
        return {"kind": "school", "label": asset.school.name}
    if asset.site_id:
        return {"kind": "site", "label": asset.site.name}
    return {"kind": "none", "label": ""}


class AssetDetailSerializer(AssetSerializer):
    place = serializers.SerializerMethodField()
    slot = serializers.SerializerMethodField()
    specs = serializers.SerializerMethodField()
    interfaces = InterfaceSerializer(many=True, read_only=True)

    class Meta(AssetSerializer.Meta):
        fields = [*AssetSerializer.Meta.fields, "place", "slot", "specs", "interfaces", "system_uuid", "os",
                  "last_inventory_at", "notes", "created_at"]
        read_only_fields = fields

    @extend_schema_field(PlaceSerializer)
    def get_place(self, asset: Asset) -> dict:
        return place_of(asset)

    @extend_schema_field(SlotRefSerializer(allow_null=True))
    def get_slot(self, asset: Asset):
        try:
            slot = asset.slot
        except Slot.DoesNotExist:
            return None
        return SlotRefSerializer(slot).data

    @extend_schema_field(SpecsSerializer)
    def get_specs(self, asset: Asset) -> dict:
        return {name: asset.spec(name) for name in ("cpu", "cpu_64bit", "ram_mb", "disk_gb", "netboot")} | {
            "os": asset.os}


DESCRIPTIVE = ["serial", "model", "origin", "purchased_on", "warranty_until", "cost", "hostname", "cpu", "cpu_64bit",
               "ram_mb", "disk_gb", "netboot", "os", "notes"]


class AssetUpdateSerializer(StrictInputMixin, serializers.ModelSerializer):
    """PATCH: descriptive fields only; status and place change through the actions."""

    model = serializers.PrimaryKeyRelatedField(queryset=DeviceModel.objects.all(),
                                               help_text=_("Identifiant du modèle d'appareil."))
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, write_only=True,
                                   help_text=_("Motif, inscrit dans l'historique."))

    class Meta:
        model = Asset
        fields = [*DESCRIPTIVE, "reason"]
        extra_kwargs = {"serial": {"validators": []}}
        validators: list = []  # uniqueness is checked by the service, with a sentence

    def validate(self, attrs):
        if not set(attrs) - {"reason"}:
            raise ValidationError({"non_field_errors": [
                _("Aucun champ à modifier (champs modifiables : %(f)s).") % {"f": ", ".join(DESCRIPTIVE)}]})
        return attrs


class AssetCreateSerializer(StrictInputMixin, serializers.ModelSerializer):
    """POST: a new asset, in stock; at the depot unless a school, a class or a site is given."""

    model = serializers.PrimaryKeyRelatedField(queryset=DeviceModel.objects.all(),
                                               help_text=_("Identifiant du modèle d'appareil."))
    category = serializers.ChoiceField(choices=Category.choices, required=False,
                                       help_text=_("Par défaut, la catégorie du modèle."))
    school = serializers.SlugRelatedField(slug_field="uai", queryset=School.objects.all(), required=False,
                                          allow_null=True, help_text=_("UAI de l'école."))
    school_class = serializers.PrimaryKeyRelatedField(queryset=SchoolClass.objects.all(), required=False,
                                                      allow_null=True, help_text=_("Identifiant de la classe."))
    site = serializers.PrimaryKeyRelatedField(queryset=Site.objects.all(), required=False, allow_null=True,
                                              help_text=_("Identifiant du site (dépôt, atelier)."))
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, write_only=True)

    class Meta:
        model = Asset
        fields = ["tag", *DESCRIPTIVE, "category", "school", "school_class", "site", "reason"]
        extra_kwargs = {"tag": {"validators": []}, "serial": {"validators": []}}
        validators: list = []

    def to_internal_value(self, data):
        if isinstance(data, dict) and isinstance(data.get("school"), str):
            data = {**data, "school": data["school"].strip().upper()}
        return super().to_internal_value(data)

    def validate(self, attrs):
        if sum(attrs.get(k) is not None for k in ("school", "school_class", "site")) > 1:
            raise ValidationError({"non_field_errors": [
                _("Indiquez au plus un lieu : une école, une classe ou un site.")]})
        return attrs


class TransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, help_text=_("Statut visé."))
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    ticket = serializers.CharField(required=False, allow_blank=True, max_length=40, default="",
                                   help_text=_("Demande liée (numéro de ticket)."))


class PlaceInputSerializer(serializers.Serializer):
    """Exactly one of slot, school_class, school (deploy) or school, school_class, site (move)."""

    school = serializers.SlugRelatedField(slug_field="uai", queryset=School.objects.none(), required=False,
                                          help_text=_("UAI de l'école."))
    school_class = serializers.PrimaryKeyRelatedField(queryset=SchoolClass.objects.none(), required=False,
                                                      help_text=_("Identifiant de la classe."))
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    places: tuple[str, ...] = ()

    def __init__(self, *args, scope_schools=None, **kwargs):
        super().__init__(*args, **kwargs)
        schools = scope_schools if scope_schools is not None else School.objects.all()
        self.fields["school"].queryset = schools
        self.fields["school_class"].queryset = SchoolClass.objects.filter(school__in=schools)
        if "slot" in self.fields:
            self.fields["slot"].queryset = Slot.objects.filter(school__in=schools)

    def to_internal_value(self, data):
        if isinstance(data, dict) and isinstance(data.get("school"), str):
            data = {**data, "school": data["school"].strip().upper()}
        return super().to_internal_value(data)

    def validate(self, attrs):
        given = [k for k in self.places if attrs.get(k) is not None]
        if len(given) != 1:
            raise ValidationError({"non_field_errors": [
                _("Indiquez exactement un lieu parmi : %(p)s.") % {"p": ", ".join(self.places)}]})
        return attrs


class DeploySerializer(PlaceInputSerializer):
    slot = serializers.PrimaryKeyRelatedField(queryset=Slot.objects.none(), required=False,
                                              help_text=_("Identifiant de l'emplacement à occuper."))
    ticket = serializers.CharField(required=False, allow_blank=True, max_length=40, default="")
    places = ("slot", "school_class", "school")


class MoveSerializer(PlaceInputSerializer):
    site = serializers.PrimaryKeyRelatedField(queryset=Site.objects.all(), required=False,
                                              help_text=_("Identifiant du site (dépôt, atelier)."))
    places = ("school", "school_class", "site")


class ReplaceSerializer(serializers.Serializer):
    replacement = serializers.CharField(max_length=32, help_text=_("Numéro d'inventaire du remplaçant."))
    next_status = serializers.ChoiceField(
        choices=[(s, Status(s).label) for s in allowed(Status.FAILED)], required=False, allow_null=True, default=None,
        help_text=_("Statut de l'appareil remplacé ; par défaut « réformé » pour un client léger, "
                    "« en réparation » sinon."))
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    ticket = serializers.CharField(required=False, allow_blank=True, max_length=40, default="")


class ReplaceResultSerializer(serializers.Serializer):
    replaced = AssetDetailSerializer(read_only=True)
    replacement = AssetDetailSerializer(read_only=True)


class AssetEventSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True, allow_null=True, default=None)
    batch = serializers.CharField(source="batch.reference", read_only=True, allow_null=True, default=None)
    other_asset = serializers.CharField(source="other_asset.tag", read_only=True, allow_null=True, default=None)
    from_status = serializers.CharField(read_only=True, help_text=_("Statut avant (vide si inchangé)."))
    to_status = serializers.CharField(read_only=True, help_text=_("Statut après (vide si inchangé)."))

    class Meta:
        model = AssetEvent
        fields = ["id", "at", "kind", "from_status", "to_status", "reason", "user", "batch", "ticket", "other_asset",
                  "details"]
        read_only_fields = fields


# --------------------------------------------------------------------------- batches


class ProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField(read_only=True)
    evaluated = serializers.IntegerField(read_only=True, help_text=_("Éligibilité évaluée."))
    eligible = serializers.IntegerField(read_only=True)
    erased = serializers.IntegerField(read_only=True, help_text=_("Appareils avec un effacement vérifié."))
    converted = serializers.IntegerField(read_only=True)
    rejected = serializers.IntegerField(read_only=True)
    done = serializers.IntegerField(read_only=True, help_text=_("Convertis + rejetés."))
    percent = serializers.IntegerField(read_only=True)


def progress_of(batch: RequalificationBatch) -> dict:
    """From the list's annotations when present (no query), else computed (detail)."""
    if hasattr(batch, "n_total"):
        c = {k: getattr(batch, f"n_{k}") for k in ("total", "evaluated", "eligible", "erased", "converted",
                                                   "rejected")}
        c["done"] = c["converted"] + c["rejected"]
        c["percent"] = round(100 * c["done"] / c["total"]) if c["total"] else 0
        return c
    from preau.fleet.services import batch_progress

    return batch_progress(batch)


class BatchSerializer(serializers.ModelSerializer):
    workshop = SiteRefSerializer(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = RequalificationBatch
        fields = ["reference", "workshop", "state", "notes", "created_by", "created_at", "picked_up_on",
                  "received_on", "returned_on", "closed_on", "progress"]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, batch: RequalificationBatch) -> dict:
        return progress_of(batch)


class ErasureSerializer(StrictInputMixin, serializers.ModelSerializer):
    asset = serializers.CharField(source="asset.tag", read_only=True)
    number = serializers.CharField(required=False, max_length=40,
                                   help_text=_("Par défaut, le numéro suivant EFF-AAAA-NNNNN (AAAA : année)."))

    class Meta:
        model = ErasureCertificate
        fields = ["number", "asset", "disk_serial", "disk_model", "disk_size_gb", "method", "tool", "pattern",
                  "passes", "verification", "operator", "performed_on", "recorded_at"]
        read_only_fields = ["asset", "recorded_at"]


class BatchItemSerializer(serializers.ModelSerializer):
    asset = serializers.CharField(source="asset.tag", read_only=True)
    category = serializers.ChoiceField(source="asset.category", choices=Category.choices, read_only=True)
    status = serializers.ChoiceField(source="asset.status", choices=Status.choices, read_only=True)
    model = DeviceModelRefSerializer(source="asset.model", read_only=True)
    origin_school = serializers.CharField(source="origin_school.uai", read_only=True, allow_null=True, default=None,
                                          help_text=_("UAI de l'école d'où vient l'appareil."))
    erasures = serializers.SerializerMethodField()

    class Meta:
        model = BatchItem
        fields = ["asset", "category", "status", "model", "origin_school", "eligibility", "reasons", "result",
                  "notes", "erasures"]
        read_only_fields = fields

    @extend_schema_field(ErasureSerializer(many=True))
    def get_erasures(self, item: BatchItem) -> list:
        certificates = [c for c in item.asset.erasures.all() if c.batch_id == item.batch_id]
        return ErasureSerializer(certificates, many=True).data


class BatchDetailSerializer(BatchSerializer):
    items = BatchItemSerializer(many=True, read_only=True)

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "items"]
        read_only_fields = fields


class BatchCreateSerializer(serializers.Serializer):
    workshop = serializers.PrimaryKeyRelatedField(queryset=Site.objects.all(),
                                                  help_text=_("Identifiant de l'atelier partenaire."))
    assets = serializers.ListField(child=serializers.CharField(max_length=32), allow_empty=False,
                                   max_length=1000, help_text=_("Numéros d'inventaire des appareils."))
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class BatchDateSerializer(serializers.Serializer):
    on = serializers.DateField(required=False, allow_null=True, default=None,
                               help_text=_("Date de l'étape ; par défaut aujourd'hui."))


class ConvertSerializer(serializers.Serializer):
    notes = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class RejectSerializer(serializers.Serializer):
    weight_kg = serializers.DecimalField(max_digits=6, decimal_places=2, min_value=0)
    recycler = serializers.CharField(max_length=120, help_text=_("Éco-organisme ou recycleur DEEE."))
    certificate = serializers.CharField(required=False, allow_blank=True, max_length=80, default="",
                                        help_text=_("Bordereau ou certificat du recycleur."))
    recycled_on = serializers.DateField(required=False, allow_null=True, default=None)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class EligibilitySerializer(serializers.Serializer):
    eligible = serializers.BooleanField()
    reason = serializers.CharField(max_length=200, help_text=_("Motif de la décision (obligatoire)."))


# --------------------------------------------------------------------------- slots


class SlotSerializer(serializers.ModelSerializer):
    school = serializers.CharField(source="school.uai", read_only=True, help_text=_("UAI de l'école."))
    school_name = serializers.CharField(source="school.name", read_only=True)
    school_class = SchoolClassRefSerializer(read_only=True, allow_null=True)
    asset = serializers.CharField(source="asset.tag", read_only=True, allow_null=True, default=None,
                                  help_text=_("Numéro d'inventaire de l'appareil qui l'occupe ; null si libre."))

    class Meta:
        model = Slot
        fields = ["id", "school", "school_name", "school_class", "category", "label", "asset"]
        read_only_fields = fields

