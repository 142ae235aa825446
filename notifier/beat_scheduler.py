"""django-celery-beat's DatabaseScheduler with a liveness heartbeat on every tick, asking
the database about schedule changes only when told of one (issue 15).

Beat calls ``tick()`` at least every CELERY_BEAT_MAX_LOOP_INTERVAL (10 s), so a
heartbeat file older than a minute means beat's loop is stuck or gone
(config/heartbeat.py explains the probe).

The stock scheduler reads ``PeriodicTasks.last_change()`` (plus a health-check
``SELECT 1``) on every look at its schedule, several times a tick: two thirds of an idle
engine's database transactions. Here a change to the schedule's tables bumps a counter in
Redis (``schedule_changed_mark``, on commit), which beat reads each tick; the database is
asked when the counter moved, when Redis cannot tell, and every BEAT_DB_CHECK_SECONDS
for a change made around the ORM's signals (a queryset ``update()``, SQL).

The arm task is sent only when its wake hint says a database pass is due, the SLO check
only when it could find something, the console's refresh only while someone watches
(decision 0019). Last-run times are written every BEAT_SYNC_SECONDS rather than every
3 minutes: a beat restarted
in between runs an interval task once early, and the nightly plan at most once more,
which its lock and its idempotent SQL make harmless.
"""

import logging
import time
from collections.abc import Callable
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
from notifier.wake import db_pass_due

logger = logging.getLogger(__name__)

CHANGES_KEY = "notifier:beat:schedule_changes"
BEAT_DB_CHECK_SECONDS = 300
# Celery looks at the schedule on every tick, and sending an entry takes two ticks in a
# row: a look at the counter stands for this long (a third of an idle beat's Redis reads).
CHANGE_LOOK_SECONDS = 2.0
BEAT_SYNC_SECONDS = 15 * 60

# django-celery-beat re-reads every task and schedule row every 5 minutes whatever
# changed (SCHEDULE_SYNC_MAX_INTERVAL, read at each look); the Redis counter and the
# periodic change check above make that a rare safety net. Pinned by the beat's tests.
schedulers.SCHEDULE_SYNC_MAX_INTERVAL = 30 * 60


def schedule_changed_mark() -> None:
    """Tell beat that the schedule's tables changed (receivers in notifier.signals)."""
    try:
        redis_client().incr(CHANGES_KEY)
    except redis.RedisError as exc:  # beat finds the change at its next database check
        logger.warning("beat not told of a schedule change (%s)", exc)


# Tasks an idle engine need not run, and when they are wanted (decision 0019).
_WANTED_WHEN: dict[str, Callable[[datetime], bool]] = {
    arm_task.name: db_pass_due,
    slo_check_task.name: slo_check_due,
    console_refresh_task.name: lambda now: console_watched(),
}


class HeartbeatScheduler(DatabaseScheduler):
    sync_every = BEAT_SYNC_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.heartbeat = Heartbeat(role="beat", directory=settings.NOTIFIER_HEARTBEAT_DIR)
        self.heartbeat.start()
        self._changes_seen: bytes | None = None
        self._next_db_check = self._next_change_look = 0.0
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        self.heartbeat.beat()
        return super().tick(*args, **kwargs)

    def adjust(self, n: float, drift: float = 0.0) -> float:
        # Celery's own wakes 10 ms before an entry is due, then re-ticks with no sleep
        # until it is: a dozen ticks per entry sent, each reading Redis, which made the
        # bulk of an idle beat's CPU (issue 15). Sleeping the whole way sends an entry a
        # few ms later, nothing to tasks every 10 s or more.
        return n

    def apply_entry(self, entry: Any, producer: Any = None) -> None:
        # No worker is woken to find out it has nothing to do. Each task checks the same
        # condition itself as well, so one sent anyway (by hand, by an older beat) does the same.
        wanted = _WANTED_WHEN.get(entry.task)
        if wanted is not None and not wanted(timezone.now()):
            return
        super().apply_entry(entry, producer=producer)

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
