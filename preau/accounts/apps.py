from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "preau.accounts"
    label = "accounts"
    verbose_name = _("Comptes")

    def ready(self) -> None:
        from . import demo  # noqa: F401  (registers the demo accounts)
