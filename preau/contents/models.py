"""Contents on every school NAS: collections and their releases, who subscribes, each school's NAS
node (enrolment, credentials, check-ins) and what it holds, and every delivery (online or by a tour).

The bytes live in the content store of the engine (`preau_nas`, no Django), under
settings.PREAU_CONTENT_STORE; a Release row records one published version of a collection (its
signed manifest id) and who published it.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Collection(models.Model):
    slug = models.SlugField(_("identifiant"), max_length=60, unique=True,
                            help_text=_("Nom de la collection dans le magasin et sur les NAS (lettres, chiffres, -)."))
    name = models.CharField(_("nom"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("collection")
        verbose_name_plural = _("collections")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Release(models.Model):
    collection = models.ForeignKey(Collection, verbose_name=_("collection"), on_delete=models.PROTECT,
                                   related_name="releases")
    version = models.PositiveIntegerField(_("version"))
    manifest = models.CharField(_("manifeste"), max_length=80, help_text=_("identifiant du manifeste signé"))
    notes = models.TextField(_("notes de version"), blank=True)
    total_bytes = models.BigIntegerField(_("taille"), default=0)
    new_bytes = models.BigIntegerField(_("octets nouveaux"), default=0,
                                       help_text=_("stockés en plus par rapport à la version précédente"))
    files = models.PositiveIntegerField(_("fichiers"), default=0)
    published_at = models.DateTimeField(_("publiée le"), auto_now_add=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("publiée par"), null=True,
                                     on_delete=models.SET_NULL, related_name="+")
    withdrawn_at = models.DateTimeField(_("retirée le"), null=True, blank=True)
    withdraw_reason = models.CharField(_("motif du retrait"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("version publiée")
        verbose_name_plural = _("versions publiées")
        ordering = ["collection", "-version"]
        constraints = [models.UniqueConstraint(fields=["collection", "version"], name="unique_release_version")]

    def __str__(self) -> str:
        return f"{self.collection.slug} v{self.version}"


class Subscription(models.Model):
    """Which schools receive a collection: all of them, a commune's, a kind of school, or one school."""

    class Scope(models.TextChoices):
        ALL = "all", _("toutes les écoles")
        COMMUNE = "commune", _("les écoles d'une commune")
        KIND = "kind", _("un type d'école")
        SCHOOL = "school", _("une école")

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="subscriptions")
    scope = models.CharField(_("portée"), max_length=8, choices=Scope.choices, default=Scope.ALL)
    commune = models.ForeignKey("territory.Commune", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    school_kind = models.CharField(_("type d'école"), max_length=12, blank=True)
    school = models.ForeignKey("territory.School", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="+")

    class Meta:
        verbose_name = _("abonnement")
        verbose_name_plural = _("abonnements")

    def __str__(self) -> str:
        return f"{self.collection_id}: {self.get_scope_display()}"


class NasNode(models.Model):
    """A school's NAS, as the platform knows it: enrolment, credentials (hashed), mode, last check-in."""

    class Mode(models.TextChoices):
        AUTO = "auto", _("selon la connectivité")
        ONLINE = "online", _("en ligne (tire lui-même)")
        OFFLINE = "offline", _("hors ligne (tournées)")

    school = models.OneToOneField("territory.School", verbose_name=_("école"), on_delete=models.CASCADE,
                                  related_name="nas_node")
    node_id = models.CharField(_("identifiant du NAS"), max_length=40, unique=True)
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices, default=Mode.AUTO)
    enrolment_code_hash = models.CharField(max_length=128, blank=True)
    enrolment_expires_at = models.DateTimeField(null=True, blank=True)
    credential_hash = models.CharField(max_length=128, blank=True)
    public_key = models.CharField(_("clé publique du NAS"), max_length=80, blank=True,
                                  help_text=_("Ed25519, signe les accusés de réception des tournées"))
    enrolled_at = models.DateTimeField(_("enrôlé le"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("révoqué le"), null=True, blank=True)
    # Not indexed: every check-in writes it, and without an index on the columns a check-in changes PostgreSQL
    # updates the row in place (a HOT update); the silent NAS are found by a scan of the nodes in scope.
    last_checkin_at = models.DateTimeField(_("dernier contact"), null=True, blank=True)
    last_checkin_seq = models.BigIntegerField(default=0, help_text=_("compteur du dernier contact (rejeu refusé)"))
    agent_version = models.CharField(_("version de l'agent"), max_length=40, blank=True)
    disk_free_bytes = models.BigIntegerField(_("espace libre"), null=True, blank=True)
    last_error = models.CharField(_("dernière erreur"), max_length=500, blank=True)
    held = models.JSONField(_("versions détenues"), default=dict, blank=True,
                            help_text=_("{collection: version} d'après le dernier contact ou accusé"))

    class Meta:
        verbose_name = _("NAS d'école")
        verbose_name_plural = _("NAS d'école")
        ordering = ["school__name"]

    def __str__(self) -> str:
        return self.node_id

    @property
    def is_active(self) -> bool:
        return self.enrolled_at is not None and self.revoked_at is None


class Delivery(models.Model):
    """A release that reached a school's NAS, online or by an operator's tour (counted once)."""

    class Via(models.TextChoices):
        ONLINE = "online", _("en ligne")
        TOUR = "tour", _("tournée (disque USB)")

    node = models.ForeignKey(NasNode, on_delete=models.CASCADE, related_name="deliveries")
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="deliveries")
    via = models.CharField(_("par"), max_length=8, choices=Via.choices)
    tour = models.CharField(_("tournée"), max_length=40, blank=True)
    delivered_at = models.DateTimeField(_("livrée le"))

    class Meta:
        verbose_name = _("livraison")
        verbose_name_plural = _("livraisons")
        ordering = ["-delivered_at"]
        constraints = [models.UniqueConstraint(fields=["node", "release"], name="unique_delivery")]

    def __str__(self) -> str:
        return f"{self.node_id} ← {self.release_id}"


class Tour(models.Model):
    """An operator's tour: offline schools visited in order with one USB bundle, receipts brought back."""

    class State(models.TextChoices):
        PLANNED = "planned", _("prévue")
        BUNDLE_READY = "bundle_ready", _("disque prêt")
        ON_TOUR = "on_tour", _("en tournée")
        DONE = "done", _("terminée")

    name = models.CharField(_("nom"), max_length=40, unique=True)
    planned_on = models.DateField(_("prévue le"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("créée par"), null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    state = models.CharField(_("état"), max_length=12, choices=State.choices, default=State.PLANNED)
    bundle_path = models.CharField(_("dossier du disque"), max_length=500, blank=True)
    bundle_id = models.CharField(_("identifiant du disque"), max_length=80, blank=True)
    bundle_bytes = models.BigIntegerField(_("taille du disque"), default=0)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_ingest = models.JSONField(_("dernier relevé des accusés"), default=dict, blank=True)

    class Meta:
        verbose_name = _("tournée")
        verbose_name_plural = _("tournées")
        ordering = ["-planned_on", "-created_at"]

    def __str__(self) -> str:
        return self.name


class TourStop(models.Model):
    tour = models.ForeignKey(Tour, on_delete=models.CASCADE, related_name="stops")
    school = models.ForeignKey("territory.School", verbose_name=_("école"), on_delete=models.CASCADE,
                               related_name="+")
    order = models.PositiveSmallIntegerField(_("ordre"))
    needs = models.JSONField(_("besoins"), default=dict, blank=True,
                             help_text=_("{collection: {held: version ou null, target: version}}"))

    class Meta:
        verbose_name = _("étape de tournée")
        verbose_name_plural = _("étapes de tournée")
        ordering = ["tour", "order"]
        constraints = [models.UniqueConstraint(fields=["tour", "school"], name="unique_tour_stop")]

    def __str__(self) -> str:
        return f"{self.tour_id} #{self.order}"


class OfferGeneration(models.Model):
    """One row, renewed (a random value) in the writer's own transaction by every save or delete of a
    collection, release or subscription, and read by every check-in with its node: each process rebuilds its table of offers when
    the value it read moves (services.offer_table)."""

    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.value)
