"""Indexes measured by bench/helpdesk.py at 500,000 requests (docs/helpdesk-bench.md): "my requests" of a
technician (requester or assignee, newest first), the queue filtered by category and by commune."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('fleet', '0005_asset_status_site_paging_indexes'),
        ('helpdesk', '0003_ticket_hours'),
        ('territory', '0002_commune_former_codes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(fields=['assignee', '-created_at'], name='helpdesk_assignee_idx'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(fields=['category', 'status'], name='helpdesk_category_status_idx'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(fields=['school', 'status'], name='helpdesk_school_status_idx'),
        ),
    ]
