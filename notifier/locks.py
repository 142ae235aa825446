"""A Redis lease: ``SET key token NX PX ttl``, released by compare-and-delete.

The lock is an efficiency guard (one nightly plan across pods); correctness comes
from the notification key. A holder whose lease expired must never delete the
next holder's lock, hence the token and the Lua compare-and-delete.
"""

import secrets

import redis

# Delete only if the value is still our token (atomic on the server).
_RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class RedisLock:
    """Take it with ``acquire()`` and act on its answer; it is deliberately no context
    manager, since a ``with`` block would run whether or not the lease was won."""

    def __init__(self, client: redis.Redis, name: str, ttl_ms: int) -> None:
        self.client = client
        self.name = name
        self.ttl_ms = ttl_ms
        self.token = secrets.token_hex(16)
        self.acquired = False

    def acquire(self) -> bool:
        self.acquired = bool(self.client.set(self.name, self.token, nx=True, px=self.ttl_ms))
        return self.acquired

    def release(self) -> bool:
        """True if our lease was still ours and is now gone; False if it had expired."""
        if not self.acquired:
            return False
        self.acquired = False
        return bool(self.client.eval(_RELEASE_SCRIPT, 1, self.name, self.token))


PLAN_LOCK_NAME = "notifier:lock:plan"
