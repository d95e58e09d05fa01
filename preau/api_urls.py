"""The JSON API under /api/v1/: one router, each app registers its viewsets; OpenAPI at openapi.json."""

from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework.routers import DefaultRouter

from preau.accounts.api import TokenView
from preau.contents.api.views import register as register_contents
from preau.fleet.api.views import register as register_fleet
from preau.helpdesk.api.views import register as register_helpdesk
from preau.territory.api.views import register as register_territory

router = DefaultRouter()
register_territory(router)
register_fleet(router)
register_helpdesk(router)
register_contents(router)

urlpatterns = [
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("token/", TokenView.as_view(), name="api-token"),
    path("", include(router.urls)),
]
