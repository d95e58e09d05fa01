from django.urls import include, path

from preau.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("", include("preau.core.urls")),
    path("comptes/", include("preau.accounts.urls")),
    path("territoire/", include("preau.territory.urls")),
    path("parc/", include("preau.fleet.urls")),
    path("contenus/", include("preau.contents.urls")),
    path("contenus/", include("preau.contents.urls_agent")),
    path("assistance/", include("preau.helpdesk.urls")),
    path("api/v1/", include("preau.api_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]
