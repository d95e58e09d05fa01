"""Token endpoint: exchange username/password for an API token (also shown on the profile page).

    POST /api/v1/token/  {"username": "...", "password": "..."}  ->  {"token": "..."}

then call the API with the header `Authorization: Token <token>`. The same user
always gets the same token (DRF authtoken). Attempts are throttled per username
and per client address, against password guessing.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import SimpleRateThrottle


class TokenRequestThrottle(SimpleRateThrottle):
    """At most 20 token requests a minute for one username from one address."""

    scope = "api-token"
    rate = "20/minute"

    def get_cache_key(self, request, view):
        username = str(request.data.get("username", ""))[:150].lower() if hasattr(request, "data") else ""
        return self.cache_format % {"scope": self.scope, "ident": f"{self.get_ident(request)}:{username}"}


class TokenView(ObtainAuthToken):
    throttle_classes = (TokenRequestThrottle,)

    @extend_schema(
        summary="Obtenir un jeton d'API",
        description="Échange un identifiant et un mot de passe contre le jeton d'API de l'utilisateur, à envoyer "
                    "ensuite dans l'en-tête `Authorization: Token <jeton>`. Le jeton est le même à chaque appel. "
                    "400 si l'identifiant ou le mot de passe est faux (ou le compte désactivé) ; 429 après trop "
                    "de tentatives.",
        tags=["token"],
        request=AuthTokenSerializer,
        responses={
            200: inline_serializer("TokenResponse", fields={"token": serializers.CharField()}),
            400: OpenApiResponse(description="Identifiants invalides."),
            429: OpenApiResponse(description="Trop de tentatives ; réessayer dans une minute."),
        },
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
