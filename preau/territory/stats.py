"""Territory counts, for the dashboard (a user's scope) and `preau stats --json` (everything)."""

from django.db.models import Count, Q, Sum

from preau.accounts import access

from .models import Access, Commune, School, SchoolClass, Sector


def territory_stats(user=None) -> dict:
    schools = School.objects.all() if user is None else access.schools_for(user)
    communes = Commune.objects.all() if user is None else access.communes_for(user)
    classes = SchoolClass.objects.all() if user is None else access.classes_for(user)
    s = schools.aggregate(
        schools=Count("pk"),
        public=Count("pk", filter=Q(sector=Sector.PUBLIC)),
        private=Count("pk", filter=Q(sector=Sector.PRIVATE)),
        open=Count("pk", filter=Q(closed_on__isnull=True)),
        pupils=Sum("pupils"),
        fibre=Count("pk", filter=Q(connectivity__access=Access.FIBRE)),
        other_access=Count("pk", filter=Q(connectivity__access__in=[Access.ADSL, Access.MOBILE, Access.SATELLITE])),
        no_access=Count("pk", filter=Q(connectivity__access=Access.NONE)),
    )
    s["connectivity_unknown"] = s["schools"] - s["fibre"] - s["other_access"] - s["no_access"]
    return {
        "communes": communes.count(),
        **s,
        "pupils": s["pupils"] or 0,
        "classes": classes.count(),
    }
