"""Building blocks shared by the JSON APIs of the apps (/api/v1/).

Pagination, lookups in the user's scope, the 400 refusal and the context manager that turns the
services' errors into it, and the OpenAPI responses the endpoints have in common.
"""

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.pagination import LimitOffsetPagination


class ApiPagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = 1000


def fake_view(view) -> bool:
    """True while drf-spectacular inspects the view to build the schema (no real user)."""
    return getattr(view, "swagger_fake_view", False)


class ScopedLookupMixin:
    """get_object from the scoped queryset (never from the filtered list): out of scope → 404."""

    lookup_normalize = staticmethod(lambda value: value)

    def get_object(self):
        value = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        obj = get_object_or_404(self.get_queryset(), **{self.lookup_field: self.lookup_normalize(value)})
        self.check_object_permissions(self.request, obj)
        return obj


class Refused(APIException):
    """A refusal of the lifecycle or of a service: 400 {"detail": "<French sentence>"}."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "refused"


def drf_validation_error(error: DjangoValidationError) -> ValidationError:
    """A model ValidationError (from full_clean in a service) as a DRF 400 with field errors."""
    if hasattr(error, "error_dict"):
        detail = {("non_field_errors" if key == "__all__" else key): value for key, value in error.message_dict.items()}
        return ValidationError(detail)
    return ValidationError({"non_field_errors": error.messages})


@contextmanager
def refusals(*errors: type[Exception]):
    """Turn the services' refusals into API answers (400), never half-written (services are atomic).

    The given error classes become Refused with their sentence; a model ValidationError becomes a DRF
    400 with its field errors.
    """
    try:
        yield
    except errors as exc:
        raise Refused(str(exc)) from exc
    except DjangoValidationError as exc:
        raise drf_validation_error(exc) from exc


# OpenAPI responses. 403 and 400 have two wordings: territory's endpoints change records ("modifier") and
# answer field errors only; the other apps' endpoints act ("agir") and may also refuse with a sentence.
NOT_FOUND = OpenApiResponse(description="Inexistant ou hors du périmètre de l'utilisateur.")
FORBIDDEN = OpenApiResponse(description="Visible, mais l'utilisateur n'a pas le droit d'agir.")
FORBIDDEN_TO_CHANGE = OpenApiResponse(description="Visible, mais l'utilisateur n'a pas le droit de le modifier.")
INVALID = OpenApiResponse(description="Données invalides ({champ: [erreurs]}) ou action refusée "
                                      "({\"detail\": \"phrase\"}), rien n'est modifié.")
INVALID_FIELDS = OpenApiResponse(description="Données invalides : un objet {champ: [erreurs]}.")
