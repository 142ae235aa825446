"""django-celery-beat's DatabaseScheduler with a liveness heartbeat on every tick, asking
the database about schedule changes only when told of one (issue 15).

Beat calls ``tick()`` at least every IDLE_SLEEP_SECONDS (30 s), so a heartbeat file older
than a minute means beat's loop is stuck or gone (config/heartbeat.py explains the probe).

The stock scheduler reads ``PeriodicTasks.last_change()`` (plus a health-check
``SELECT 1``) on every look at its schedule, several times a tick: two thirds of an idle
engine's database transactions. Here a change to the schedule's tables bumps a counter in
Redis (``schedule_changed_mark``, on commit), which beat reads each tick; the database is
asked when the counter moved, when Redis cannot tell, and every BEAT_DB_CHECK_SECONDS
for a change made around the ORM's signals (a queryset ``update()``, SQL).

The arm task is sent only when its wake hint says a database pass is due, the SLO check
only when it could find something, the console's refresh only while someone watches
(decision 0019). While the arm task is not due, beat sleeps until the hint's moment, up to
IDLE_SLEEP_SECONDS, and a word on its wake channel (sent by whatever brings the hint
forward or changes the schedule) cuts the sleep short (decision 0023). Last-run times are
written every BEAT_SYNC_SECONDS rather than every 3 minutes: a beat restarted
in between runs an interval task once early, and the nightly plan at most once more,
which its lock and its idempotent SQL make harmless.
"""

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone
from django_celery_beat import schedulers
from django_celery_beat.schedulers import DatabaseScheduler

from config.heartbeat import Heartbeat
from notifier.dashboard import console_watched
from notifier.redis_client import redis_client
from notifier.slo_gate import slo_check_due
from notifier.tasks import arm_task, console_refresh_task, slo_check_task
from notifier.wake import beat_wake_channel, db_pass_due_at

logger = logging.getLogger(__name__)

CHANGES_KEY = "notifier:beat:schedule_changes"
BEAT_DB_CHECK_SECONDS = 300
# Celery looks at the schedule on every tick, and sending an entry takes two ticks in a
# row: a look at the counter stands for this long (a third of an idle beat's Redis reads).
CHANGE_LOOK_SECONDS = 2.0
BEAT_SYNC_SECONDS = 15 * 60
# The longest an idle beat sleeps: its liveness file is written every tick, and the probe
# takes beat for stuck when the file is 60 s old (the chart's beat.heartbeatMaxAgeSeconds).
IDLE_SLEEP_SECONDS = 30.0

# django-celery-beat re-reads every task and schedule row every 5 minutes whatever
# changed (SCHEDULE_SYNC_MAX_INTERVAL, read at each look); the Redis counter and the
# periodic change check above make that a rare safety net. Pinned by the beat's tests.
schedulers.SCHEDULE_SYNC_MAX_INTERVAL = 30 * 60


def schedule_changed_mark() -> None:
    """Tell beat that the schedule's tables changed (receivers in notifier.signals)."""
    try:
        with redis_client().pipeline(transaction=False) as pipe:
            pipe.incr(CHANGES_KEY).publish(beat_wake_channel(), b"schedule")
            pipe.execute()
    except redis.RedisError as exc:  # beat finds the change at its next database check
        logger.warning("beat not told of a schedule change (%s)", exc)


def _now_if(wanted: Callable[[datetime], bool]) -> Callable[[datetime], float | None]:
    return lambda now: now.timestamp() if wanted(now) else None


# Tasks an idle engine need not run, and from when they are wanted (decision 0019), as a
# POSIX time; None: not now, and only a later look can tell when.
_WANTED_FROM: Mapping[str, Callable[[datetime], float | None]] = {
    arm_task.name: db_pass_due_at,
    slo_check_task.name: _now_if(slo_check_due),
    console_refresh_task.name: _now_if(lambda now: console_watched()),
}


class WakeChannel:
    """Beat's sleep, cut short by a word on its wake channel. While it cannot listen, it
    sleeps no longer than an arm interval and reports a wake, as beat ticked before."""

    def __init__(self) -> None:
        self._pubsub: redis.client.PubSub | None = None

    def sleep(self, seconds: float, *, wake_on_word: bool) -> bool:
        """Sleep up to ``seconds``; True if woken by a word (or deaf), False at the end.
        Words are read either way: unread, they would pile up in Redis's buffer for us."""
        deadline = time.monotonic() + seconds
        try:
            if self._pubsub is None:
                pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(beat_wake_channel())
                self._pubsub = pubsub
            # None also comes back for the subscription's own confirmation: wait on.
            while (left := deadline - time.monotonic()) > 0:
                if self._pubsub.get_message(timeout=left) is not None and wake_on_word:
                    while self._pubsub.get_message(timeout=0) is not None:
                        pass  # the words sent since: one wake answers them all
                    return True
            return False
        except redis.RedisError as exc:
            logger.warning("beat wake channel lost (%s); ticking every arm interval until it is back", exc)
            self.close()
            time.sleep(max(0.0, min(deadline - time.monotonic(), settings.NOTIFIER_ARM_INTERVAL_SECONDS)))
            return True

    def close(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(redis.RedisError):
                self._pubsub.close()
            self._pubsub = None


class HeartbeatScheduler(DatabaseScheduler):
    sync_every = BEAT_SYNC_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.heartbeat = Heartbeat(role="beat", directory=settings.NOTIFIER_HEARTBEAT_DIR)
        self.heartbeat.start()
        self._changes_seen: bytes | None = None
        self._next_db_check = self._next_change_look = 0.0
        # Entries skipped as not wanted: from when they are (None: look at the next wake).
        self._deferred: dict[str, float | None] = {}
        self._wake = WakeChannel()
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Celery's tick, and then its sleep: here, not in celery.beat.Service, so that a
        word on the wake channel can end it."""
        self.heartbeat.beat()
        interval = super().tick(*args, **kwargs)
        if not interval or interval <= 0:
            return interval
        # A word matters only to a skipped entry: busy, plans say so many times a second.
        if self._wake.sleep(self._sleep_for(interval), wake_on_word=bool(self._deferred)):
            self._deferred.clear()  # told of a change: every skipped entry is looked at anew
        if self.should_sync():  # Service checks only after a sleep of its own
            self._do_sync()
        return 0

    def _sleep_for(self, interval: float) -> float:
        """Celery's interval, unless the entry it wakes for was skipped as not wanted: then
        until the first entry that may be wanted, at most IDLE_SLEEP_SECONDS."""
        heap = self._heap or []
        if not heap or heap[0][2].name not in self._deferred:
            return interval
        now = time.time()
        until = IDLE_SLEEP_SECONDS
        for event in heap:
            entry = event[2]
            due, next_in = self.is_due(entry)
            ready_in = 0.0 if due else next_in
            if entry.name in self._deferred:
                wanted_from = self._deferred[entry.name]
                if wanted_from is None:
                    continue  # looked at when beat next wakes
                ready_in = max(ready_in, wanted_from - now)
            until = min(until, ready_in)
        return max(interval, until)

    def adjust(self, n: float, drift: float = 0.0) -> float:
        # Celery's own wakes 10 ms before an entry is due, then re-ticks with no sleep
        # until it is: a dozen ticks per entry sent, each reading Redis, which made the
        # bulk of an idle beat's CPU (issue 15). Sleeping the whole way sends an entry a
        # few ms later, nothing to tasks every 10 s or more.
        return n

    def apply_entry(self, entry: Any, producer: Any = None) -> None:
        # No worker is woken to find out it has nothing to do. Each task checks the same
        # condition itself as well, so one sent anyway (by hand, by an older beat) does the same.
        wanted = _WANTED_FROM.get(entry.task)
        if wanted is not None:
            now = timezone.now()
            wanted_from = wanted(now)
            if wanted_from is None or wanted_from > now.timestamp():
                self._deferred[entry.name] = wanted_from
                return
        self._deferred.pop(entry.name, None)
        super().apply_entry(entry, producer=producer)

    def close(self) -> None:
        self._wake.close()
        super().close()

    def schedule_changed(self) -> bool:
        now = time.monotonic()
        if now < self._next_change_look:
            return False  # looked in this tick or the one just before (an entry sent makes two)
        self._next_change_look = now + CHANGE_LOOK_SECONDS
        try:
            changes = redis_client().get(CHANGES_KEY) or b"0"
        except redis.RedisError:
            changes = None  # cannot tell: ask the database
        if changes is not None and changes == self._changes_seen and now < self._next_db_check:
            return False
        self._changes_seen = changes
        self._next_db_check = now + BEAT_DB_CHECK_SECONDS
        return super().schedule_changed()
