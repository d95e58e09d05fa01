"""API viewsets of the assistance under /api/v1/: help requests (tickets), their categories, the
knowledge-base articles, and the figures (ticket-figures: the figures page as JSON).

Scope: the same as the web pages (preau.helpdesk.access and preau.helpdesk.kb): a request or an article
out of the user's scope answers 404; in scope without the right to act answers 403 (filing for another
school, working a request routed to another party, writing an internal note from the school, rating a
request one did not file…). Internal notes are listed only to those who may read them
(access.can_see_internal). Writes go through preau.helpdesk.services; a refusal (state machine, service)
answers 400 {"detail": "<French sentence>"} and nothing is written.

Lists are paginated (limit/offset, 100 by default, at most 1000) and run a fixed number of SQL queries.
"""

import django_filters
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from preau.accounts import access as territory_access
from preau.core import api
from preau.core.api import FORBIDDEN, INVALID, NOT_FOUND, ApiPagination, Refused, ScopedLookupMixin, fake_view
from preau.fleet import access as fleet_access
from preau.fleet.models import Site
from preau.helpdesk import access, kb, services
from preau.helpdesk.lifecycle import Status
from preau.helpdesk.models import Article, Category, Party, Priority, Ticket
from preau.territory.codes import normalize_uai
from preau.territory.models import Circonscription, Commune

from .serializers import (
    ArticleSerializer,
    AssignSerializer,
    CategorySerializer,
    CommentCreateSerializer,
    CommentSerializer,
    FiguresSerializer,
    RateSerializer,
    ReassignSerializer,
    StatusSerializer,
    TicketCreateSerializer,
    TicketDetailSerializer,
    TicketReplaceSerializer,
    TicketSerializer,
    VoteSerializer,
)


def refusals():
    """The services' refusals as API answers (400): see api.refusals."""
    return api.refusals(services.HelpdeskError)


ID_PARAM = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Numéro de la demande.")
SLUG_PARAM = OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="Code.")
SCOPE = (" Périmètre : toutes les demandes pour l'agglomération et les comités ; celles des écoles de ses communes "
         "(ou de ses circonscriptions) et celles confiées à sa commune (sa circonscription) pour un agent communal "
         "(un conseiller) ; celles de son école pour un directeur ou un enseignant ; celles confiées à son atelier "
         "pour un atelier partenaire.")
WORKERS = " Réservé au responsable de la demande (403 sinon) ; 404 hors du périmètre."


def action_schema(summary: str, description: str, request, response=TicketDetailSerializer, code: int = 200):
    return extend_schema(summary=summary, description=description, request=request, parameters=[ID_PARAM],
                         responses={code: response, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND})


class TicketFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, label=gettext_lazy("Statut"))
    party = django_filters.ChoiceFilter(choices=Party.choices, label=gettext_lazy("Responsable"))
    priority = django_filters.ChoiceFilter(choices=Priority.choices, label=gettext_lazy("Priorité"))
    category = django_filters.CharFilter(field_name="category__slug", label=gettext_lazy("Catégorie (code)"))
    school = django_filters.CharFilter(method="filter_school", label=gettext_lazy("École (UAI)"))
    queue = django_filters.BooleanFilter(method="filter_queue", label=gettext_lazy("Ma file"),
                                         help_text=gettext_lazy("true : les demandes confiées à mon responsable."))
    open = django_filters.BooleanFilter(method="filter_open", label=gettext_lazy("Ouvertes"))

    class Meta:
        model = Ticket
        fields = ["status", "party", "priority", "category", "school", "queue", "open"]

    def filter_school(self, queryset, name, value):
        return queryset.filter(school__uai=normalize_uai(value))

    def filter_queue(self, queryset, name, value):
        q = access.party_q(self.request.user)
        if not value:
            return queryset
        return queryset.filter(q) if q is not None else queryset.none()

    def filter_open(self, queryset, name, value):
        from preau.helpdesk.lifecycle import OPEN

        return queryset.filter(status__in=OPEN) if value else queryset.exclude(status__in=OPEN)


def _detail(user, pk, code=status.HTTP_200_OK) -> Response:
    return Response(TicketDetailSerializer(access.get_ticket(user, pk)).data, status=code)


@extend_schema_view(
    list=extend_schema(summary="Lister les demandes d'assistance",
                       description="Les demandes dans le périmètre de l'utilisateur, les plus récentes d'abord. "
                                   "Paginé (limit/offset), filtrable (statut, responsable, priorité, catégorie, "
                                   "école, ma file, ouvertes)." + SCOPE),
    retrieve=extend_schema(summary="Lire une demande d'assistance",
                           description="Une demande par son numéro, avec ses échéances et les statuts possibles. "
                                       "404 hors du périmètre.",
                           parameters=[ID_PARAM], responses={200: TicketDetailSerializer, 404: NOT_FOUND}),
    create=extend_schema(summary="Faire une demande d'assistance",
                         description="Crée une demande pour une école : orientée vers son responsable par les "
                                     "règles, échéances calculées en heures ouvrées, responsable prévenu. "
                                     "Directeurs et enseignants pour leur école, l'agglomération pour toute école "
                                     "(403 sinon) ; école hors du périmètre : 400.",
                         request=TicketCreateSerializer,
                         responses={201: TicketDetailSerializer, 400: INVALID, 403: FORBIDDEN}),
)
class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TicketSerializer
    filterset_class = TicketFilter
    pagination_class = ApiPagination
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        if fake_view(self):
            return Ticket.objects.none()
        return (access.tickets_for(self.request.user).select_related("school", "category", "assignee")
                .order_by("-created_at", "-pk"))

    def retrieve(self, request, pk=None):
        return _detail(request.user, pk)

    def create(self, request):
        user = request.user
        serializer = TicketCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        school = territory_access.schools_for(user).filter(uai=normalize_uai(data["school"])).first()
        if school is None:
            raise ValidationError({"school": [_("École inconnue : %(uai)s.") % {"uai": data["school"]}]})
        category = Category.objects.filter(slug=data["category"], active=True).first()
        if category is None:
            raise ValidationError({"category": [_("Catégorie inconnue : %(c)s.") % {"c": data["category"]}]})
        school_class = None
        if data["school_class"] is not None:
            school_class = school.classes.filter(pk=data["school_class"]).first()
            if school_class is None:
                raise ValidationError({"school_class": [_("Cette classe n'est pas dans l'école.")]})
        device = None
        if data["device"]:
            device = fleet_access.assets_for(user).filter(tag=data["device"].strip(), school=school).first()
            if device is None:
                raise ValidationError({"device": [_("Appareil inconnu dans cette école : %(t)s.")
                                                  % {"t": data["device"]}]})
        access.require_file(user, school)
        with refusals():
            ticket = services.do_create_ticket(user, school=school, category=category, school_class=school_class,
                                               device=device, description=data["description"],
                                               priority=data["priority"], title=data["title"])
        return _detail(user, ticket.pk, status.HTTP_201_CREATED)

    @action_schema("Changer le statut d'une demande",
                   "Fait passer la demande à un statut permis par le cycle de vie (400 avec les statuts possibles "
                   "sinon). Clore ou rouvrir : l'école ou le responsable ; les autres statuts : le responsable. "
                   "La note éventuelle devient un message public.", StatusSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        ticket = access.get_ticket(request.user, pk)
        serializer = StatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with refusals():
            services.do_change_status(request.user, ticket, serializer.validated_data["status"],
                                      note=serializer.validated_data["note"])
        return _detail(request.user, pk)

    @action_schema("Attribuer une demande",
                   "Attribue la demande à un technicien du responsable (null : retire l'attribution) ; une "
                   "demande nouvelle passe « prise en charge »." + WORKERS, AssignSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        ticket = access.get_ticket(request.user, pk)
        access.require_work(request.user, ticket)
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        assignee = None
        if serializer.validated_data["assignee"]:
            assignee = get_user_model().objects.filter(username=serializer.validated_data["assignee"],
                                                       is_active=True).first()
            if assignee is None:
                raise ValidationError({"assignee": [_("Utilisateur inconnu.")]})
        with refusals():
            services.do_assign(request.user, ticket, assignee)
        return _detail(request.user, pk)

    @action_schema("Réorienter une demande",
                   "Confie la demande à un autre responsable, avec la raison ; l'historique garde chaque étape. "
                   "Commune, circonscription ou atelier sont déduits de l'école et de l'appareil, sauf s'ils sont "
                   "indiqués." + WORKERS, ReassignSerializer)
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        ticket = access.get_ticket(request.user, pk)
        access.require_work(request.user, ticket)
        serializer = ReassignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        commune = circonscription = workshop = None
        if data["commune"]:
            commune = Commune.objects.filter(insee=data["commune"]).first()
            if commune is None:
                raise ValidationError({"commune": [_("Commune inconnue.")]})
        if data["circonscription"] is not None:
            circonscription = Circonscription.objects.filter(pk=data["circonscription"]).first()
            if circonscription is None:
                raise ValidationError({"circonscription": [_("Circonscription inconnue.")]})
        if data["workshop"] is not None:
            workshop = Site.objects.filter(pk=data["workshop"], kind=Site.Kind.WORKSHOP).first()
            if workshop is None:
                raise ValidationError({"workshop": [_("Atelier inconnu.")]})
        with refusals():
            services.do_reassign(request.user, ticket, data["party"], note=data["note"], commune=commune,
                                 circonscription=circonscription, workshop=workshop)
        return _detail(request.user, pk)

    @extend_schema(summary="Messages d'une demande",
                   description="Les messages de la demande, du plus ancien au plus récent ; les notes internes "
                               "seulement pour qui peut les lire (jamais l'école ni les comités ; pas une commune "
                               "pour une demande pédagogique). Paginé. 404 hors du périmètre.",
                   parameters=[ID_PARAM], responses={200: CommentSerializer(many=True), 404: NOT_FOUND})
    @action(detail=True, methods=["get"], filter_backends=[], serializer_class=CommentSerializer)
    def comments(self, request, pk=None):
        ticket = access.get_ticket(request.user, pk)
        comments = access.comments_for(request.user, ticket).order_by("created_at", "pk")
        page = self.paginate_queryset(comments)
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    @action_schema("Écrire sur une demande",
                   "Ajoute un message (public, ou note interne pour le responsable). L'école et le responsable "
                   "écrivent (403 sinon) ; quand l'école répond à une demande « en attente de l'école », le délai "
                   "reprend.", CommentCreateSerializer, CommentSerializer, 201)
    @action(detail=True, methods=["post"])
    def comment(self, request, pk=None):
        ticket = access.get_ticket(request.user, pk)
        access.require_comment(request.user, ticket)
        serializer = CommentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with refusals():
            comment = services.do_comment(request.user, ticket, serializer.validated_data["body"],
                                          internal=serializer.validated_data["internal"])
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @action_schema("Remplacer l'appareil d'une demande",
                   "Le parcours de remplacement du parc, depuis la demande : le remplaçant prend la place de "
                   "l'appareil en panne ; les deux historiques et la demande l'enregistrent. Réservé au "
                   "responsable de la demande s'il gère aussi le parc (403 sinon).", TicketReplaceSerializer)
    @action(detail=True, methods=["post"])
    def replace(self, request, pk=None):
        ticket = access.get_ticket(request.user, pk)
        access.require_work(request.user, ticket)
        fleet_access.require_manage_fleet(request.user)
        serializer = TicketReplaceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        replacement = fleet_access.assets_for(request.user).filter(tag=data["replacement"].strip()).first()
        if replacement is None:
            raise ValidationError({"replacement": [_("Appareil inconnu : %(tag)s.") % {"tag": data["replacement"]}]})
        with refusals():
            services.do_replace_device(request.user, ticket, replacement, next_status=data["next_status"])
        return _detail(request.user, pk)

    @action_schema("Donner son avis sur une demande",
                   "Note de 1 à 5 (et un commentaire) une fois la demande résolue ou close. Réservé à l'école qui "
                   "a fait la demande (403 sinon).", RateSerializer)
    @action(detail=True, methods=["post"])
    def rate(self, request, pk=None):
        ticket = access.get_ticket(request.user, pk)
        if not access.is_requester_side(request.user, ticket):
            raise PermissionDenied(_("Seule l'école qui a fait la demande peut donner son avis."))
        serializer = RateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with refusals():
            services.do_rate(request.user, ticket, serializer.validated_data["satisfaction"],
                             serializer.validated_data["comment"])
        return _detail(request.user, pk)


@extend_schema_view(
    list=extend_schema(summary="Lister les catégories de demande",
                       description="Ce qui peut ne pas aller, en langage simple, et le responsable par défaut. "
                                   "Catégories proposées seulement. Tout utilisateur connecté."),
    retrieve=extend_schema(summary="Lire une catégorie de demande",
                           description="Une catégorie par son code. Tout utilisateur connecté.",
                           parameters=[SLUG_PARAM], responses={200: CategorySerializer, 404: NOT_FOUND}),
)
class CategoryViewSet(ScopedLookupMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = CategorySerializer
    pagination_class = ApiPagination
    lookup_field = "slug"
    filter_backends = []

    def get_queryset(self):
        return Category.objects.filter(active=True).order_by("position", "label")


class ArticleFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=gettext_lazy("Recherche"),
                                  help_text=gettext_lazy("Chaque mot doit figurer dans le titre, le résumé ou "
                                                         "le texte."))
    category = django_filters.CharFilter(field_name="categories__slug", label=gettext_lazy("Catégorie (code)"))

    class Meta:
        model = Article
        fields = ["q", "category"]

    def filter_q(self, queryset, name, value):
        return kb.search(queryset, value)


@extend_schema_view(
    list=extend_schema(summary="Lister les articles d'aide",
                       description="Les articles publiés (et les brouillons que l'utilisateur peut modifier), "
                                   "ceux qui ont le plus souvent résolu une demande d'abord, puis les plus utiles. "
                                   "Recherche et filtre par catégorie. Paginé."),
    retrieve=extend_schema(summary="Lire un article d'aide",
                           description="Un article par son adresse. 404 pour un brouillon que l'utilisateur ne "
                                       "peut pas modifier.",
                           parameters=[SLUG_PARAM], responses={200: ArticleSerializer, 404: NOT_FOUND}),
)
class ArticleViewSet(ScopedLookupMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ArticleSerializer
    filterset_class = ArticleFilter
    pagination_class = ApiPagination
    lookup_field = "slug"

    def get_queryset(self):
        if fake_view(self):
            return Article.objects.none()
        return kb.articles_for(self.request.user).prefetch_related("categories").distinct()

    @extend_schema(summary="Dire si un article a aidé",
                   description="« Cet article vous a-t-il aidé ? » : une réponse par utilisateur, une seconde "
                               "remplace la première. Articles publiés seulement (400 pour un brouillon).",
                   parameters=[SLUG_PARAM], request=VoteSerializer,
                   responses={200: ArticleSerializer, 400: INVALID, 404: NOT_FOUND})
    @action(detail=True, methods=["post"], filter_backends=[])
    def vote(self, request, slug=None):
        article = kb.get_article(request.user, slug)
        if not article.published:
            raise Refused(_("On ne vote que sur un article publié."))
        serializer = VoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        article = services.do_vote(request.user, article, serializer.validated_data["useful"])
        return Response(ArticleSerializer(kb.articles_for(request.user).prefetch_related("categories")
                                          .get(pk=article.pk)).data)


FIGURES_PARAMS = [
    OpenApiParameter("annee", OpenApiTypes.STR, description="Année scolaire (2026 pour 2026-2027) ou « tout » ; "
                                                           "défaut : l'année en cours."),
    OpenApiParameter("commune", OpenApiTypes.STR, description="Code INSEE d'une commune du périmètre."),
]


class FiguresViewSet(viewsets.ViewSet):
    """The figures page as JSON: the same stored figures (snapshots.py), scopes and filters."""

    @extend_schema(summary="Chiffres de l'assistance",
                   description="Délais médians en heures ouvrées (prise en charge, résolution), taux de dépassement "
                               "par catégorie, responsable et commune, satisfaction, demandes ouvertes par statut ; "
                               "par année scolaire et commune. Les chiffres sont calculés à l'avance (computed_at). "
                               "Agglomération et comités : tout le territoire ; communes et conseillers : leur "
                               "périmètre ; écoles et ateliers : 403. Commune hors périmètre : 404 ; année "
                               "inconnue : 400.",
                   parameters=FIGURES_PARAMS, responses={200: FiguresSerializer, 400: INVALID, 403: FORBIDDEN,
                                                         404: NOT_FOUND})
    def list(self, request):
        from preau.helpdesk import snapshots, views_figures

        views_figures.refuse_unless_allowed(request.user)
        try:
            years, year, commune = views_figures.filters(request.user, request.query_params, strict=True)
        except ValueError as exc:
            raise ValidationError({"annee": [str(exc)]}) from exc
        data = snapshots.for_page(request.user, year, commune)

        def rows(name):
            return [{"key": str(r.key), "label": r.label, "total": r.total, "resolved": r.resolved,
                     "breached": r.breached, "breach_rate": r.breach_rate, "take_median": r.take_median,
                     "resolve_median": r.resolve_median} for r in data.tables.get(name, [])]

        return Response(FiguresSerializer({
            "year": year, "commune": commune.insee if commune else None, "years": years,
            "computed_at": data.computed_at, "refreshing": data.refreshing, "total": data.total,
            "resolved": data.resolved, "breached": data.breached, "breach_rate": data.breach_rate,
            "take_median": data.take_median, "resolve_median": data.resolve_median,
            "satisfaction_avg": data.satisfaction_avg, "rated": data.rated,
            "satisfaction": [{"key": str(m), "label": str(m), "count": n} for m, n in data.satisfaction],
            "open_by_status": [{"key": s, "label": lab, "count": n} for s, lab, n in data.open_by_status],
            "by_category": rows("category"), "by_party": rows("party"), "by_commune": rows("commune"),
        }).data)


def register(router) -> None:
    router.register("tickets", TicketViewSet, basename="ticket")
    router.register("ticket-figures", FiguresViewSet, basename="ticketfigures")
    router.register("ticket-categories", CategoryViewSet, basename="ticketcategory")
    router.register("articles", ArticleViewSet, basename="article")
