from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FleetConfig(AppConfig):
    name = "preau.fleet"
    label = "fleet"
    verbose_name = _("Parc")

    def ready(self):
        from preau.core import stats

        from . import demo, jobs  # noqa: F401  (register the demo fleet and the import job)
        from .stats import fleet_stats

        stats.register("fleet", fleet_stats, dashboard=True)
