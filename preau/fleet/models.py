"""The fleet: device models, assets, the slots they fill, their timeline, requalification batches,
erasure certificates, recycling, agent inventories and room audits.

An asset keeps its tag and its history for life: a PC requalified into a thin client
is the same Asset with a new `category` (and origin "requalified"). Where an asset is
is one of: a class (school_class, with school set to the class's school), a school
(school only), or a site (a depot or a partner workshop). Status changes only through
preau.fleet.services (which checks preau.fleet.lifecycle and writes an AssetEvent and
an audit entry).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .lifecycle import Status


class Category(models.TextChoices):
    DESKTOP = "desktop", _("PC fixe")
    LAPTOP = "laptop", _("PC portable")
    THIN_CLIENT = "thin_client", _("client léger")
    PROJECTOR = "projector", _("vidéoprojecteur interactif")
    SCREEN = "screen", _("écran interactif")
    TABLET = "tablet", _("tablette")
    TABLET_CART = "tablet_cart", _("valise / chariot de tablettes")
    NAS = "nas", _("NAS")
    SWITCH = "switch", _("commutateur réseau")
    ACCESS_POINT = "access_point", _("borne Wi-Fi")
    PRINTER = "printer", _("imprimante")
    ROBOT_KIT = "robot_kit", _("kit de robotique")


# Categories that can be requalified into thin clients (they have a disk to erase and can boot from the network).
REQUALIFIABLE = (Category.DESKTOP, Category.LAPTOP)


class Origin(models.TextChoices):
    PURCHASED = "purchased", _("acheté")
    REQUALIFIED = "requalified", _("requalifié")
    DONATED = "donated", _("don / dotation")


class DeviceModel(models.Model):
    category = models.CharField(_("catégorie"), max_length=16, choices=Category.choices)
    maker = models.CharField(_("fabricant"), max_length=80)
    name = models.CharField(_("modèle"), max_length=120)
    cpu = models.CharField(_("processeur"), max_length=120, blank=True)
    cpu_64bit = models.BooleanField(_("processeur 64 bits"), null=True, blank=True)
    ram_mb = models.PositiveIntegerField(_("mémoire (Mo)"), null=True, blank=True)
    disk_gb = models.PositiveIntegerField(_("disque (Go)"), null=True, blank=True)
    netboot = models.BooleanField(_("démarrage réseau (PXE)"), null=True, blank=True)
    released_year = models.PositiveSmallIntegerField(_("année de sortie"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("modèle d'appareil")
        verbose_name_plural = _("modèles d'appareils")
        ordering = ["category", "maker", "name"]
        constraints = [models.UniqueConstraint(fields=["maker", "name"], name="unique_device_model")]

    def __str__(self) -> str:
        return f"{self.maker} {self.name}"


class Site(models.Model):
    """A place that is not a school: the agglomeration's depot, or a partner workshop."""

    class Kind(models.TextChoices):
        DEPOT = "depot", _("dépôt")
        WORKSHOP = "workshop", _("atelier partenaire")

    name = models.CharField(_("nom"), max_length=120, unique=True)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices)
    address = models.CharField(_("adresse"), max_length=300, blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("membres"), blank=True,
                                     related_name="sites",
                                     help_text=_("Comptes d'un atelier : ils voient les lots de cet atelier."))

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


class Asset(models.Model):
    tag = models.CharField(_("numéro d'inventaire"), max_length=32, unique=True)
    serial = models.CharField(_("numéro de série"), max_length=80, blank=True)
    model = models.ForeignKey(DeviceModel, verbose_name=_("modèle"), on_delete=models.PROTECT,
                              related_name="assets")
    category = models.CharField(_("catégorie"), max_length=16, choices=Category.choices, db_index=True)
    status = models.CharField(_("statut"), max_length=20, choices=Status.choices, default=Status.IN_STOCK)
    origin = models.CharField(_("origine"), max_length=12, choices=Origin.choices, default=Origin.PURCHASED)
    school = models.ForeignKey("territory.School", verbose_name=_("école"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="assets")
    school_class = models.ForeignKey("territory.SchoolClass", verbose_name=_("classe"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="assets")
    site = models.ForeignKey(Site, verbose_name=_("site"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="assets")
    purchased_on = models.DateField(_("date d'achat"), null=True, blank=True)
    warranty_until = models.DateField(_("fin de garantie"), null=True, blank=True)
    cost = models.DecimalField(_("coût (€)"), max_digits=9, decimal_places=2, null=True, blank=True)
    # What the machine itself says (agent inventory), over the model's catalogue values.
    hostname = models.CharField(_("nom de machine"), max_length=80, blank=True, db_index=True)
    system_uuid = models.CharField(_("UUID système"), max_length=40, blank=True)
    cpu = models.CharField(_("processeur"), max_length=120, blank=True)
    cpu_64bit = models.BooleanField(_("processeur 64 bits"), null=True, blank=True)
    ram_mb = models.PositiveIntegerField(_("mémoire (Mo)"), null=True, blank=True)
    disk_gb = models.PositiveIntegerField(_("disque (Go)"), null=True, blank=True)
    netboot = models.BooleanField(_("démarrage réseau (PXE)"), null=True, blank=True)
    os = models.CharField(_("système"), max_length=120, blank=True)
    last_inventory_at = models.DateTimeField(_("dernier inventaire"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("mis à jour le"), auto_now=True)

    class Meta:
        verbose_name = _("appareil")
        verbose_name_plural = _("appareils")
        ordering = ["tag"]
        constraints = [
            models.UniqueConstraint(fields=["serial"], condition=~Q(serial=""), name="unique_asset_serial"),
        ]
        indexes = [
            models.Index(fields=["school", "category", "status"]),
            models.Index(fields=["status", "category"]),
            models.Index(fields=["model", "status"]),
            models.Index(fields=["purchased_on"]),
            models.Index(fields=["site", "status"]),
            models.Index(fields=["system_uuid"]),
            models.Index(fields=["serial"]),  # the partial unique index is not used by plain lookups on SQLite
            # A rare status or the depot: the list pages in pk order; without these, both planners walk
            # the primary key past the other million rows (fleet bench: 200-280 ms → 35-50 ms).
            models.Index(fields=["status", "id"]),
            models.Index(fields=["site", "id"]),
        ]

    def __str__(self) -> str:
        return self.tag

    def spec(self, name: str):
        """The machine's own value when the agent reported it, else the model's catalogue value."""
        value = getattr(self, name)
        return value if value not in (None, "") else getattr(self.model, name)


class NetworkInterface(models.Model):
    """A real (non-virtual, non-null) MAC address of an asset, as the agent reported it: matching by MAC."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="interfaces")
    mac = models.CharField(_("adresse MAC"), max_length=17, unique=True)
    name = models.CharField(_("interface"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("interface réseau")
        verbose_name_plural = _("interfaces réseau")

    def __str__(self) -> str:
        return self.mac


class Slot(models.Model):
    """What a class or a school should hold ("thin client of the teacher of CM1-A"); an asset fills it."""

    school = models.ForeignKey("territory.School", verbose_name=_("école"), on_delete=models.CASCADE,
                               related_name="slots")
    school_class = models.ForeignKey("territory.SchoolClass", verbose_name=_("classe"), null=True, blank=True,
                                     on_delete=models.CASCADE, related_name="slots")
    category = models.CharField(_("catégorie"), max_length=16, choices=Category.choices)
    label = models.CharField(_("intitulé"), max_length=120)
    asset = models.OneToOneField(Asset, verbose_name=_("appareil"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="slot")

    class Meta:
        verbose_name = _("emplacement")
        verbose_name_plural = _("emplacements")
        ordering = ["school", "school_class", "category", "label"]
        indexes = [models.Index(fields=["school", "category"])]

    def __str__(self) -> str:
        return self.label


class RequalificationBatch(models.Model):
    class State(models.TextChoices):
        PLANNED = "planned", _("constitué")
        PICKED_UP = "picked_up", _("enlevé")
        RECEIVED = "received", _("réceptionné à l'atelier")
        RETURNED = "returned", _("retourné")
        CLOSED = "closed", _("clos (déployé)")

    reference = models.CharField(_("référence"), max_length=20, unique=True)
    workshop = models.ForeignKey(Site, verbose_name=_("atelier"), on_delete=models.PROTECT,
                                 related_name="batches", limit_choices_to={"kind": Site.Kind.WORKSHOP})
    state = models.CharField(_("état"), max_length=10, choices=State.choices, default=State.PLANNED)
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("créé par"), null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    picked_up_on = models.DateField(_("enlevé le"), null=True, blank=True)
    received_on = models.DateField(_("réceptionné le"), null=True, blank=True)
    returned_on = models.DateField(_("retourné le"), null=True, blank=True)
    closed_on = models.DateField(_("clos le"), null=True, blank=True)

    class Meta:
        verbose_name = _("lot de requalification")
        verbose_name_plural = _("lots de requalification")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.reference


class BatchItem(models.Model):
    class Eligibility(models.TextChoices):
        PENDING = "pending", _("à évaluer")
        ELIGIBLE = "eligible", _("éligible")
        INELIGIBLE = "ineligible", _("non éligible")

    class Result(models.TextChoices):
        PENDING = "pending", _("en cours")
        CONVERTED = "converted", _("converti en client léger")
        REJECTED = "rejected", _("rejeté (recyclage)")

    batch = models.ForeignKey(RequalificationBatch, on_delete=models.CASCADE, related_name="items")
    asset = models.ForeignKey(Asset, verbose_name=_("appareil"), on_delete=models.PROTECT,
                              related_name="batch_items")
    # Where the asset was when the batch was made: return and deployment put it back there.
    origin_school = models.ForeignKey("territory.School", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    origin_slot = models.ForeignKey(Slot, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    eligibility = models.CharField(_("éligibilité"), max_length=10, choices=Eligibility.choices,
                                   default=Eligibility.PENDING)
    reasons = models.JSONField(_("motifs"), default=list, blank=True)
    result = models.CharField(_("résultat"), max_length=10, choices=Result.choices, default=Result.PENDING)
    notes = models.CharField(_("notes"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("appareil du lot")
        verbose_name_plural = _("appareils du lot")
        ordering = ["batch", "asset__tag"]
        constraints = [models.UniqueConstraint(fields=["batch", "asset"], name="unique_batch_asset")]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.asset_id}"


class EligibilityRule(models.Model):
    """A configurable rule an asset must pass to be requalified (all active rules apply)."""

    class Criterion(models.TextChoices):
        CPU_64BIT = "cpu_64bit", _("processeur 64 bits exigé")
        MIN_RAM_MB = "min_ram_mb", _("mémoire minimale (Mo)")
        NETBOOT = "netboot", _("démarrage réseau (PXE) exigé")
        MAX_AGE_YEARS = "max_age_years", _("âge maximal (années)")
        MIN_DISK_GB = "min_disk_gb", _("disque minimal (Go)")

    criterion = models.CharField(_("critère"), max_length=16, choices=Criterion.choices, unique=True)
    value = models.PositiveIntegerField(_("valeur"), null=True, blank=True,
                                        help_text=_("Seuil pour les critères chiffrés."))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("règle d'éligibilité")
        verbose_name_plural = _("règles d'éligibilité")
        ordering = ["criterion"]

    def __str__(self) -> str:
        return f"{self.get_criterion_display()} {self.value or ''}".strip()


class ErasureCertificate(models.Model):
    """Secure erasure of one disk, per NIST SP 800-88 rev. 1 (clear, purge or destroy)."""

    class Method(models.TextChoices):
        CLEAR = "clear", _("effacement (clear)")
        PURGE = "purge", _("purge (purge)")
        DESTROY = "destroy", _("destruction physique (destroy)")

    class Verification(models.TextChoices):
        PASSED = "passed", _("vérifié, conforme")
        FAILED = "failed", _("vérification en échec")
        NOT_DONE = "not_done", _("non vérifié")

    asset = models.ForeignKey(Asset, verbose_name=_("appareil"), on_delete=models.PROTECT,
                              related_name="erasures")
    batch = models.ForeignKey(RequalificationBatch, verbose_name=_("lot"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="erasures")
    number = models.CharField(_("numéro de certificat"), max_length=40, unique=True)
    disk_serial = models.CharField(_("numéro de série du disque"), max_length=80)
    disk_model = models.CharField(_("modèle du disque"), max_length=120, blank=True)
    disk_size_gb = models.PositiveIntegerField(_("capacité (Go)"), null=True, blank=True)
    method = models.CharField(_("méthode (NIST SP 800-88)"), max_length=8, choices=Method.choices)
    tool = models.CharField(_("outil"), max_length=80, help_text=_("ex. nwipe 0.34, hdparm secure erase"))
    pattern = models.CharField(_("motif"), max_length=80, blank=True, help_text=_("ex. zéros, PRNG, DoD short"))
    passes = models.PositiveSmallIntegerField(_("passes"), default=1)
    verification = models.CharField(_("vérification"), max_length=10, choices=Verification.choices)
    operator = models.CharField(_("opérateur"), max_length=120)
    performed_on = models.DateField(_("date"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                    related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("certificat d'effacement")
        verbose_name_plural = _("certificats d'effacement")
        ordering = ["-performed_on", "number"]

    def __str__(self) -> str:
        return self.number


class RecyclingRecord(models.Model):
    """A device handed to a DEEE recycler (waste electrical and electronic equipment)."""

    asset = models.OneToOneField(Asset, verbose_name=_("appareil"), on_delete=models.PROTECT,
                                 related_name="recycling")
    batch = models.ForeignKey(RequalificationBatch, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="recyclings")
    weight_kg = models.DecimalField(_("poids (kg)"), max_digits=6, decimal_places=2)
    recycler = models.CharField(_("éco-organisme / recycleur"), max_length=120)
    certificate = models.CharField(_("bordereau / certificat"), max_length=80, blank=True)
    recycled_on = models.DateField(_("date"))

    class Meta:
        verbose_name = _("recyclage DEEE")
        verbose_name_plural = _("recyclages DEEE")

    def __str__(self) -> str:
        return f"{self.recycler} {self.certificate}".strip()


class AssetEvent(models.Model):
    """One line of an asset's timeline: who, when, what, why, and the linked batch, ticket or other asset."""

    class Kind(models.TextChoices):
        CREATED = "created", _("création")
        STATUS = "status", _("changement de statut")
        MOVED = "moved", _("déplacement")
        REPLACED = "replaced", _("remplacé")
        REPLACES = "replaces", _("remplace")
        REQUALIFIED = "requalified", _("requalifié")
        ERASED = "erased", _("effacement certifié")
        INVENTORY = "inventory", _("inventaire automatique")
        EDITED = "edited", _("modification")
        AUDIT = "audit", _("inventaire de salle")

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(_("date"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("par"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices)
    from_status = models.CharField(_("de"), max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(_("vers"), max_length=20, choices=Status.choices, blank=True)
    reason = models.CharField(_("motif"), max_length=300, blank=True)
    batch = models.ForeignKey(RequalificationBatch, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="events")
    ticket = models.CharField(_("demande liée"), max_length=40, blank=True)
    other_asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    details = models.JSONField(_("détails"), default=dict, blank=True)

    class Meta:
        verbose_name = _("événement")
        verbose_name_plural = _("événements")
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["asset", "-at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d}" if self.at else self.get_kind_display()


class AgentSubmission(models.Model):
    """One inventory an agent (FusionInventory or GLPI Agent) sent, and what Préau did with it."""

    class Format(models.TextChoices):
        FUSION_XML = "fusion_xml", _("FusionInventory (XML)")
        GLPI_JSON = "glpi_json", _("GLPI Agent (JSON)")

    class Outcome(models.TextChoices):
        MATCHED = "matched", _("appareil connu mis à jour")
        QUEUED = "queued", _("inconnu, à placer")
        PLACED = "placed", _("placé")
        REJECTED = "rejected", _("refusé")
        IGNORED = "ignored", _("écarté")

    received_at = models.DateTimeField(_("reçu le"), auto_now_add=True, db_index=True)
    format = models.CharField(_("format"), max_length=10, choices=Format.choices)
    deviceid = models.CharField(_("identifiant de l'agent"), max_length=120, db_index=True)
    agent_tag = models.CharField(_("TAG de l'agent"), max_length=40, blank=True)
    school = models.ForeignKey("territory.School", verbose_name=_("école"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="agent_submissions")
    asset = models.ForeignKey(Asset, verbose_name=_("appareil"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="agent_submissions")
    matched_by = models.CharField(_("rapproché par"), max_length=12, blank=True)
    outcome = models.CharField(_("résultat"), max_length=10, choices=Outcome.choices)
    message = models.CharField(_("message"), max_length=300, blank=True)
    remote_addr = models.GenericIPAddressField(_("adresse"), null=True, blank=True)
    data = models.JSONField(_("inventaire (résumé)"), default=dict, blank=True)

    class Meta:
        verbose_name = _("inventaire reçu")
        verbose_name_plural = _("inventaires reçus")
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["outcome", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.deviceid} ({self.get_outcome_display()})"


class RoomAudit(models.Model):
    """A walk through a class (or a school's shared rooms): what was seen against what should be there."""

    school = models.ForeignKey("territory.School", verbose_name=_("école"), on_delete=models.CASCADE,
                               related_name="room_audits")
    school_class = models.ForeignKey("territory.SchoolClass", verbose_name=_("classe"), null=True, blank=True,
                                     on_delete=models.CASCADE, related_name="room_audits")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("par"), null=True,
                             on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(_("commencé le"), auto_now_add=True)
    finished_at = models.DateTimeField(_("terminé le"), null=True, blank=True)
    expected = models.JSONField(_("attendus"), default=list, help_text=_("numéros d'inventaire attendus"))
    seen = models.JSONField(_("constatés"), default=list, help_text=_("numéros saisis, scannés ou cochés"))

    class Meta:
        verbose_name = _("inventaire de salle")
        verbose_name_plural = _("inventaires de salle")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.school_class or self.school} {self.started_at:%Y-%m-%d}" if self.started_at else str(self.school_class or self.school)
