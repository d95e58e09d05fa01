"""Routes of the NAS agents (machines): enrolment, check-in and the content store, mounted at /contenus/.
The web pages of the contents app are in urls.py (namespace "contents"); these are "contents_agent"."""

from django.urls import path

from . import views_agent

app_name = "contents_agent"

urlpatterns = [
    path("agent/enrol/", views_agent.enrol, name="enrol"),
    path("agent/checkin/", views_agent.checkin, name="checkin"),
    path("store/<path:rel>", views_agent.store, name="store"),
]
