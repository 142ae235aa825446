"""The arm pass asks the database only when the wake hint says a row may need it
(notifier/wake.py, issue 15), against real PostgreSQL and Redis."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from delivery.models import Notification, NotificationState
from notifier import wake
from notifier.planning import plan_event
from notifier.services import horizon_arm_when_needed
from tests.factories import make_event, make_topic

# Committed as in production: the pass sets its hint on commit.
pytestmark = pytest.mark.django_db(transaction=True)

HORIZON = timedelta(seconds=300)  # the default NOTIFIER_ARM_HORIZON_SECONDS
SAFETY = timedelta(seconds=300)  # the default NOTIFIER_RECONCILE_INTERVAL_SECONDS


def queries_of(call) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return result, len(captured)


def plan(starts_in: timedelta, capture) -> Notification:
    event = make_event(make_topic(), starts_in=starts_in)
    with capture(execute=True):  # the hint is lowered on commit
        plan_event(event_id=event.pk)
    return Notification.objects.get(event=event)


def test_idle_passes_ask_the_database_only_at_the_safety_net(redis):
    now = timezone.now()
    assert wake.wake_at() is None
    first, asked = queries_of(lambda: horizon_arm_when_needed(now=now))
    assert first is not None and asked > 0  # no hint yet: the database is asked
    assert wake.wake_at() == pytest.approx(timezone.now() + SAFETY, abs=timedelta(seconds=5))
    assert wake.quiet(now)
    for seconds in range(10, 290, 10):  # the beat's ticks until the safety net
        result, asked = queries_of(lambda s=seconds: horizon_arm_when_needed(now=now + timedelta(seconds=s)))
        assert (result, asked) == (None, 0)
    result, asked = queries_of(lambda: horizon_arm_when_needed(now=now + SAFETY + timedelta(seconds=5)))
    assert result is not None and asked > 0


def test_a_plan_brings_the_hint_forward_and_the_pass_arms_on_time(redis, django_capture_on_commit_callbacks):
    now = timezone.now()
    horizon_arm_when_needed(now=now)  # idle: the hint is the safety net's
    row = plan(timedelta(minutes=10, seconds=400), django_capture_on_commit_callbacks)  # due in 400 s
    assert not wake.quiet(now) and row.state == NotificationState.PLANNED
    assert wake.wake_at() == pytest.approx(row.due_at - HORIZON, abs=timedelta(milliseconds=2))
    assert horizon_arm_when_needed(now=row.due_at - HORIZON - timedelta(seconds=1)) is None
    with django_capture_on_commit_callbacks(execute=True):
        result = horizon_arm_when_needed(now=row.due_at - HORIZON + timedelta(seconds=1))
    assert result is not None and result.armed == [row.pk]


def test_an_armed_row_wakes_the_pass_when_its_task_may_be_lost(redis, django_capture_on_commit_callbacks):
    row = plan(timedelta(minutes=11), django_capture_on_commit_callbacks)  # due in 60 s: armed at once
    with django_capture_on_commit_callbacks(execute=True):
        horizon_arm_when_needed(now=timezone.now())
    row.refresh_from_db()
    assert row.state == NotificationState.ARMED
    lost_check = row.next_attempt_at + timedelta(seconds=15)  # NOTIFIER_RECONCILE_GRACE_SECONDS
    assert wake.wake_at() == pytest.approx(lost_check, abs=timedelta(milliseconds=2))
    assert not wake.quiet(timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        result = horizon_arm_when_needed(now=lost_check + timedelta(seconds=6))
    assert result.requeued_lost == [row.pk]  # the reconcile guarantee: within grace + one tick


def test_a_writer_during_a_pass_is_not_overwritten(redis):
    generation = wake.wake_generation()
    wake.wake_lower(timezone.now())  # no hint: lowering keeps "ask now"
    assert wake.wake_at() is None
    assert not wake.wake_set(wake.Wake(at=timezone.now() + SAFETY, quiet=True), generation)
    assert wake.wake_at() is None and not wake.quiet(timezone.now())  # the next tick asks again
    generation = wake.wake_generation()
    assert wake.wake_set(wake.Wake(at=timezone.now() + SAFETY, quiet=True), generation)
    soon = timezone.now() + timedelta(seconds=30)
    wake.wake_lower(soon)
    assert wake.wake_at() == pytest.approx(soon, abs=timedelta(milliseconds=2))
    assert not wake.quiet(timezone.now())
    wake.wake_lower(soon + timedelta(seconds=60))  # never raised
    assert wake.wake_at() == pytest.approx(soon, abs=timedelta(milliseconds=2))


def test_redis_flushed_means_the_database_is_asked(redis):
    now = timezone.now()
    horizon_arm_when_needed(now=now)
    redis.flushdb()  # a Redis restarted empty
    result, asked = queries_of(lambda: horizon_arm_when_needed(now=now + timedelta(seconds=10)))
    assert result is not None and asked > 0
