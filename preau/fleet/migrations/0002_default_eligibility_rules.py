from django.db import migrations

# The plan's requalification rules: 64-bit CPU, 2 GB of RAM, network boot, at most 12 years old (editable).
DEFAULT_RULES = [("cpu_64bit", None), ("min_ram_mb", 2048), ("netboot", None), ("max_age_years", 12)]


def create_rules(apps, schema_editor):
    rule = apps.get_model("fleet", "EligibilityRule")
    for criterion, value in DEFAULT_RULES:
        rule.objects.get_or_create(criterion=criterion, defaults={"value": value})


class Migration(migrations.Migration):
    dependencies = [("fleet", "0001_initial")]
    operations = [migrations.RunPython(create_rules, migrations.RunPython.noop)]
