"""Audit log: who changed what, when, with before/after JSON. Written only by preau.core.audit."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", _("création")
        UPDATE = "update", _("modification")
        DELETE = "delete", _("suppression")
        IMPORT = "import", _("import")

    at = models.DateTimeField(_("date"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("utilisateur"), null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    object_type = models.CharField(_("type d'objet"), max_length=60, db_index=True)
    object_id = models.CharField(_("identifiant"), max_length=64, db_index=True)
    object_repr = models.CharField(_("objet"), max_length=200)
    before = models.JSONField(_("avant"), null=True, blank=True)
    after = models.JSONField(_("après"), null=True, blank=True)
    note = models.CharField(_("remarque"), max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("entrée du journal")
        verbose_name_plural = _("journal des modifications")
        indexes = [models.Index(fields=["object_type", "object_id", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"


class Job(models.Model):
    """A long piece of work (an import, later bundle builds and releases) with progress and cancel.

    Claimed with a conditional UPDATE (status queued -> running), so any number
    of `preau worker` processes, or a thread of the web process in development,
    can run jobs without a broker.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("en attente")
        RUNNING = "running", _("en cours")
        DONE = "done", _("terminée")
        FAILED = "failed", _("échouée")
        CANCELLED = "cancelled", _("annulée")

    kind = models.CharField(_("type"), max_length=40)
    params = models.JSONField(_("paramètres"), default=dict)
    status = models.CharField(_("état"), max_length=10, choices=Status.choices, default=Status.QUEUED,
                              db_index=True)
    done = models.PositiveIntegerField(_("fait"), default=0)
    total = models.PositiveIntegerField(_("total"), default=0)
    message = models.CharField(_("message"), max_length=300, blank=True)
    result = models.JSONField(_("résultat"), null=True, blank=True)
    error = models.TextField(_("erreur"), blank=True)
    cancel_requested = models.BooleanField(_("annulation demandée"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("lancée par"), null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    started_at = models.DateTimeField(_("démarrée le"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finie le"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("tâche")
        verbose_name_plural = _("tâches")

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.CANCELLED)
