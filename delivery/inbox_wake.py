"""The inbox consumers sleep while nothing is published, and wake when something is
(issue 15).

Long-polling two SQS queues around the clock cost an idle engine 360 SQS calls an hour,
a third of its CPU. What reaches those queues is what this engine publishes, so a
publisher tells the consumers on a Redis channel (at most every WAKE_EVERY_SECONDS per
process), and a consumer long-polls SQS for AWAKE_SECONDS after the last word, as it
always did while busy. Asleep, it still polls every NOTIFIER_INBOX_IDLE_POLL_SECONDS: the
safety net for a word lost to a Redis failure or a publish made around the engine, so
such a message waits at most that long. While it cannot listen to Redis, a consumer stays
awake (decision 0021).

Redis channels are server-wide, not per database: the channel names the Redis database
and the inbox queue, so two deployments sharing a server do not wake each other.
"""

import contextlib
import functools
import logging
import os
import threading
import time

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

WAKE_EVERY_SECONDS = 5.0
# SNS delivers to SQS within a second or so; a fire task's retries come within a minute.
AWAKE_SECONDS = 120.0
LISTEN_RETRY_SECONDS = 5.0
# How often the listener looks up from Redis to see whether it must stop: a safety net, as
# ``release`` says so on the channel itself.
LISTEN_TURN_SECONDS = 60.0


@functools.cache
def _client(url: str, pid: int) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def _redis() -> redis.Redis:
    return _client(settings.REDIS_URL, os.getpid())


def wake_channel() -> str:
    database = _redis().connection_pool.connection_kwargs.get("db", 0)
    return f"notifier:inbox:wake:{database}:{settings.NOTIFIER_INBOX_QUEUE_NAME}"


_last_told = -WAKE_EVERY_SECONDS


def inbox_wake_publish() -> None:
    """Tell the inbox consumers that messages were just published to SNS. A word every
    few seconds keeps them awake through a burst; more would be Redis calls for nothing."""
    global _last_told
    now = time.monotonic()
    if now - _last_told < WAKE_EVERY_SECONDS:
        return
    _last_told = now
    try:
        _redis().publish(wake_channel(), b"1")
    except redis.RedisError as exc:  # the consumers' idle poll still finds the messages
        idle_poll = settings.NOTIFIER_INBOX_IDLE_POLL_SECONDS
        logger.warning("inbox consumers not woken (%s); they find the messages within %d s", exc, idle_poll)


class InboxAlarm:
    """When a consumer should poll SQS: within AWAKE_SECONDS of the last wake (start-up
    counts as one), while Redis cannot be listened to, and every ``idle_poll_seconds``
    (0: always)."""

    def __init__(self, *, stop: threading.Event, idle_poll_seconds: float | None = None) -> None:
        self.stop = stop
        self.idle_poll_seconds = (
            settings.NOTIFIER_INBOX_IDLE_POLL_SECONDS if idle_poll_seconds is None else idle_poll_seconds
        )
        self._changed = threading.Condition()
        self._awake_until = time.monotonic() + AWAKE_SECONDS
        self._deaf = False

    def ring(self, *, deaf: bool = False) -> None:
        with self._changed:
            self._awake_until = time.monotonic() + AWAKE_SECONDS
            self._deaf = deaf
            self._changed.notify_all()

    def should_poll(self, *, now: float, last_poll: float) -> bool:
        return self._deaf or now < self._awake_until or now - last_poll >= self.idle_poll_seconds

    def poll_due_or_sleep(self, *, last_poll: float) -> bool:
        """True if a poll is due; else sleep until rung, released or the idle poll is due,
        and False. One lock around both, so a ring between the look and the sleep is not
        lost."""
        with self._changed:
            now = time.monotonic()
            if self.should_poll(now=now, last_poll=last_poll):
                return True
            self._changed.wait(last_poll + self.idle_poll_seconds - now)
            return False

    def release(self) -> None:
        """Once ``stop`` is set: the sleeping loops and the listener return now."""
        with self._changed:
            self._changed.notify_all()
        # The listener blocks on its Redis socket: a word makes it look at ``stop``. Without
        # Redis it is not listening, and waits on ``stop`` itself.
        with contextlib.suppress(redis.RedisError):
            _redis().publish(wake_channel(), b"stop")

    def listen(self) -> None:
        """Ring on every word on the wake channel, until stopped (a thread's target)."""
        while not self.stop.is_set():
            try:
                with _redis().pubsub(ignore_subscribe_messages=True) as pubsub:
                    pubsub.subscribe(wake_channel())
                    self.ring()  # what was published while nobody listened is caught now
                    while not self.stop.is_set():
                        if pubsub.get_message(timeout=LISTEN_TURN_SECONDS) is not None:
                            self.ring()
            except redis.RedisError as exc:
                logger.warning("inbox wake channel lost (%s); polling SQS until it is back", exc)
                self.ring(deaf=True)
                self.stop.wait(LISTEN_RETRY_SECONDS)
