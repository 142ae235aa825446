"""A task that keeps a pool process busy, for the liveness tests (``worker --include``)."""

import time

from celery import shared_task


@shared_task(name="tests.ops.sleep")
def sleep(seconds: float) -> None:
    time.sleep(seconds)
