"""The default categories (in plain language), routing rules, deadlines and the académie de Lyon's
school holidays (zone A) for 2025-2026 and 2026-2027. All are editable afterwards."""

from datetime import date

from django.db import migrations

CATEGORIES = [
    # slug, label, domain, party, device categories, priority
    ("projector", "Le vidéoprojecteur ou l'écran interactif n'affiche rien", "equipment", "agglomeration",
     ["projector", "screen"], "high"),
    ("thin-client", "Le poste de la classe ne démarre pas ou reste bloqué", "equipment", "agglomeration",
     ["thin_client", "desktop", "laptop"], "high"),
    ("tablets-charge", "Les tablettes ne se chargent pas", "equipment", "agglomeration",
     ["tablet", "tablet_cart"], "normal"),
    ("printer", "L'imprimante n'imprime pas", "equipment", "agglomeration", ["printer"], "normal"),
    ("device-broken", "Un appareil est cassé, perdu ou volé", "equipment", "agglomeration",
     ["thin_client", "desktop", "laptop", "projector", "screen", "tablet", "tablet_cart", "printer",
      "robot_kit"], "normal"),
    ("no-internet", "Pas d'internet ou de réseau dans la classe", "network", "agglomeration",
     ["switch", "access_point", "nas"], "urgent"),
    ("wifi", "Le Wi-Fi ne fonctionne pas", "network", "agglomeration", ["access_point"], "high"),
    ("contents", "Une ressource pédagogique manque ou ne s'ouvre pas", "software", "agglomeration",
     ["nas"], "normal"),
    ("account", "Mot de passe ou compte (ENT, messagerie)", "software", "agglomeration", [], "normal"),
    ("electricity", "Prise électrique, disjoncteur ou éclairage", "building", "commune", [], "high"),
    ("cabling", "Câble réseau ou prise murale abîmé, salle à câbler", "building", "commune", [], "normal"),
    ("room", "Aménagement de la salle (support, écran, rideaux)", "building", "commune", [], "low"),
    ("training", "J'ai besoin d'une formation sur un outil", "pedagogy", "circonscription", [], "low"),
    ("pedagogy", "Conseil pédagogique sur un usage du numérique", "pedagogy", "circonscription", [], "low"),
    ("other", "Autre chose", "other", "agglomeration", [], "normal"),
]
DEADLINES = [("urgent", 2, 8), ("high", 4, 16), ("normal", 8, 40), ("low", 16, 80)]
# Académie de Lyon (zone A): from the end of classes to the day before they resume.
HOLIDAYS = [
    ("Vacances de la Toussaint 2025", date(2025, 10, 18), date(2025, 11, 2)),
    ("Vacances de Noël 2025", date(2025, 12, 20), date(2026, 1, 4)),
    ("Vacances d'hiver 2026", date(2026, 2, 7), date(2026, 2, 22)),
    ("Vacances de printemps 2026", date(2026, 4, 4), date(2026, 4, 19)),
    ("Pont de l'Ascension 2026", date(2026, 5, 14), date(2026, 5, 17)),
    ("Vacances d'été 2026", date(2026, 7, 4), date(2026, 8, 31)),
    ("Vacances de la Toussaint 2026", date(2026, 10, 17), date(2026, 11, 1)),
    ("Vacances de Noël 2026", date(2026, 12, 19), date(2027, 1, 3)),
    ("Vacances d'hiver 2027", date(2027, 2, 6), date(2027, 2, 21)),
    ("Vacances de printemps 2027", date(2027, 4, 3), date(2027, 4, 18)),
    ("Pont de l'Ascension 2027", date(2027, 5, 6), date(2027, 5, 9)),
    ("Vacances d'été 2027", date(2027, 7, 3), date(2027, 8, 31)),
]


def forwards(apps, schema_editor):
    Category = apps.get_model("helpdesk", "Category")
    RoutingRule = apps.get_model("helpdesk", "RoutingRule")
    DeadlinePolicy = apps.get_model("helpdesk", "DeadlinePolicy")
    SchoolHoliday = apps.get_model("helpdesk", "SchoolHoliday")
    for position, (slug, label, domain, party, devices, priority) in enumerate(CATEGORIES, start=1):
        Category.objects.get_or_create(slug=slug, defaults={
            "label": label, "domain": domain, "party": party, "device_categories": devices,
            "default_priority": priority, "position": position * 10})
    # A device that is at a partner workshop is the workshop's business.
    RoutingRule.objects.get_or_create(position=10, domain="equipment", condition="device_at_workshop",
                                      defaults={"party": "workshop"})
    for priority, take, resolve in DEADLINES:
        DeadlinePolicy.objects.get_or_create(category=None, priority=priority,
                                             defaults={"take_charge_hours": take, "resolve_hours": resolve})
    for name, start, end in HOLIDAYS:
        SchoolHoliday.objects.get_or_create(name=name, defaults={"start": start, "end": end})


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
