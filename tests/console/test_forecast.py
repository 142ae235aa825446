"""Tomorrow's load over known data: the ledger's rows and the events not planned yet, each
counted once, in the minute the plan would make them due; the what-if writes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from delivery.models import Notification
from delivery.models import NotificationState as S
from events.models import Event
from notifier.forecast import Addition, forecast, worst_lag_seconds
from notifier.planning import plan_event
from tests.console.ledger import canary_topic, event_on, row
from tests.factories import make_topic

pytestmark = pytest.mark.django_db


def minute_index(result, when) -> int:
    return int((when.replace(second=0, microsecond=0) - result.start).total_seconds() // 60)


def test_ledger_rows_and_unplanned_events_each_counted_once_at_their_due_minute():
    now = timezone.now()
    topic = make_topic(lead=10)
    starts = (now + timedelta(hours=3)).replace(second=0, microsecond=0)
    planned = [event_on(topic, starts_at=starts) for _ in range(4)]
    for event in planned:
        plan_event(event_id=event.pk)  # a ledger row each, due at starts - 10 min
    unplanned = [event_on(topic, starts_at=starts, lead=25) for _ in range(3)]  # no row yet: due at starts - 25
    row(planned[0], S.SENT, lag_ms=5)  # ended: not load
    assert Notification.objects.filter(state=S.PLANNED).count() == 4

    result = forecast(hours=24, bucket_seconds=60, now=now)
    assert result.total == 7
    assert result.minutes[minute_index(result, starts - timedelta(minutes=10))] == 4
    assert result.minutes[minute_index(result, starts - timedelta(minutes=25))] == 3
    assert result.peak.due == 4 and result.peak.start == starts - timedelta(minutes=10)

    plan_event(event_id=unplanned[0].pk)  # now in the ledger: still counted once
    assert forecast(hours=24, bucket_seconds=60, now=now).total == 7


def test_a_planted_peak_is_found_in_its_minute_and_bucket(settings):
    settings.NOTIFIER_CAPACITY_PER_MINUTE = 600  # 10 a second
    now = timezone.now()
    event = event_on(starts_in=-timedelta(hours=1))  # started: the rows alone are load
    peak = (now + timedelta(hours=12)).replace(minute=50, second=0, microsecond=0)
    for _ in range(30):
        row(event, S.PLANNED, due_at=peak + timedelta(seconds=5))
    for hour in range(1, 20):
        due = (now + timedelta(hours=hour)).replace(minute=20, second=0, microsecond=0)  # never the peak's minute
        row(event, S.ARMED if hour == 1 else S.PLANNED, due_at=due)
    row(event_on(canary_topic()), S.PLANNED, due_at=peak)  # never load
    row(event, S.PLANNED, due_at=now + timedelta(hours=30))  # beyond the window

    result = forecast(hours=24, bucket_seconds=3600, now=now)
    assert len(result.buckets) == 24 and result.total == 30 + 19
    assert result.peak_minute.start == peak and result.peak_minute.due == 30
    assert result.peak.start <= peak < result.peak.start + timedelta(hours=1) and result.peak.due >= 30
    assert result.capacity_per_minute == 600
    assert result.peak_utilisation == pytest.approx(30 / 600)
    assert result.expected_worst_lag_seconds == pytest.approx(3.0)  # 30 at 10/s


def test_what_if_adds_hypothetical_events_and_writes_nothing():
    now = timezone.now()
    event = event_on(make_topic())  # not planned: due 10 min before it starts, in 2 h
    row(event, S.PLANNED, due_at=now + timedelta(hours=2))
    before = (Notification.objects.count(), Event.objects.count())
    evening = (now + timedelta(hours=5)).replace(second=0, microsecond=0)

    base = forecast(hours=24, now=now)
    result = forecast(
        hours=24,
        now=now,
        additions=[
            Addition(starts_at=evening, count=5000),  # default lead (10): due 10 min before
            Addition(starts_at=evening, lead_minutes=60, count=7),
            Addition(starts_at=now - timedelta(minutes=1), count=99),  # already started: never sent
            Addition(starts_at=now + timedelta(minutes=3), count=2),  # due at once (planned late)
        ],
    )
    assert (Notification.objects.count(), Event.objects.count()) == before
    assert result.total == base.total + 5000 + 7 + 2
    assert result.minutes[minute_index(result, evening - timedelta(minutes=10))] == 5000
    assert result.minutes[minute_index(result, evening - timedelta(minutes=60))] == 7
    assert result.minutes[0] == 2
    assert result.peak_minute.start == evening - timedelta(minutes=10)
    assert result.expected_worst_lag_seconds > base.expected_worst_lag_seconds


def test_the_capacity_is_the_measured_rate_times_the_processes_unless_set(settings):
    from notifier.forecast import MEASURED_PER_PROCESS_PER_MINUTE, capacity_per_minute

    settings.NOTIFIER_CAPACITY_PER_MINUTE = 0
    settings.NOTIFIER_WORKER_PROCESSES = 3
    assert capacity_per_minute() == 3 * MEASURED_PER_PROCESS_PER_MINUTE
    settings.NOTIFIER_CAPACITY_PER_MINUTE = 1234
    assert capacity_per_minute() == 1234


def test_the_queue_model_carries_a_backlog_into_the_next_minutes():
    assert worst_lag_seconds([], 600) == 0
    assert worst_lag_seconds([0, 60, 0], 600) == pytest.approx(6.0)  # 60 at 10/s
    # 700 a minute at 600/min: 100 carried, so the second minute's last waits 800 / 10 = 80 s.
    assert worst_lag_seconds([700, 700], 600) == pytest.approx(80.0)
    assert worst_lag_seconds([700, 0, 700], 600) == pytest.approx(70.0)  # drained in between
    assert worst_lag_seconds([1500, 0, 0, 100], 600) == pytest.approx(150.0)
    # The benchmark's burst: 5,000 due at once at 1,891/s drained in 2.64 s (its p99: 2.61 s).
    assert worst_lag_seconds([5000], 1891 * 60) == pytest.approx(2.644, abs=0.001)
