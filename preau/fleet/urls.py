"""Fleet pages under /parc/: each views module owns its routes (assets, batches, agent intake, room audits,
equipment standard)."""

from . import views_assets, views_audit, views_batches, views_intake, views_slots

app_name = "fleet"
urlpatterns = (views_assets.urlpatterns + views_batches.urlpatterns + views_intake.urlpatterns
               + views_audit.urlpatterns + views_slots.urlpatterns)
