"""Small helpers shared by the helpdesk tests (figures, API, KB, deadlines): aware datetimes and filing."""

from datetime import datetime

from django.utils import timezone

from preau.helpdesk import services
from preau.helpdesk.models import Category


def at(year, month, day, hour=9, minute=0):
    return timezone.make_aware(datetime(year, month, day, hour, minute))


def category(slug: str) -> Category:
    return Category.objects.get(slug=slug)


def file(user, school, slug="projector", now=None, **extra):
    return services.do_create_ticket(user, school=school, category=category(slug), description="Rien ne s'affiche.",
                                     now=now or at(2026, 11, 16), notify_party=False, **extra)
