"""The peers' Celery task: what a one-task-per-notification design runs at its ETA.

Loaded into bench workers with ``--include bench.tasks``. It does what the engine's
fire task does for one row, minus batching: claim, publish, record.
"""

from celery import shared_task

from notifier.firing import fire


@shared_task(name="bench.fire_one")
def fire_one(notification_id: int) -> None:
    fire(notification_ids=[notification_id])
