"""Hand notifications to Celery: the one module that sends fire tasks.

Tasks are sent by name, so nothing below the task module imports it: ``notifier.tasks``
may import every service, and no service imports a task back.
"""

from collections.abc import Iterable
from datetime import datetime
from itertools import groupby

from celery import current_app
from django.conf import settings

FIRE_TASK_NAME = "notifier.fire"
CANARY_RECEIVE_TASK_NAME = "notifier.canary_receive"
CONSOLE_REFRESH_TASK_NAME = "notifier.console_refresh"

# (notification id, when its task should run, deadline)
Row = tuple[int, datetime, datetime]


def _fire_slot(row: Row) -> int:
    return int(row[1].timestamp() * 1000) // settings.NOTIFIER_FIRE_GROUP_MS


def fire_enqueue(rows: Iterable[Row]) -> None:
    """One fire task per slot of NOTIFIER_FIRE_GROUP_MS (chunked), due at the latest due
    time in it: a burst of events starting together goes out in few tasks, steady traffic
    costs one enqueue per slot rather than per row, and nothing is sent before its due
    time (at most one slot after it)."""
    batch = settings.NOTIFIER_FIRE_BATCH_SIZE
    ordered = sorted(rows, key=lambda row: row[1])
    # One broker connection for the whole pass instead of one from the pool per task.
    with current_app.producer_or_acquire() as producer:
        for _, group in groupby(ordered, key=_fire_slot):
            members = list(group)
            for start in range(0, len(members), batch):
                chunk = members[start : start + batch]
                expires = None if settings.NOTIFIER_SEND_LATE else min(row[2] for row in chunk)
                current_app.send_task(
                    FIRE_TASK_NAME, args=[[row[0] for row in chunk]], eta=chunk[-1][1], expires=expires,
                    producer=producer,
                )  # fmt: skip


def retries_enqueue(retries: list[tuple[int, float]]) -> None:
    """One fire task per retried notification, after its backoff delay in seconds."""
    with current_app.producer_or_acquire() as producer:  # one broker connection for all
        for pk, delay in retries:
            current_app.send_task(FIRE_TASK_NAME, args=[[pk]], countdown=delay, producer=producer)


def canary_receive_enqueue(*, countdown: float) -> None:
    """Read the canary queue once the run just scheduled should have arrived."""
    current_app.send_task(CANARY_RECEIVE_TASK_NAME, countdown=countdown, expires=countdown + 600)


def console_refresh_enqueue() -> None:
    """Have a worker recompute the console's slow figures (the page found them stale)."""
    current_app.send_task(CONSOLE_REFRESH_TASK_NAME, expires=60)
