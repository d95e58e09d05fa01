from django.urls import path

from . import views

app_name = "core"
urlpatterns = [
    path("journal/", views.audit_log, name="audit"),
    path("taches/<int:job_id>/", views.job_detail, name="job"),
    path("taches/<int:job_id>/annuler/", views.job_cancel, name="job-cancel"),
]
