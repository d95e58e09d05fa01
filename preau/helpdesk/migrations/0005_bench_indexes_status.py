"""Indexes measured by bench/helpdesk.py at 500,000 requests (docs/helpdesk-bench.md): a technician's "my
requests" filtered by status, and the advisor's queue without a status filter."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('fleet', '0005_asset_status_site_paging_indexes'),
        ('helpdesk', '0004_bench_indexes'),
        ('territory', '0002_commune_former_codes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(fields=['assignee', 'status'], name='helpdesk_assignee_status_idx'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(condition=models.Q(('party_circonscription__isnull', False)), fields=['party_circonscription', 'status'], name='helpdesk_circ_status_idx'),
        ),
    ]
