"""The figures page, /assistance/chiffres/: time to take charge and to resolve (medians in working hours),
breach rate per category, party and commune, satisfaction after closing, open requests by status; bars in
inline SVG (each with its table); filters: school year and commune; every table exports to CSV and XLSX.

Who: the agglomeration and committees (whole territory), commune staff (their communes' schools), advisors
(their circonscriptions' schools). Directors, teachers and workshops get a 403: a school's requests are on
its own pages, and figures over a handful of requests say little. The scope is access.tickets_for's.

The figures are read from snapshots computed in the background (snapshots.py): one query, whatever the
number of requests; the page says when they were computed.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from preau.accounts import access as territory_access
from preau.accounts.models import Role
from preau.core.exports import export_response

from . import figures, snapshots

ALLOWED = {Role.ADMIN, Role.TECHNICIAN, Role.COMMITTEE, Role.COMMUNE, Role.ADVISOR}
TABLES = {"category": gettext_lazy("Par catégorie"), "party": gettext_lazy("Par responsable"),
          "commune": gettext_lazy("Par commune")}
HEADINGS = {"category": gettext_lazy("Catégorie"), "party": gettext_lazy("Responsable"),
            "commune": gettext_lazy("Commune")}


def can_see_figures(user) -> bool:
    return user.is_authenticated and user.role in ALLOWED


def _hours(value) -> str:
    return "" if value is None else f"{value:.1f}".replace(".", ",")


def _export(fmt: str, name: str, data: figures.Figures):
    if name in figures.DIMENSIONS:
        headers = [str(HEADINGS[name]), _("Demandes"), _("Résolues"),
                   _("Délai dépassé"), _("Taux de dépassement (%)"), _("Prise en charge médiane (h ouvrées)"),
                   _("Résolution médiane (h ouvrées)")]
        rows = ([r.label, r.total, r.resolved, r.breached, r.breach_rate, r.take_median, r.resolve_median]
                for r in data.tables[name])
    elif name == "satisfaction":
        headers, rows = [_("Note sur 5"), _("Demandes")], data.satisfaction
    elif name == "status":
        headers, rows = [_("Statut"), _("Demandes ouvertes")], ((lab, n) for _s, lab, n in data.open_by_status)
    else:
        raise Http404(_("Tableau inconnu."))
    suffix = f"-{data.year}-{data.year + 1}" if data.year else ""
    return export_response(fmt, f"assistance-{name}{suffix}", headers, rows)


def refuse_unless_allowed(user) -> None:
    if not can_see_figures(user):
        raise PermissionDenied(_("Les chiffres de l'assistance sont réservés à l'agglomération, aux comités, "
                                 "aux communes et aux conseillers."))


def filters(user, params, strict: bool = False) -> tuple[list[int], int | None, object]:
    """(school years offered, the chosen one or None for every year, the commune or None) from `annee` and
    `commune` (INSEE; out of the user's scope: 404). An unknown year means the current one, or, with
    `strict` (the API), a ValueError naming the years offered."""
    years = snapshots.school_years()
    wanted = params.get("annee", "")
    if wanted == "tout":
        year = None
    elif wanted.isdigit() and int(wanted) in years:
        year = int(wanted)
    elif strict and wanted:
        raise ValueError(_("Année scolaire « %(a)s » inconnue : « tout » ou l'une de %(y)s.")
                         % {"a": wanted, "y": ", ".join(str(y) for y in years)})
    else:
        year = years[0]
    commune = None
    if params.get("commune"):
        commune = get_object_or_404(territory_access.communes_for(user), insee=params["commune"])
    return years, year, commune


@login_required
def figures_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    refuse_unless_allowed(user)
    years, year, commune = filters(user, request.GET)
    communes = list(territory_access.communes_for(user).order_by("name").values_list("insee", "name"))
    data = snapshots.for_page(user, year, commune)
    fmt = request.GET.get("format", "")
    if fmt in ("csv", "xlsx"):
        return _export(fmt, request.GET.get("tableau", ""), data)
    categories = data.tables.get("category", [])
    chart_resolve = figures.bars([(r.label, r.resolve_median, _("%(h)s h") % {"h": _hours(r.resolve_median)}
                                   if r.resolve_median is not None else "—") for r in categories])
    chart_breach = figures.bars([(r.label, r.breach_rate, f"{r.breach_rate} %" if r.breach_rate is not None
                                  else "—") for r in categories])
    chart_status = figures.bars([(lab, n, str(n)) for _s, lab, n in data.open_by_status])
    rated = max((n for _m, n in data.satisfaction), default=0) or 1
    return render(request, "helpdesk/figures.html", {
        "data": data, "years": years, "year": year, "communes": communes, "commune": commune,
        "tables": [(key, label, data.tables.get(key, [])) for key, label in TABLES.items()],
        "chart_resolve": chart_resolve, "chart_breach": chart_breach, "chart_status": chart_status,
        "satisfaction": [(m, n, round(100 * n / rated)) for m, n in data.satisfaction],
        "query": urlencode({k: v for k, v in request.GET.items() if k in ("annee", "commune")}),
    })
