"""API errors: field errors and values the database cannot take as 400, dependencies down as
503, never a bare 500."""

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from delivery.errors import DeliveryError

logger = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DataError):  # a value PostgreSQL cannot store or compare: the client's input
        logger.warning("data error in %s: %s", context.get("view"), exc)
        return Response({"non_field_errors": ["A value is malformed or out of range."]}, status=400)
    if isinstance(exc, IntegrityError):
        return Response({"non_field_errors": ["This conflicts with existing data."]}, status=400)
    if isinstance(exc, (DeliveryError, DatabaseError)):
        logger.exception("dependency failure in %s", context.get("view"))
        return Response(
            {"detail": "A backing service is unavailable; try again shortly."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return drf_exception_handler(exc, context)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


# Django's own error pages (a URL no route matches, e.g. /api/v1/events/0.5/, or an error
# outside DRF) are HTML; under /api/ they are JSON like every other API error.
def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Internal error; it has been logged."}, status=500)
    return defaults.server_error(request)
