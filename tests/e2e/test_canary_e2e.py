"""The canary with a real worker: a canary pass's run goes through plan, arm, a fire at its
ETA by the worker, SNS and the engine's canary queue, and the receive task the pass
enqueued (run by the worker) records it. Prints the measured canary lag."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from notifier.canary import CANARY_AHEAD, canary_topic_ensure
from notifier.models import CanaryRun
from notifier.services import canary_tick

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_canary_run_by_the_worker_arrives_and_is_recorded_within_a_second(celery_worker, client):
    canary_topic_ensure()  # SNS set-up first, so the due time below is still ahead
    # What beat's task runs, as if it had run CANARY_AHEAD ago less 3 s: due in 3 s, not 45.
    canary_tick(now=timezone.now() - CANARY_AHEAD + timedelta(seconds=3))
    deadline = time.monotonic() + 60  # due in 3 s, read 10 s after due
    run = None
    while time.monotonic() < deadline:
        run = CanaryRun.objects.filter(state=CanaryRun.State.RECEIVED).first()
        if run is not None:
            break
        time.sleep(0.5)
    assert run is not None, list(CanaryRun.objects.values("state", "due_at"))
    print(f"\ncanary lag (SQS arrival - due time): {run.lag_ms} ms")
    assert 0 <= run.lag_ms <= 1000
    assert run.published_at is not None and run.published_at >= run.due_at
    assert "notifier_canary_lag_seconds" in client.get("/metrics").content.decode()
