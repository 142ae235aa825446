"""The canary with a real worker: the beat task's run goes through plan, arm, a fire at its
ETA, SNS and the engine's canary queue, and the receive task the run enqueued records it.
Prints the measured canary lag."""

import time

import pytest

from notifier.models import CanaryRun
from notifier.tasks import canary_task

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_canary_run_by_the_worker_arrives_and_is_recorded_within_a_second(celery_worker, client):
    canary_task.delay()  # what beat sends every NOTIFIER_CANARY_INTERVAL_SECONDS
    deadline = time.monotonic() + 100  # due 45 s ahead, read 10 s after due
    run = None
    while time.monotonic() < deadline:
        run = CanaryRun.objects.filter(state=CanaryRun.State.RECEIVED).first()
        if run is not None:
            break
        time.sleep(1)
    assert run is not None, list(CanaryRun.objects.values("state", "due_at"))
    print(f"\ncanary lag (SQS arrival - due time): {run.lag_ms} ms")
    assert 0 <= run.lag_ms <= 1000
    assert run.published_at is not None and run.published_at >= run.due_at
    assert "notifier_canary_lag_seconds" in client.get("/metrics").content.decode()
