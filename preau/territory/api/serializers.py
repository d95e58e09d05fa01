"""Serializers of the territory API. Read serializers expect the annotated querysets of views.py."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from preau.territory.models import (
    Circonscription,
    Commune,
    Connectivity,
    Epci,
    FibreNetwork,
    School,
    SchoolClass,
)


class EpciRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Epci
        fields = ["siren", "name"]


class CommuneRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Commune
        fields = ["insee", "name"]


class CirconscriptionRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Circonscription
        fields = ["id", "name"]


class CommuneFibreSerializer(serializers.ModelSerializer):
    """The commune's fibre coverage, from the ARCEP observatory."""

    network = serializers.ChoiceField(source="fibre_network", choices=FibreNetwork.choices, read_only=True)
    operator = serializers.CharField(source="fibre_operator", read_only=True,
                                     help_text=_("Opérateur d'infrastructure."))
    premises = serializers.IntegerField(source="fibre_premises", read_only=True, allow_null=True,
                                        help_text=_("Locaux raccordables."))
    housing = serializers.IntegerField(source="fibre_housing", read_only=True, allow_null=True,
                                       help_text=_("Logements."))
    coverage = serializers.FloatField(
        source="fibre_coverage", read_only=True, allow_null=True,
        help_text=_("Part des logements raccordables (0 à 1) ; null si inconnue."),
    )
    period = serializers.CharField(source="fibre_period", read_only=True, help_text=_("Période ARCEP."))

    class Meta:
        model = Commune
        fields = ["network", "operator", "premises", "housing", "coverage", "period"]


class CommuneSerializer(serializers.ModelSerializer):
    epci = EpciRefSerializer(read_only=True, allow_null=True)
    fibre = CommuneFibreSerializer(source="*", read_only=True)
    school_count = serializers.IntegerField(read_only=True, help_text=_("Nombre d'écoles visibles de la commune."))

    class Meta:
        model = Commune
        fields = ["insee", "name", "department", "population", "stratum", "siren", "postal_codes", "epci",
                  "fibre", "lat", "lon", "school_count"]
        read_only_fields = fields


class CommuneDetailSerializer(CommuneSerializer):
    class Meta(CommuneSerializer.Meta):
        fields = [*CommuneSerializer.Meta.fields, "boundary"]
        read_only_fields = fields


class ConnectivityInlineSerializer(serializers.ModelSerializer):
    class Meta:
        model = Connectivity
        fields = ["access", "network", "operator", "bandwidth_mbps", "connected_on", "planned_on", "source",
                  "updated_at"]
        read_only_fields = fields


class SchoolSerializer(serializers.ModelSerializer):
    commune = CommuneRefSerializer(read_only=True)
    circonscription = CirconscriptionRefSerializer(read_only=True, allow_null=True)
    connectivity = serializers.SerializerMethodField(
        help_text=_("Connectivité de l'école ; null si elle n'est pas renseignée."),
    )
    class_count = serializers.IntegerField(
        read_only=True, help_text=_("Nombre de classes de l'année scolaire en cours."),
    )

    class Meta:
        model = School
        fields = ["uai", "name", "kind", "sector", "contract", "address", "postal_code", "commune",
                  "circonscription", "lat", "lon", "pupils", "ips", "phone", "email", "website", "opened_on",
                  "closed_on", "source", "connectivity", "class_count"]
        read_only_fields = fields

    @extend_schema_field(ConnectivityInlineSerializer(allow_null=True))
    def get_connectivity(self, school: School):
        try:
            conn = school.connectivity
        except Connectivity.DoesNotExist:
            return None
        return ConnectivityInlineSerializer(conn, context=self.context).data


class ConnectivitySerializer(serializers.ModelSerializer):
    """A school's connectivity. PATCH accepts only the writable fields; anything else is a 400."""

    school = serializers.CharField(source="school.uai", read_only=True, help_text=_("UAI de l'école."))
    school_name = serializers.CharField(source="school.name", read_only=True)
    commune = CommuneRefSerializer(source="school.commune", read_only=True)

    class Meta:
        model = Connectivity
        fields = ["school", "school_name", "commune", "access", "network", "operator", "bandwidth_mbps",
                  "connected_on", "planned_on", "source", "updated_at"]
        read_only_fields = ["source", "updated_at"]

    WRITABLE = ("access", "network", "operator", "bandwidth_mbps", "connected_on", "planned_on")

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise ValidationError({"non_field_errors": [_("Un objet JSON est attendu.")]})
        unknown = sorted(set(data) - set(self.WRITABLE))
        if unknown:
            raise ValidationError({key: [_("Champ inconnu ou non modifiable.")] for key in unknown})
        if not data:
            raise ValidationError({"non_field_errors": [
                _("Aucun champ à modifier (champs modifiables : %(fields)s).") % {"fields": ", ".join(self.WRITABLE)}
            ]})
        return super().to_internal_value(data)


class SchoolClassSerializer(serializers.ModelSerializer):
    school = serializers.SlugRelatedField(
        slug_field="uai", queryset=School.objects.none(), help_text=_("UAI de l'école."),
    )
    school_name = serializers.CharField(source="school.name", read_only=True)
    commune = CommuneRefSerializer(source="school.commune", read_only=True)

    class Meta:
        model = SchoolClass
        fields = ["id", "school", "school_name", "commune", "year", "name", "level", "pupils"]
        read_only_fields = ["id"]

    def __init__(self, *args, school_queryset=None, **kwargs):
        super().__init__(*args, **kwargs)
        if school_queryset is not None:
            self.fields["school"].queryset = school_queryset

    def to_internal_value(self, data):
        if isinstance(data, dict) and isinstance(data.get("school"), str):
            data = data.copy()
            data["school"] = data["school"].strip().upper()
        return super().to_internal_value(data)
