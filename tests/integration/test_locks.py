"""The plan lock against a real Redis: exclusive, and safe after expiry."""

import time

from notifier.locks import RedisLock


def test_second_owner_is_refused_until_release(redis):
    first = RedisLock(redis, "notifier:lock:test", ttl_ms=5000)
    second = RedisLock(redis, "notifier:lock:test", ttl_ms=5000)
    assert first.acquire()
    assert not second.acquire()
    assert first.release()
    assert second.acquire()
    assert second.release()


def test_expired_lock_is_never_deleted_by_its_former_owner(redis):
    slow = RedisLock(redis, "notifier:lock:test", ttl_ms=100)
    assert slow.acquire()
    time.sleep(0.25)  # the lease runs out while its owner is still busy
    successor = RedisLock(redis, "notifier:lock:test", ttl_ms=5000)
    assert successor.acquire()
    assert slow.release() is False  # compare-and-delete: not its token any more
    assert redis.get("notifier:lock:test").decode() == successor.token
    assert successor.release()
    assert redis.get("notifier:lock:test") is None


def test_lock_sets_a_ttl(redis):
    lock = RedisLock(redis, "notifier:lock:test", ttl_ms=3000)
    assert lock.acquire()
    assert 0 < redis.pttl("notifier:lock:test") <= 3000
    lock.release()
