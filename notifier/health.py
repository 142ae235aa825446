"""Readiness: can this process reach PostgreSQL and Redis right now?

Each check answers within a few seconds (PostgreSQL's connect timeout, Redis socket
timeouts) and reports only the dependency and the kind of failure; the detail, which
can name hosts, goes to the log, not to the unauthenticated reply.
"""

import functools
import logging

import redis
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=CHECK_TIMEOUT_SECONDS, socket_connect_timeout=CHECK_TIMEOUT_SECONDS)


def _postgresql() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis_ping(url: str) -> None:
    _redis(url).ping()


def dependency_checks() -> dict[str, str]:
    """``{dependency: "ok" | "failed: <ErrorClass>"}`` for PostgreSQL, Redis and, when it
    is another server, the Celery broker."""
    checks = {"postgresql": _postgresql, "redis": functools.partial(_redis_ping, settings.REDIS_URL)}
    if settings.CELERY_BROKER_URL != settings.REDIS_URL:
        checks["broker"] = functools.partial(_redis_ping, settings.CELERY_BROKER_URL)
    results = {}
    for name, check in checks.items():
        try:
            check()
        except Exception as exc:
            logger.warning("readiness: %s failed: %s", name, exc)
            if name == "postgresql":
                connection.close()  # the next check reconnects instead of reusing a broken one
            results[name] = f"failed: {type(exc).__name__}"
        else:
            results[name] = "ok"
    return results
