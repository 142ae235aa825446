"""Readiness: can this process reach PostgreSQL and Redis right now?

The checks run in parallel on a small pool of their own, each on a fresh connection, and
the answer comes within ``READINESS_BUDGET_SECONDS`` whatever they do: a check still
running by then counts as failed ("timeout"), so the kubelet gets the 503 naming the
dependency before its own probe timeout (5 s in the chart), and a hung server ties up a
pool thread, never a request thread. The result is reused for a second, so a flood of
requests to a public /readyz makes at most one round of checks a second.

The reply names the dependency and the kind of failure only; the detail, which can name
hosts, goes to the log.
"""

import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

import redis
from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

READINESS_BUDGET_SECONDS = 3.0
REDIS_TIMEOUT_SECONDS = 2.0
RESULT_REUSE_SECONDS = 1.0

_pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="readiness")
_last: tuple[float, dict[str, str]] | None = None
_last_lock = threading.Lock()


def _postgresql() -> None:
    # A connection of its own, closed at once: a server that stopped answering cannot
    # leave a request thread's persistent connection hanging.
    connection = connections.create_connection("default")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS)


def _redis_ping(url: str) -> None:
    _redis(url).ping()


def _checks() -> dict[str, Callable[[], None]]:
    checks: dict[str, Callable[[], None]] = {
        "postgresql": _postgresql,
        "redis": functools.partial(_redis_ping, settings.REDIS_URL),
    }
    if settings.CELERY_BROKER_URL != settings.REDIS_URL:
        checks["broker"] = functools.partial(_redis_ping, settings.CELERY_BROKER_URL)
    return checks


def _outcome(name: str, future: Future[None]) -> str:
    if not future.done():
        logger.warning("readiness: %s did not answer within %.0f s", name, READINESS_BUDGET_SECONDS)
        return "failed: timeout"
    error = future.exception()
    if error is not None:
        logger.warning("readiness: %s failed: %s", name, error)
        return f"failed: {type(error).__name__}"
    return "ok"


def dependency_checks() -> dict[str, str]:
    """``{dependency: "ok" | "failed: <ErrorClass or timeout>"}`` for PostgreSQL, Redis
    and, when it is another server, the Celery broker."""
    global _last
    with _last_lock:
        if _last is not None and time.monotonic() - _last[0] < RESULT_REUSE_SECONDS:
            return dict(_last[1])
        futures = {name: _pool.submit(check) for name, check in _checks().items()}
        wait(futures.values(), timeout=READINESS_BUDGET_SECONDS)
        results = {name: _outcome(name, future) for name, future in futures.items()}
        _last = (time.monotonic(), results)
        return dict(results)
