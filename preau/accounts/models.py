"""Users, their role and their scope (communes, circonscriptions or one school).

What a user may see is decided only in `preau.accounts.access` from these fields.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Équipe numérique de l'agglomération")
    TECHNICIAN = "technician", _("Technicien / opérateur")
    COMMUNE = "commune", _("Agent communal")
    ADVISOR = "advisor", _("Éducation nationale (conseiller, inspecteur)")
    DIRECTOR = "director", _("Directeur d'école")
    TEACHER = "teacher", _("Enseignant")
    WORKSHOP = "workshop", _("Atelier partenaire")
    COMMITTEE = "committee", _("Membre de comité")


# Roles that see the whole territory.
TERRITORY_WIDE = {Role.ADMIN, Role.TECHNICIAN, Role.COMMITTEE}


class User(AbstractUser):
    role = models.CharField(_("rôle"), max_length=20, choices=Role.choices, default=Role.TEACHER)
    communes = models.ManyToManyField(
        "territory.Commune", verbose_name=_("communes"), blank=True, related_name="staff",
        help_text=_("Pour un agent communal : les communes dont il voit les écoles."),
    )
    circonscriptions = models.ManyToManyField(
        "territory.Circonscription", verbose_name=_("circonscriptions"), blank=True, related_name="advisors",
        help_text=_("Pour l'Éducation nationale : les circonscriptions suivies."),
    )
    school = models.ForeignKey(
        "territory.School", verbose_name=_("école"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="staff", help_text=_("Pour un directeur ou un enseignant : son école."),
    )
    organisation = models.CharField(_("organisme"), max_length=120, blank=True,
                                    help_text=_("Pour un atelier partenaire : son nom."))

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")

    @property
    def is_admin(self) -> bool:
        return self.is_superuser or self.role == Role.ADMIN

    @property
    def sees_whole_territory(self) -> bool:
        return self.is_superuser or self.role in TERRITORY_WIDE

    @property
    def can_import(self) -> bool:
        return self.is_admin

    def __str__(self) -> str:
        return self.get_full_name() or self.username
