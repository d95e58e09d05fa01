from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContentsConfig(AppConfig):
    name = "preau.contents"
    label = "contents"
    verbose_name = _("Contenus")

    def ready(self):
        from . import jobs  # noqa: F401  (registers the publish job)
