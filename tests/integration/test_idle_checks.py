"""An idle engine's periodic checks leave the database alone (issue 15): the SLO check
while nothing is live and nothing was counted, the console's refresh while nobody looks,
beat's schedule while nothing changed. Real PostgreSQL and Redis."""

import threading
import time
from datetime import timedelta
from unittest.mock import patch

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat import schedulers
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler
from redis import Redis

from config.celery_app import app
from delivery.models import Notification, NotificationState
from notifier import dashboard, wake
from notifier.beat import ARM_TASK_NAME, CONSOLE_TASK_NAME, SLO_TASK_NAME, beat_schedule_sync
from notifier.beat_scheduler import CHANGE_LOOK_SECONDS, HeartbeatScheduler, WakeChannel
from notifier.metrics import count_outcome
from notifier.planning import plan_event
from notifier.services import horizon_arm_when_needed
from notifier.slo_gate import QUIET_CHECK_SECONDS, slo_check_when_needed
from scripts.services import free_port
from tests.factories import make_event, make_topic

# Committed as in production: the pass sets its hint on commit.
pytestmark = pytest.mark.django_db(transaction=True)


def queries_of(call) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return result, len(captured)


@override_settings(NOTIFIER_CANARY_INTERVAL_SECONDS=0)
def test_the_slo_check_skips_the_ledger_only_while_idle_and_uncounted(redis, django_capture_on_commit_callbacks):
    now = timezone.now()
    horizon_arm_when_needed(now=now)  # the arm pass finds nothing live: quiet
    assert queries_of(lambda: slo_check_when_needed(now=now))[1] > 0  # the first check reads the ledger
    assert queries_of(lambda: slo_check_when_needed(now=now + timedelta(seconds=60))) == (None, 0)
    count_outcome("sent")  # something finished: the next check reads the ledger
    raised, asked = queries_of(lambda: slo_check_when_needed(now=now + timedelta(seconds=120)))
    assert raised == [] and asked > 0
    assert queries_of(lambda: slo_check_when_needed(now=now + timedelta(seconds=180))) == (None, 0)
    later = now + timedelta(seconds=120 + QUIET_CHECK_SECONDS)
    assert queries_of(lambda: slo_check_when_needed(now=later))[1] > 0  # at least every 10 minutes


@override_settings(NOTIFIER_CANARY_INTERVAL_SECONDS=0)
def test_a_live_row_keeps_the_slo_check_on_the_ledger(redis, django_capture_on_commit_callbacks):
    now = timezone.now()
    horizon_arm_when_needed(now=now)
    slo_check_when_needed(now=now)
    event = make_event(make_topic(), starts_in=timedelta(minutes=9))  # inside its lead: due now
    with django_capture_on_commit_callbacks(execute=True):  # the plan lowers the hint: not quiet
        plan_event(event_id=event.pk)
    Notification.objects.filter(event=event).update(state=NotificationState.ARMED)
    raised, asked = queries_of(lambda: slo_check_when_needed(now=timezone.now() + timedelta(seconds=60)))
    assert asked > 0 and raised == ["undelivered past due"]


@override_settings(NOTIFIER_CANARY_INTERVAL_SECONDS=300)
def test_a_canary_keeps_the_slo_check_on_the_ledger(redis):
    now = timezone.now()
    horizon_arm_when_needed(now=now)
    slo_check_when_needed(now=now)
    assert queries_of(lambda: slo_check_when_needed(now=now + timedelta(seconds=60)))[1] > 0  # the canary is judged


def test_the_console_figures_are_refreshed_only_while_someone_looks(redis):
    cache.clear()
    assert queries_of(dashboard.slow_figures_refresh_if_watched) == (False, 0)
    dashboard.dashboard_data()  # someone looked
    refreshed, asked = queries_of(dashboard.slow_figures_refresh_if_watched)
    assert refreshed and asked > 0


def test_beat_reads_its_schedule_only_when_told_of_a_change(redis):
    beat_schedule_sync()
    scheduler = HeartbeatScheduler(app=app, lazy=True)
    scheduler.schedule  # noqa: B018 (the initial read)
    assert schedulers.SCHEDULE_SYNC_MAX_INTERVAL == 30 * 60  # the stock full re-read every 5 min, made rare
    scheduler.schedule_changed()  # the first look asks the database and remembers the mark
    for _ in range(20):  # ticks look at the schedule several times each
        assert queries_of(lambda: scheduler.schedule)[1] == 0
    interval, _ = IntervalSchedule.objects.get_or_create(every=7, period=IntervalSchedule.SECONDS)
    task = PeriodicTask.objects.get(name=ARM_TASK_NAME)  # an operator changes a task in the admin
    task.interval = interval
    task.save()
    time.sleep(CHANGE_LOOK_SECONDS)  # past the look of the current tick
    schedule, asked = queries_of(lambda: scheduler.schedule)
    assert asked > 0 and schedule[ARM_TASK_NAME].schedule.run_every == timedelta(seconds=7)


def test_beat_sends_the_arm_task_only_when_a_database_pass_is_due(redis):
    beat_schedule_sync()
    scheduler = HeartbeatScheduler(app=app, lazy=True)
    arm_entry = scheduler.schedule[ARM_TASK_NAME]
    horizon_arm_when_needed(now=timezone.now())  # idle: the next pass is the safety net's, minutes away
    scheduler.apply_entry(arm_entry, producer=scheduler.producer)
    assert redis.llen("celery") == 0  # no worker woken for nothing
    redis.delete(wake.WAKE_KEY)  # no hint: a pass is due
    scheduler.apply_entry(arm_entry, producer=scheduler.producer)
    assert redis.llen("celery") == 1


@override_settings(NOTIFIER_CANARY_INTERVAL_SECONDS=0)
def test_beat_sends_the_slo_check_and_the_console_refresh_only_when_wanted(redis):
    beat_schedule_sync()
    cache.clear()
    scheduler = HeartbeatScheduler(app=app, lazy=True)
    now = timezone.now()
    horizon_arm_when_needed(now=now)
    slo_check_when_needed(now=now)  # read the ledger: quiet and uncounted since
    for name in (SLO_TASK_NAME, CONSOLE_TASK_NAME):
        scheduler.apply_entry(scheduler.schedule[name], producer=scheduler.producer)
    assert redis.llen("celery") == 0
    count_outcome("sent")
    dashboard.dashboard_data()  # someone looks at the console
    for name in (SLO_TASK_NAME, CONSOLE_TASK_NAME):
        scheduler.apply_entry(scheduler.schedule[name], producer=scheduler.producer)
    assert redis.llen("celery") == 2


def test_beat_sleeps_until_an_entry_is_due_instead_of_ticking_up_to_it(redis):
    """Celery's scheduler wakes 10 ms early and re-ticks without sleeping until the entry
    is due, a dozen ticks (each reading Redis) per entry sent: an idle beat's main cost."""
    beat_schedule_sync()
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name=ARM_TASK_NAME).update(interval=every_second)
    scheduler = HeartbeatScheduler(app=app, lazy=True)
    sent: list[str] = []
    ticks = 0
    with patch.object(scheduler, "apply_entry", lambda entry, producer=None: sent.append(entry.name)):
        deadline = time.monotonic() + 3.5
        while (left := deadline - time.monotonic()) > 0:  # beat's own loop (celery.beat.Service.start)
            interval = scheduler.tick()
            ticks += 1
            if interval and interval > 0:
                time.sleep(min(interval, left))
    scheduler.sync()  # the last-run times now, not from its exit hook after the test database is gone
    assert sent.count(ARM_TASK_NAME) >= 3
    assert ticks <= 2 * len(sent) + 2  # one tick to send each entry, one to sleep until the next


def test_an_idle_beat_sleeps_until_the_hint_and_a_lowered_hint_wakes_it(redis):
    """While the arm pass is not due, beat sleeps until the hint's moment (at most
    IDLE_SLEEP_SECONDS) instead of ticking every arm interval; a writer that brings the hint
    forward wakes it, and the arm task goes out within an arm interval (decision 0023)."""
    beat_schedule_sync()
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name=ARM_TASK_NAME).update(interval=every_second)
    horizon_arm_when_needed(now=timezone.now())  # idle: the hint is the safety net's, 300 s away
    scheduler = HeartbeatScheduler(app=app, lazy=True)
    started = time.monotonic()
    sent: list[tuple[float, str]] = []
    ticks = 0

    def record(self, entry, producer=None):  # what beat hands to the broker
        sent.append((time.monotonic() - started, entry.name))

    lowered_at = 7.5  # between two 3-s looks: only the word can wake beat before 9 s
    lower = threading.Timer(lowered_at, lambda: wake.wake_lower(timezone.now()))
    with (
        patch("notifier.beat_scheduler.IDLE_SLEEP_SECONDS", 3.0),
        patch.object(DatabaseScheduler, "apply_entry", record, create=True),
    ):
        lower.start()
        while time.monotonic() - started < lowered_at + 2.5:  # beat's own loop (celery.beat.Service.start)
            interval = scheduler.tick()
            ticks += 1
            if interval and interval > 0:
                time.sleep(interval)
    lower.join()
    scheduler.close()
    scheduler.sync()
    arm_sent = [at for at, name in sent if name == ARM_TASK_NAME]
    assert arm_sent and lowered_at < arm_sent[0] < lowered_at + 1.5  # woken, then the arm interval at most
    ticks_while_idle = ticks - 2 * len(arm_sent) - 4  # the wake and the sends made after it
    assert ticks_while_idle <= 2 * lowered_at / 3.0 + 3  # a look per 3-s sleep, not one per second


def test_beat_that_cannot_listen_ticks_every_arm_interval(redis):
    channel = WakeChannel()
    with patch("notifier.beat_scheduler.redis_client", return_value=Redis(port=free_port(), socket_timeout=1)):
        started = time.monotonic()
        assert channel.sleep(0.5, wake_on_word=True)  # reports a wake: skipped entries are looked at again
        assert 0.4 < time.monotonic() - started < 1.5
    channel.close()
    assert not channel.sleep(0.3, wake_on_word=True)  # Redis back: listens again
    redis.publish(wake.beat_wake_channel(), b"1")
    assert channel.sleep(5, wake_on_word=True)
    channel.close()
