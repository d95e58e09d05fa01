from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HelpdeskConfig(AppConfig):
    name = "preau.helpdesk"
    label = "helpdesk"
    verbose_name = _("Assistance")

    def ready(self):
        from preau.core import stats

        from . import demo, jobs  # noqa: F401  (register the demo requests and articles, the figures job)
        from .stats import dashboard_counts, helpdesk_stats

        stats.register("helpdesk", helpdesk_stats, dashboard=dashboard_counts)
