from django.urls import include, path

from . import views

urlpatterns = [
    path("profil/", views.profile, name="profile"),
    path("", include("django.contrib.auth.urls")),
]
