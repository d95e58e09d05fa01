"""Territory pages: map, communes, schools, search. Objects only through preau.accounts.access."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from preau.accounts import access
from preau.contents.freshness import school_block as school_contents
from preau.core.audit import history
from preau.core.exports import export_response
from preau.core.pagination import paginate
from preau.fleet.views_assets import school_equipment
from preau.helpdesk.blocks import school_tickets

from . import maps, services
from .filters import CommuneFilter, SchoolFilter
from .forms import ConnectivityForm
from .models import Access, current_school_year


def _school_rows(qs):
    return qs.select_related("commune", "circonscription", "connectivity")


def _with_class_count(qs):
    """Classes of the current school year, as the API counts them."""
    return qs.annotate(class_count=Count("classes", filter=Q(classes__year=current_school_year())))


@login_required
def territory_map(request: HttpRequest) -> HttpResponse:
    """All schools of the user's scope as points coloured by connectivity, over commune boundaries.

    Two queries whatever the number of schools (communes, schools+connectivity)."""
    schools = list(
        SchoolFilter(request.GET, queryset=access.schools_for(request.user), request=request).qs
        .filter(lat__isnull=False, lon__isnull=False)
        .values_list("uai", "name", "lat", "lon", "connectivity__access", "connectivity__planned_on")
    )
    communes = list(access.communes_for(request.user).filter(boundary__isnull=False)
                    .values_list("insee", "name", "boundary"))
    lons = [s[3] for s in schools]
    lats = [s[2] for s in schools]
    for _insee, _name, geometry in communes:
        glons, glats = maps.geometry_bounds(geometry)
        lons += glons
        lats += glats
    project = maps.Projection(lons, lats)
    shapes = [(insee, name, maps.svg_path(geometry, project)) for insee, name, geometry in communes]
    points, counts = [], dict.fromkeys(maps.STATUS_LABELS, 0)
    for uai, name, lat, lon, acc, planned in schools:
        status = maps.school_status(acc, planned)
        counts[status] += 1
        x, y = project(lon, lat)
        points.append((f"{x:.1f}", f"{y:.1f}", status, name, uai))
    legend = [(key, label, counts[key]) for key, label in maps.STATUS_LABELS.items()]
    return render(request, "territory/map.html", {
        "width": f"{project.width:.0f}", "height": f"{project.height:.0f}",
        "shapes": shapes, "points": points, "legend": legend, "linked": len(points) <= 600,
        "radius": 4 if len(points) <= 600 else 2,
    })


@login_required
def commune_list(request: HttpRequest) -> HttpResponse:
    qs = access.communes_for(request.user).select_related("epci").annotate(
        school_count=Count("schools", filter=access.visible_schools_q(request.user), distinct=True),
        fibre_count=Count("schools", filter=access.visible_schools_q(request.user)
                          & Q(schools__connectivity__access=Access.FIBRE), distinct=True),
    )
    filterset = CommuneFilter(request.GET, queryset=qs, request=request)
    return render(request, "territory/commune_list.html", {
        "filter": filterset, "page": paginate(request, filterset.qs.order_by("name")),
    })


@login_required
def commune_detail(request: HttpRequest, insee: str) -> HttpResponse:
    commune = access.get_commune(request.user, insee)
    schools = _with_class_count(_school_rows(access.schools_for(request.user).filter(commune=commune)))
    return render(request, "territory/commune_detail.html", {"commune": commune, "schools": schools})


@login_required
def school_list(request: HttpRequest) -> HttpResponse:
    filterset = SchoolFilter(request.GET, queryset=_school_rows(access.schools_for(request.user)),
                             request=request)
    qs = _with_class_count(filterset.qs)
    if not request.GET.get("ordering"):
        qs = qs.order_by("name", "uai")
    return render(request, "territory/school_list.html", {"filter": filterset, "page": paginate(request, qs)})


EXPORT_HEADERS = ["UAI", "Nom", "Type", "Secteur", "Contrat", "Commune", "Code INSEE", "Circonscription",
                  "Adresse", "Code postal", "Latitude", "Longitude", "Élèves", "IPS", "Accès", "Réseau",
                  "Débit (Mbit/s)", "Raccordée le", "Raccordement prévu le"]


@login_required
def school_export(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in ("csv", "xlsx"):
        raise Http404(_("Format d'export inconnu : csv ou xlsx."))
    filterset = SchoolFilter(request.GET, queryset=_school_rows(access.schools_for(request.user)),
                             request=request)

    def rows():
        for s in filterset.qs.order_by("commune__name", "name").iterator(chunk_size=2000):
            c = getattr(s, "connectivity", None)
            yield [s.uai, s.name, s.get_kind_display(), s.get_sector_display(), s.get_contract_display(),
                   s.commune.name, s.commune.insee, s.circonscription.name if s.circonscription else "",
                   s.address, s.postal_code, s.lat, s.lon, s.pupils, s.ips,
                   c.get_access_display() if c else "", c.get_network_display() if c else "",
                   c.bandwidth_mbps if c else None, c.connected_on if c else None, c.planned_on if c else None]

    return export_response(fmt, "ecoles", EXPORT_HEADERS, rows())


@login_required
def school_detail(request: HttpRequest, uai: str) -> HttpResponse:
    school = access.get_school(request.user, uai)
    connectivity = getattr(school, "connectivity", None)
    classes = school.classes.all().order_by("-year", "name")
    return render(request, "territory/school_detail.html", {
        "school": school, "connectivity": connectivity, "classes": classes,
        "can_edit": access.can_edit_school(request.user, school),
        "staff": school.staff.filter(is_active=True).order_by("role", "last_name"),
        "history": history(school)[:20] if request.user.is_admin else [],
        "equipment": school_equipment(request.user, school),
        "contents": school_contents(request.user, school),
        "tickets": school_tickets(request.user, school),
    })


@login_required
def connectivity_edit(request: HttpRequest, uai: str) -> HttpResponse:
    """Edit a school's connectivity (admins; commune staff for their communes). htmx swaps the fragment."""
    school = access.get_school(request.user, uai)
    access.require_edit_school(request.user, school)
    connectivity = getattr(school, "connectivity", None)
    form = ConnectivityForm(request.POST or None, instance=connectivity)
    if request.method == "POST" and form.is_valid():
        services.do_update_connectivity(request.user, school, source="manual", **form.cleaned_data)
        if request.htmx:
            school.refresh_from_db()
            return render(request, "territory/_connectivity.html",
                          {"school": school, "connectivity": school.connectivity, "can_edit": True,
                           "saved": True})
        return redirect("territory:school", uai=school.uai)
    template = "territory/_connectivity_form.html" if request.htmx else "territory/connectivity_form.html"
    return render(request, template, {"school": school, "form": form}, status=400 if form.errors else 200)


@login_required
def search(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    schools = communes = []
    if q:
        school_qs = access.schools_for(request.user).select_related("commune")
        schools = list(school_qs.filter(Q(uai__iexact=q) | Q(name__icontains=q) | Q(commune__name__icontains=q))
                       .order_by("name")[:50])
        communes = list(access.communes_for(request.user)
                        .filter(Q(name__icontains=q) | Q(insee=q) | Q(postal_codes__contains=q))
                        .order_by("name")[:20])
        if len(schools) == 1 and not communes and schools[0].uai == q.upper():
            return redirect("territory:school", uai=schools[0].uai)
    return render(request, "territory/search.html", {"q": q, "schools": schools, "communes": communes})


