from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContentsConfig(AppConfig):
    name = "preau.contents"
    label = "contents"
    verbose_name = _("Contenus")

    def ready(self):
        from preau.core import stats

        from . import demo, jobs  # noqa: F401  (register the demo contents and the publish job)
        from .stats import contents_stats

        stats.register("contents", contents_stats)
