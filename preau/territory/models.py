"""The territory: EPCI, communes, circonscriptions, schools, classes and each school's connectivity."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import codes


def validate_uai(value: str) -> None:
    error = codes.uai_error(value)
    if error:
        raise ValidationError(error)


def validate_insee(value: str) -> None:
    error = codes.insee_error(value)
    if error:
        raise ValidationError(error)


def validate_siren(value: str) -> None:
    error = codes.siren_error(value)
    if error:
        raise ValidationError(error)


class Stratum(models.TextChoices):
    """Size strata used by the plan (the speech: from under 500 to over 3,500, plus the central city)."""

    UNDER_500 = "s1", _("moins de 500 hab.")
    UNDER_1500 = "s2", _("500 à 1 499 hab.")
    UNDER_3500 = "s3", _("1 500 à 3 499 hab.")
    OVER_3500 = "s4", _("3 500 hab. et plus")
    CITY = "s5", _("ville-centre (50 000 hab. et plus)")


def stratum_for(population: int | None) -> str:
    p = population or 0
    if p < 500:
        return Stratum.UNDER_500
    if p < 1500:
        return Stratum.UNDER_1500
    if p < 3500:
        return Stratum.UNDER_3500
    if p < 50000:
        return Stratum.OVER_3500
    return Stratum.CITY


class FibreNetwork(models.TextChoices):
    RIP = "rip", _("réseau public (RIP THD42)")
    AMII = "amii", _("zone d'opérateur privé (AMII, Orange)")
    ZTD = "ztd", _("zone très dense")
    NONE = "none", _("pas de réseau fibre")
    UNKNOWN = "", _("inconnu")


class Epci(models.Model):
    siren = models.CharField(_("SIREN"), max_length=9, unique=True, validators=[validate_siren])
    name = models.CharField(_("nom"), max_length=200)
    kind = models.CharField(_("type"), max_length=10, blank=True, help_text=_("ME, CU, CA, CC…"))
    population = models.PositiveIntegerField(_("population"), null=True, blank=True)

    class Meta:
        verbose_name = _("EPCI")
        verbose_name_plural = _("EPCI")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Commune(models.Model):
    insee = models.CharField(_("code INSEE"), max_length=5, unique=True, validators=[validate_insee])
    name = models.CharField(_("nom"), max_length=200, db_index=True)
    department = models.CharField(_("département"), max_length=3, blank=True)
    population = models.PositiveIntegerField(_("population"), null=True, blank=True)
    stratum = models.CharField(_("strate"), max_length=2, choices=Stratum.choices, blank=True)
    siren = models.CharField(_("SIREN"), max_length=9, blank=True)
    postal_codes = models.CharField(_("codes postaux"), max_length=200, blank=True)
    former_codes = models.CharField(
        _("anciens codes INSEE"), max_length=1000, blank=True,
        help_text=_("codes INSEE des anciennes communes fusionnées dans celle-ci (commune nouvelle), séparés par "
                    "des espaces ; les fichiers d'écoles qui les emploient encore sont rattachés à cette commune"))
    epci = models.ForeignKey(Epci, verbose_name=_("EPCI"), null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="communes")
    # Fibre, per commune, from the ARCEP observatory.
    fibre_network = models.CharField(_("réseau fibre"), max_length=4, choices=FibreNetwork.choices, blank=True)
    fibre_operator = models.CharField(_("opérateur d'infrastructure"), max_length=20, blank=True)
    fibre_premises = models.PositiveIntegerField(_("locaux raccordables"), null=True, blank=True)
    fibre_housing = models.PositiveIntegerField(_("logements"), null=True, blank=True)
    fibre_period = models.CharField(_("période ARCEP"), max_length=20, blank=True)
    # Map: a GeoJSON geometry (WGS84) when boundaries were imported, else a centroid computed from schools.
    boundary = models.JSONField(_("contour"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)

    class Meta:
        verbose_name = _("commune")
        verbose_name_plural = _("communes")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.insee})"

    @property
    def fibre_coverage(self) -> float | None:
        if self.fibre_premises is None or not self.fibre_housing:
            return None
        return min(1.0, self.fibre_premises / self.fibre_housing)


class Circonscription(models.Model):
    """An Éducation nationale district of primary schools (headed by an IEN)."""

    name = models.CharField(_("nom"), max_length=200, unique=True)
    department = models.CharField(_("département"), max_length=3, blank=True)

    class Meta:
        verbose_name = _("circonscription")
        verbose_name_plural = _("circonscriptions")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SchoolKind(models.TextChoices):
    MATERNELLE = "maternelle", _("maternelle")
    ELEMENTAIRE = "elementaire", _("élémentaire")
    PRIMAIRE = "primaire", _("primaire")


class Sector(models.TextChoices):
    PUBLIC = "public", _("public")
    PRIVATE = "private", _("privé")


class Contract(models.TextChoices):
    NONE = "", _("sans objet")
    ASSOCIATION = "association", _("sous contrat d'association")
    SIMPLE = "simple", _("sous contrat simple")
    OUTSIDE = "outside", _("hors contrat")


class School(models.Model):
    uai = models.CharField(_("UAI"), max_length=8, unique=True, validators=[validate_uai])
    name = models.CharField(_("nom"), max_length=200, db_index=True)
    kind = models.CharField(_("type"), max_length=12, choices=SchoolKind.choices, default=SchoolKind.PRIMAIRE)
    sector = models.CharField(_("secteur"), max_length=8, choices=Sector.choices, default=Sector.PUBLIC)
    contract = models.CharField(_("contrat"), max_length=12, choices=Contract.choices, blank=True)
    address = models.CharField(_("adresse"), max_length=300, blank=True)
    postal_code = models.CharField(_("code postal"), max_length=5, blank=True)
    commune = models.ForeignKey(Commune, verbose_name=_("commune"), on_delete=models.PROTECT,
                                related_name="schools")
    circonscription = models.ForeignKey(Circonscription, verbose_name=_("circonscription"), null=True,
                                        blank=True, on_delete=models.SET_NULL, related_name="schools")
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    pupils = models.PositiveIntegerField(_("nombre d'élèves"), null=True, blank=True)
    ips = models.DecimalField(_("IPS"), max_digits=5, decimal_places=1, null=True, blank=True,
                              help_text=_("indice de position sociale (DEPP)"))
    phone = models.CharField(_("téléphone"), max_length=30, blank=True)
    email = models.EmailField(_("courriel"), blank=True)
    website = models.URLField(_("site web"), blank=True)
    opened_on = models.DateField(_("date d'ouverture"), null=True, blank=True)
    closed_on = models.DateField(_("date de fermeture"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("école")
        verbose_name_plural = _("écoles")
        ordering = ["name", "uai"]
        indexes = [models.Index(fields=["commune", "name"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.uai})"

    @property
    def is_open(self) -> bool:
        return self.closed_on is None


class Level(models.TextChoices):
    PS = "PS", _("petite section")
    MS = "MS", _("moyenne section")
    GS = "GS", _("grande section")
    CP = "CP", "CP"
    CE1 = "CE1", "CE1"
    CE2 = "CE2", "CE2"
    CM1 = "CM1", "CM1"
    CM2 = "CM2", "CM2"
    MATERNELLE = "MAT", _("maternelle (multiniveau)")
    ELEMENTAIRE = "ELE", _("élémentaire (multiniveau)")
    ULIS = "ULIS", _("ULIS")


def current_school_year(today=None) -> int:
    """The year of the current school year's start (rentrée): 2026 from August 2026 to July 2027."""
    from django.utils import timezone

    today = today or timezone.localdate()
    return today.year if today.month >= 8 else today.year - 1


class SchoolClass(models.Model):
    school = models.ForeignKey(School, verbose_name=_("école"), on_delete=models.CASCADE, related_name="classes")
    year = models.PositiveSmallIntegerField(_("année scolaire"), help_text=_("année de la rentrée, ex. 2026 pour 2026-2027"))
    name = models.CharField(_("nom"), max_length=60)
    level = models.CharField(_("niveau"), max_length=4, choices=Level.choices)
    pupils = models.PositiveSmallIntegerField(_("élèves"), null=True, blank=True)

    class Meta:
        verbose_name = _("classe")
        verbose_name_plural = _("classes")
        ordering = ["school", "-year", "name"]
        constraints = [models.UniqueConstraint(fields=["school", "year", "name"], name="unique_class_name_per_year")]

    def __str__(self) -> str:
        return f"{self.name} ({self.year}-{self.year + 1})"


class Access(models.TextChoices):
    FIBRE = "fibre", _("fibre")
    ADSL = "adsl", _("ADSL / cuivre")
    MOBILE = "4g", _("4G")
    SATELLITE = "satellite", _("satellite")
    NONE = "none", _("aucun accès")
    UNKNOWN = "", _("inconnu")


class ConnectivitySource(models.TextChoices):
    MANUAL = "manual", _("saisie")
    ARCEP = "arcep", _("ARCEP (par commune)")
    DEMO = "demo", _("démonstration")


class Connectivity(models.Model):
    school = models.OneToOneField(School, verbose_name=_("école"), on_delete=models.CASCADE,
                                  related_name="connectivity", primary_key=True)
    access = models.CharField(_("accès"), max_length=10, choices=Access.choices, blank=True)
    network = models.CharField(_("réseau"), max_length=4, choices=FibreNetwork.choices, blank=True)
    operator = models.CharField(_("opérateur"), max_length=60, blank=True)
    bandwidth_mbps = models.PositiveIntegerField(_("débit (Mbit/s)"), null=True, blank=True)
    connected_on = models.DateField(_("raccordée le"), null=True, blank=True)
    planned_on = models.DateField(_("raccordement prévu le"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=ConnectivitySource.choices, blank=True)
    updated_at = models.DateTimeField(_("mis à jour"), auto_now=True)

    class Meta:
        verbose_name = _("connectivité")
        verbose_name_plural = _("connectivités")

    def __str__(self) -> str:
        return f"{self.school_id}: {self.get_access_display()}"

    @property
    def has_fibre(self) -> bool:
        return self.access == Access.FIBRE
