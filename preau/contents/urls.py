"""Contents web pages, mounted at /contenus/ (the NAS agents' routes are in urls_agent.py)."""

from .views import urlpatterns as _pages

app_name = "contents"
urlpatterns = [*_pages]
