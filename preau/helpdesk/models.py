"""Help requests (tickets), their categories, routing rules, deadline policies, the académie's school
holidays, comments, attachments, links, the knowledge base and notification preferences."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .lifecycle import Status


class Party(models.TextChoices):
    """Who is responsible for a kind of problem."""

    AGGLOMERATION = "agglomeration", _("Agglomération (équipe numérique)")
    COMMUNE = "commune", _("Commune de l'école")
    CIRCONSCRIPTION = "circonscription", _("Circonscription (Éducation nationale)")
    WORKSHOP = "workshop", _("Atelier partenaire")


class Domain(models.TextChoices):
    EQUIPMENT = "equipment", _("Matériel")
    NETWORK = "network", _("Réseau et internet")
    SOFTWARE = "software", _("Logiciels et comptes")
    BUILDING = "building", _("Bâtiment (électricité, câblage, salle)")
    PEDAGOGY = "pedagogy", _("Pédagogie et formation")
    OTHER = "other", _("Autre")


class Priority(models.TextChoices):
    LOW = "low", _("basse")
    NORMAL = "normal", _("normale")
    HIGH = "high", _("haute")
    URGENT = "urgent", _("urgente (classe bloquée)")


class Category(models.Model):
    """What is wrong, in plain language ("Le vidéoprojecteur n'affiche rien"), and who answers it by default."""

    slug = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("intitulé"), max_length=160)
    domain = models.CharField(_("domaine"), max_length=12, choices=Domain.choices)
    party = models.CharField(_("responsable"), max_length=16, choices=Party.choices)
    device_categories = models.JSONField(_("catégories d'appareils concernées"), default=list, blank=True,
                                         help_text=_("Les appareils de la classe proposés dans le formulaire."))
    default_priority = models.CharField(_("priorité par défaut"), max_length=8, choices=Priority.choices,
                                        default=Priority.NORMAL)
    position = models.PositiveSmallIntegerField(_("ordre"), default=100)
    active = models.BooleanField(_("proposée"), default=True)

    class Meta:
        ordering = ["position", "label"]
        verbose_name = _("catégorie de demande")
        verbose_name_plural = _("catégories de demande")

    def __str__(self):
        return self.label


class RoutingRule(models.Model):
    """A configurable exception to a category's party: the first matching rule (by position) wins."""

    class Condition(models.TextChoices):
        ANY = "any", _("toujours")
        DEVICE_AT_WORKSHOP = "device_at_workshop", _("l'appareil est dans un atelier partenaire")
        DEVICE_REQUALIFIED = "device_requalified", _("l'appareil est un appareil requalifié")

    position = models.PositiveSmallIntegerField(_("ordre"), default=100)
    category = models.ForeignKey(Category, verbose_name=_("catégorie"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="rules",
                                 help_text=_("Vide : toutes les catégories du domaine."))
    domain = models.CharField(_("domaine"), max_length=12, choices=Domain.choices, blank=True)
    condition = models.CharField(_("condition"), max_length=20, choices=Condition.choices, default=Condition.ANY)
    party = models.CharField(_("responsable"), max_length=16, choices=Party.choices)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("règle d'orientation")
        verbose_name_plural = _("règles d'orientation")

    def __str__(self):
        return f"{self.position}: {self.get_condition_display()} → {self.get_party_display()}"


class DeadlinePolicy(models.Model):
    """Time to take charge and to resolve, in working hours of the school calendar."""

    category = models.ForeignKey(Category, verbose_name=_("catégorie"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="deadlines",
                                 help_text=_("Vide : toutes les catégories."))
    priority = models.CharField(_("priorité"), max_length=8, choices=Priority.choices)
    take_charge_hours = models.DecimalField(_("prise en charge (heures ouvrées)"), max_digits=6, decimal_places=1)
    resolve_hours = models.DecimalField(_("résolution (heures ouvrées)"), max_digits=6, decimal_places=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["category", "priority"], name="helpdesk_deadline_unique",
                                    condition=models.Q(category__isnull=False)),
            models.UniqueConstraint(fields=["priority"], name="helpdesk_deadline_general_unique",
                                    condition=models.Q(category__isnull=True)),
        ]
        verbose_name = _("délai")
        verbose_name_plural = _("délais")

    def __str__(self):
        return f"{self.category or '*'} / {self.priority}: {self.take_charge_hours} h, {self.resolve_hours} h"


class SchoolHoliday(models.Model):
    """A period of school holidays of the académie (both days included): no working hours count."""

    name = models.CharField(_("nom"), max_length=80)
    start = models.DateField(_("premier jour"))
    end = models.DateField(_("dernier jour"))

    class Meta:
        ordering = ["start"]
        verbose_name = _("vacances scolaires")
        verbose_name_plural = _("vacances scolaires")

    def __str__(self):
        return f"{self.name} ({self.start:%d/%m/%Y} – {self.end:%d/%m/%Y})"


class Ticket(models.Model):
    """A help request from a school."""

    school = models.ForeignKey("territory.School", verbose_name=_("école"), on_delete=models.PROTECT,
                               related_name="tickets")
    school_class = models.ForeignKey("territory.SchoolClass", verbose_name=_("classe"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="tickets")
    category = models.ForeignKey(Category, verbose_name=_("problème"), on_delete=models.PROTECT,
                                 related_name="tickets")
    priority = models.CharField(_("priorité"), max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    title = models.CharField(_("titre"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    device = models.ForeignKey("fleet.Asset", verbose_name=_("appareil"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="tickets")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("demandeur"), null=True,
                                  on_delete=models.SET_NULL, related_name="tickets")
    status = models.CharField(_("statut"), max_length=16, choices=Status.choices, default=Status.NEW)
    party = models.CharField(_("responsable"), max_length=16, choices=Party.choices)
    party_commune = models.ForeignKey("territory.Commune", verbose_name=_("commune responsable"), null=True,
                                      blank=True, on_delete=models.PROTECT, related_name="+")
    party_circonscription = models.ForeignKey("territory.Circonscription", null=True, blank=True,
                                              verbose_name=_("circonscription responsable"),
                                              on_delete=models.PROTECT, related_name="+")
    party_workshop = models.ForeignKey("fleet.Site", verbose_name=_("atelier responsable"), null=True,
                                       blank=True, on_delete=models.PROTECT, related_name="+")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("technicien"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="assigned_tickets")
    created_at = models.DateTimeField(_("créée le"), db_index=True)
    updated_at = models.DateTimeField(_("mise à jour le"))
    taken_at = models.DateTimeField(_("prise en charge le"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("résolue le"), null=True, blank=True)
    closed_at = models.DateTimeField(_("close le"), null=True, blank=True)
    take_charge_due = models.DateTimeField(_("prise en charge avant"), null=True, blank=True)
    resolve_due = models.DateTimeField(_("résolution avant"), null=True, blank=True)
    paused_at = models.DateTimeField(_("en pause depuis"), null=True, blank=True)
    take_charge_breached = models.BooleanField(_("délai de prise en charge dépassé"), default=False)
    resolve_breached = models.BooleanField(_("délai de résolution dépassé"), default=False)
    warned_at = models.DateTimeField(_("alerte d'échéance envoyée le"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escaladée le"), null=True, blank=True)
    merged_into = models.ForeignKey("self", verbose_name=_("fusionnée dans"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="duplicates")
    replacement = models.ForeignKey("fleet.Asset", verbose_name=_("appareil de remplacement"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+")
    resolved_by_article = models.ForeignKey("Article", verbose_name=_("résolue par l'article"), null=True,
                                            blank=True, on_delete=models.SET_NULL, related_name="resolved_tickets")
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction (1 à 5)"), null=True, blank=True)
    satisfaction_comment = models.CharField(_("commentaire de satisfaction"), max_length=500, blank=True)
    reopen_count = models.PositiveSmallIntegerField(_("réouvertures"), default=0)
    # Working hours from creation, stored when it happens (the figures aggregate them in SQL).
    take_charge_hours = models.FloatField(_("prise en charge en (heures ouvrées)"), null=True, blank=True)
    resolve_hours = models.FloatField(_("résolue en (heures ouvrées)"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("demande d'assistance")
        verbose_name_plural = _("demandes d'assistance")
        indexes = [
            models.Index(fields=["party", "status", "-created_at"], name="helpdesk_queue_idx"),
            models.Index(fields=["party_commune", "status", "-created_at"], name="helpdesk_commune_q_idx"),
            models.Index(fields=["party_circonscription", "status", "-created_at"], name="helpdesk_circ_q_idx"),
            models.Index(fields=["party_workshop", "status", "-created_at"], name="helpdesk_workshop_q_idx"),
            models.Index(fields=["school", "-created_at"], name="helpdesk_school_idx"),
            models.Index(fields=["requester", "-created_at"], name="helpdesk_requester_idx"),
            models.Index(fields=["status", "resolve_due"], name="helpdesk_due_idx"),
            # Measured by bench/helpdesk.py (500,000 requests; docs/helpdesk-bench.md): "my requests" of a
            # technician (requester OR assignee, newest first), the queue filtered by category, by commune.
            models.Index(fields=["assignee", "-created_at"], name="helpdesk_assignee_idx"),
            models.Index(fields=["category", "status"], name="helpdesk_category_status_idx"),
            models.Index(fields=["school", "status"], name="helpdesk_school_status_idx"),
            # "my requests" filtered by status; the advisor's queue without a status filter: partial, so that
            # SQLite's statistics do not count the NULLs of the other parties' requests as one value.
            models.Index(fields=["assignee", "status"], name="helpdesk_assignee_status_idx"),
            models.Index(fields=["party_circonscription", "status"], name="helpdesk_circ_status_idx",
                         condition=models.Q(party_circonscription__isnull=False)),
        ]

    def __str__(self):
        return f"n° {self.pk} — {self.title}"

    @property
    def reference(self) -> str:
        return f"AS-{self.pk}"

    @property
    def is_open(self) -> bool:
        from .lifecycle import OPEN

        return self.status in OPEN


class TicketEvent(models.Model):
    """The history of a request: creation, status changes, assignment, routing, links, replacement…"""

    class Kind(models.TextChoices):
        CREATED = "created", _("créée")
        STATUS = "status", _("changement de statut")
        ASSIGNED = "assigned", _("attribuée")
        REASSIGNED = "reassigned", _("réorientée")
        LINKED = "linked", _("liée")
        MERGED = "merged", _("fusionnée")
        REPLACED = "replaced", _("appareil remplacé")
        WARNED = "warned", _("échéance proche")
        ESCALATED = "escalated", _("escaladée")
        SATISFACTION = "satisfaction", _("avis du demandeur")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("date"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    details = models.JSONField(default=dict, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["ticket", "at"], name="helpdesk_event_ticket_idx")]

    def __str__(self):
        return f"{self.ticket_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class Comment(models.Model):
    """A message on a request. Internal comments are for the parties only, never for the school; a
    commune sees no internal note of a pedagogy request."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField(_("message"))
    internal = models.BooleanField(_("note interne"), default=False)
    via_link = models.BooleanField(_("réponse par le lien du courriel"), default=False)
    created_at = models.DateTimeField(_("date"))

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="helpdesk_comment_ticket_idx")]

    def __str__(self):
        return f"{self.ticket_id}: {self.body[:40]}"


class Attachment(models.Model):
    """A photo or a PDF: checked by content (not by name), images re-encoded and resized, stored under a
    random name outside the static and media trees, served only through the request's access rules."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="attachments")
    stored_name = models.CharField(max_length=80, unique=True)
    original_name = models.CharField(_("nom du fichier"), max_length=200)
    content_type = models.CharField(_("type"), max_length=40)
    size = models.PositiveIntegerField(_("taille (octets)"))
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                    related_name="+")
    created_at = models.DateTimeField(_("date"))

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return self.original_name


class TicketLink(models.Model):
    """A link from a request to another request, another device, or a visit."""

    class Kind(models.TextChoices):
        TICKET = "ticket", _("autre demande")
        DEVICE = "device", _("appareil")
        VISIT = "visit", _("intervention sur place")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links")
    kind = models.CharField(_("type"), max_length=8, choices=Kind.choices)
    other = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    asset = models.ForeignKey("fleet.Asset", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    visit_on = models.DateField(_("date de l'intervention"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("date"))

    def __str__(self):
        return f"{self.ticket_id} → {self.kind}"


class Article(models.Model):
    """A knowledge-base answer in French. The articles that most often resolve a request come first."""

    title = models.CharField(_("titre"), max_length=200)
    slug = models.SlugField(_("adresse"), max_length=80, unique=True)
    summary = models.CharField(_("résumé"), max_length=300, blank=True)
    body = models.TextField(_("texte"))
    categories = models.ManyToManyField(Category, verbose_name=_("catégories"), blank=True,
                                        related_name="articles")
    published = models.BooleanField(_("publié"), default=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    updated_at = models.DateTimeField(_("mis à jour le"))
    useful_yes = models.PositiveIntegerField(_("utile"), default=0)
    useful_no = models.PositiveIntegerField(_("pas utile"), default=0)
    resolved_count = models.PositiveIntegerField(_("demandes résolues"), default=0)

    class Meta:
        ordering = ["-resolved_count", "-useful_yes", "title"]
        verbose_name = _("article d'aide")
        verbose_name_plural = _("articles d'aide")

    def __str__(self):
        return self.title


class ArticleVote(models.Model):
    """One "was this useful" answer per user and article (a second answer replaces the first)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    useful = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["article", "user"], name="helpdesk_one_vote")]

    def __str__(self):
        return f"{self.article_id}/{self.user_id}: {self.useful}"


class NotificationPreference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="helpdesk_preferences")
    new_in_queue = models.BooleanField(_("une nouvelle demande arrive dans ma file"), default=True)
    my_requests = models.BooleanField(_("mes demandes changent (réponse, statut)"), default=True)
    deadlines = models.BooleanField(_("une échéance approche ou est dépassée"), default=True)

    class Meta:
        verbose_name = _("préférences de notification")

    def __str__(self):
        return str(self.user)


class FigureSnapshot(models.Model):
    """The figures page of one scope (the whole territory, a set of communes, a set of circonscriptions),
    school year (0: every year) and commune filter (0: none), computed in the background and read by the
    page in one query (figures.py). `requested_at`: a refresh has been asked for and not done yet;
    `viewed_at`: last read (at most once a day), so snapshots nobody reads any more are dropped."""

    key = models.CharField(_("clé"), max_length=255, unique=True)
    scope = models.TextField(_("périmètre"))  # "c1,2,…": as long as the user's list of communes
    year = models.PositiveIntegerField(_("année scolaire"), default=0)
    commune_id = models.PositiveIntegerField(_("commune"), default=0)
    data = models.JSONField(_("chiffres"))
    computed_at = models.DateTimeField(_("calculés le"))
    duration_ms = models.PositiveIntegerField(_("durée du calcul (ms)"), default=0)
    requested_at = models.DateTimeField(_("actualisation demandée le"), null=True, blank=True)
    viewed_at = models.DateTimeField(_("consultés le"), null=True, blank=True)

    class Meta:
        verbose_name = _("chiffres calculés de l'assistance")
        verbose_name_plural = _("chiffres calculés de l'assistance")

    def __str__(self):
        return f"{self.key} ({self.computed_at:%Y-%m-%d %H:%M})"
