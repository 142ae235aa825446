import functools
import os

import redis
from django.conf import settings


@functools.cache
def _client(url: str, pid: int) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def redis_client() -> redis.Redis:
    """The Redis used for locks (REDIS_URL); one connection pool per process."""
    return _client(settings.REDIS_URL, os.getpid())
