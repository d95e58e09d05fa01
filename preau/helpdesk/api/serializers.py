"""Serializers of the assistance API. Read serializers expect the select_related querysets of views.py;
write serializers only validate input: the views hand it to preau.helpdesk.services."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from preau.helpdesk import lifecycle
from preau.helpdesk.lifecycle import Status
from preau.helpdesk.models import Article, Category, Comment, Domain, Party, Priority, Ticket


def choice(choices, **kwargs) -> serializers.CharField:
    """A code among `choices`, described in the help text (named enums of the schema collide between apps)."""
    codes = ", ".join(value for value, _label in choices)
    return serializers.CharField(help_text=_("Un de : %(c)s.") % {"c": codes}, **kwargs)


def check_choice(value, choices):
    if value is not None and value not in {v for v, _label in choices}:
        raise serializers.ValidationError(_("Valeur inconnue : « %(v)s ».") % {"v": value})
    return value


class CategorySerializer(serializers.ModelSerializer):
    domain = choice(Domain.choices, read_only=True)
    party = choice(Party.choices, read_only=True)
    default_priority = choice(Priority.choices, read_only=True)

    class Meta:
        model = Category
        fields = ["slug", "label", "domain", "party", "default_priority", "device_categories", "position"]
        read_only_fields = fields


class TicketSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    category = serializers.CharField(source="category.slug", read_only=True)
    school = serializers.CharField(source="school.uai", read_only=True)
    school_name = serializers.CharField(source="school.name", read_only=True)
    assignee = serializers.CharField(source="assignee.username", read_only=True, allow_null=True, default=None)
    status = choice(Status.choices, read_only=True)
    priority = choice(Priority.choices, read_only=True)
    party = choice(Party.choices, read_only=True)

    class Meta:
        model = Ticket
        fields = ["id", "reference", "title", "status", "priority", "category", "school", "school_name", "party",
                  "assignee", "created_at", "updated_at", "take_charge_due", "resolve_due", "take_charge_breached",
                  "resolve_breached", "resolved_at", "closed_at", "satisfaction"]
        read_only_fields = fields


class TicketDetailSerializer(TicketSerializer):
    school_class = serializers.CharField(source="school_class.name", read_only=True, allow_null=True, default=None)
    device = serializers.CharField(source="device.tag", read_only=True, allow_null=True, default=None)
    replacement = serializers.CharField(source="replacement.tag", read_only=True, allow_null=True, default=None)
    requester = serializers.CharField(source="requester.username", read_only=True, allow_null=True, default=None)
    party_commune = serializers.CharField(source="party_commune.insee", read_only=True, allow_null=True,
                                          default=None)
    party_circonscription = serializers.IntegerField(source="party_circonscription_id", read_only=True,
                                                     allow_null=True)
    party_workshop = serializers.IntegerField(source="party_workshop_id", read_only=True, allow_null=True)
    merged_into = serializers.IntegerField(source="merged_into_id", read_only=True, allow_null=True)
    allowed_statuses = serializers.SerializerMethodField(help_text=_("Statuts possibles depuis le statut actuel."))

    class Meta(TicketSerializer.Meta):
        fields = TicketSerializer.Meta.fields + [
            "description", "school_class", "device", "replacement", "requester", "party_commune",
            "party_circonscription", "party_workshop", "merged_into", "taken_at", "take_charge_hours",
            "resolve_hours", "reopen_count", "satisfaction_comment", "allowed_statuses"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_statuses(self, ticket) -> list[str]:
        return list(lifecycle.allowed(ticket.status))


class TicketCreateSerializer(serializers.Serializer):
    school = serializers.CharField(max_length=8, help_text=_("UAI de l'école, ex. 0429901J."))
    category = serializers.SlugField(help_text=_("Code de la catégorie (voir /categories/)."))
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    school_class = serializers.IntegerField(required=False, allow_null=True, default=None,
                                            help_text=_("Identifiant de la classe."))
    device = serializers.CharField(required=False, allow_blank=True, default="", max_length=32,
                                   help_text=_("Numéro d'inventaire de l'appareil."))
    priority = choice(Priority.choices, required=False, allow_null=True, default=None)
    title = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)

    def validate_priority(self, value):
        return check_choice(value, Priority.choices)


class StatusSerializer(serializers.Serializer):
    status = choice(Status.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000,
                                 help_text=_("Message public ajouté à la demande."))

    def validate_status(self, value):
        return check_choice(value, Status.choices)


class AssignSerializer(serializers.Serializer):
    assignee = serializers.CharField(allow_null=True, max_length=150,
                                     help_text=_("Identifiant du technicien ; null pour retirer l'attribution."))


class ReassignSerializer(serializers.Serializer):
    party = choice(Party.choices)
    note = serializers.CharField(max_length=500, help_text=_("Pourquoi la demande change de responsable."))
    commune = serializers.CharField(required=False, allow_blank=True, default="", max_length=5,
                                    help_text=_("Code INSEE de la commune (responsable « commune »)."))
    circonscription = serializers.IntegerField(required=False, allow_null=True, default=None)
    workshop = serializers.IntegerField(required=False, allow_null=True, default=None,
                                        help_text=_("Identifiant du site de l'atelier."))

    def validate_party(self, value):
        return check_choice(value, Party.choices)


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Comment
        fields = ["id", "author", "body", "internal", "via_link", "created_at"]
        read_only_fields = fields


class CommentCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000)
    internal = serializers.BooleanField(required=False, default=False,
                                        help_text=_("Note interne : réservée au responsable de la demande."))


class TicketReplaceSerializer(serializers.Serializer):
    replacement = serializers.CharField(max_length=32, help_text=_("Numéro d'inventaire du remplaçant."))
    next_status = serializers.CharField(required=False, allow_null=True, default=None, max_length=20,
                                        help_text=_("Statut de l'appareil remplacé (par défaut celui du parc)."))


class RateSerializer(serializers.Serializer):
    satisfaction = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class ArticleSerializer(serializers.ModelSerializer):
    categories = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = Article
        fields = ["slug", "title", "summary", "body", "categories", "published", "updated_at", "useful_yes",
                  "useful_no", "resolved_count"]
        read_only_fields = fields


class VoteSerializer(serializers.Serializer):
    useful = serializers.BooleanField(help_text=_("true : l'article a aidé ; false : il n'a pas aidé."))


class FigureRowSerializer(serializers.Serializer):
    key = serializers.CharField(
        help_text=_("Identifiant de la catégorie, code du responsable ou identifiant de la commune."))
    label = serializers.CharField()
    total = serializers.IntegerField()
    resolved = serializers.IntegerField()
    breached = serializers.IntegerField()
    breach_rate = serializers.FloatField(allow_null=True, help_text=_("Part des demandes au délai dépassé (%)."))
    take_median = serializers.FloatField(allow_null=True, help_text=_("Prise en charge médiane (heures ouvrées)."))
    resolve_median = serializers.FloatField(allow_null=True, help_text=_("Résolution médiane (heures ouvrées)."))


class FigureCountSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField()


class FiguresSerializer(serializers.Serializer):
    year = serializers.IntegerField(allow_null=True, help_text=_("Année scolaire (2026 : 2026-2027) ; null : toutes."))
    commune = serializers.CharField(allow_null=True, help_text=_("Code INSEE du filtre commune, ou null."))
    years = serializers.ListField(child=serializers.IntegerField(), help_text=_("Années scolaires disponibles."))
    computed_at = serializers.DateTimeField(help_text=_("Quand ces chiffres ont été calculés."))
    refreshing = serializers.BooleanField(help_text=_("Une mise à jour est en cours."))
    total = serializers.IntegerField()
    resolved = serializers.IntegerField()
    breached = serializers.IntegerField()
    breach_rate = serializers.FloatField(allow_null=True)
    take_median = serializers.FloatField(allow_null=True)
    resolve_median = serializers.FloatField(allow_null=True)
    satisfaction_avg = serializers.FloatField(allow_null=True)
    rated = serializers.IntegerField()
    satisfaction = FigureCountSerializer(many=True, help_text=_("Notes de 1 à 5 et leur nombre."))
    open_by_status = FigureCountSerializer(many=True, help_text=_("Demandes ouvertes aujourd'hui, par statut."))
    by_category = FigureRowSerializer(many=True)
    by_party = FigureRowSerializer(many=True)
    by_commune = FigureRowSerializer(many=True)
