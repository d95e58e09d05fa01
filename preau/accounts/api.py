"""Token endpoint: exchange username/password for an API token (also shown on the profile page)."""

from rest_framework.authtoken.views import ObtainAuthToken


class TokenView(ObtainAuthToken):
    pass
