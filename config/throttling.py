"""DRF's three throttles, failing open: the rate counters live in Redis (Django's cache), and
Redis being down must not turn every API request into an error. The API then runs without
rate limits, and says so in the log, until Redis is back; the login lockout (django-axes,
in PostgreSQL) still holds."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from rest_framework import throttling

if TYPE_CHECKING:  # rest_framework.views imports this module (DEFAULT_THROTTLE_CLASSES)
    from rest_framework.request import Request
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)


class _FailOpen:
    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError as error:
            logger.warning("rate limit %s not checked, Redis unavailable: %s", type(self).__name__, error)
            return True


class AnonRateThrottle(_FailOpen, throttling.AnonRateThrottle):
    """Requests without a token, per client address (rate "anon")."""


class UserRateThrottle(_FailOpen, throttling.UserRateThrottle):
    """Authenticated requests, per user (rate "user")."""


class ScopedRateThrottle(_FailOpen, throttling.ScopedRateThrottle):
    """Views naming a throttle_scope ("auth", "verification"), per user or address."""
