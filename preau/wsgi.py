"""The WSGI application (gunicorn preau.wsgi).

The NAS agents' endpoints (/contenus/agent/…, /contenus/store/…) authenticate every request with their own
Bearer credential and answer JSON or files: sessions, users, CSRF, messages, languages and htmx do nothing for
them. At 50,000 NAS checking in they are most of the requests, so they go through a second handler built
with only the security and common middleware (the latter sets Content-Length; about a fifth less CPU per
check-in; bench/contents.py); everything else
goes through the full stack of settings.MIDDLEWARE.
"""

import os

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "preau.settings")
application_full = get_wsgi_application()

AGENT_PREFIXES = ("/contenus/agent/", "/contenus/store/")
AGENT_MIDDLEWARE = ["django.middleware.security.SecurityMiddleware", "django.middleware.common.CommonMiddleware"]


class AgentHandler(WSGIHandler):
    """A Django handler whose middleware chain is AGENT_MIDDLEWARE (built once, at start-up)."""

    def load_middleware(self, is_async=False):
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = AGENT_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


application_agent = AgentHandler()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    handler = application_agent if path.startswith(AGENT_PREFIXES) else application_full
    return handler(environ, start_response)
