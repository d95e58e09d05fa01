"""Template context shared by every page: the navigation the user may see."""

from django.urls import reverse
from django.utils.translation import gettext as _


def nav(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [
        (reverse("home"), _("Tableau de bord")),
        (reverse("territory:map"), _("Carte")),
        (reverse("territory:communes"), _("Communes")),
        (reverse("territory:schools"), _("Écoles")),
    ]
    if user.can_import:
        items.append((reverse("territory:imports"), _("Imports")))
    if user.is_admin:
        items.append((reverse("core:audit"), _("Journal")))
    return {"nav_items": items}
