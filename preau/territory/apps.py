from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TerritoryConfig(AppConfig):
    name = "preau.territory"
    label = "territory"
    verbose_name = _("Territoire")

    def ready(self) -> None:
        from preau.core import stats

        from . import demo, jobs  # noqa: F401  (register the demo territory and the import jobs)
        from .stats import territory_stats

        stats.register("territory", territory_stats, dashboard=True)
