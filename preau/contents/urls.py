"""Contents web pages, mounted at /contenus/ (the NAS agents' routes are in urls_agent.py)."""

from .views import urlpatterns as _pages

app_name = "contents"
urlpatterns = [*_pages]

from . import views_freshness  # noqa: E402

urlpatterns += views_freshness.urlpatterns

from . import views_tours  # noqa: E402

urlpatterns += views_tours.urlpatterns
