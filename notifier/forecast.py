"""Tomorrow's load: notifications due per bucket over the next hours, the peak, and the lag
that peak is expected to cause at the engine's capacity (issue 14).

What is due comes from two places, each counted once: the ledger's live rows (planned,
armed) and the scheduled events that have no row yet for their current start and lead
(the nightly plan has not reached them). Their due time is the plan's own SQL
(``planning.DUE_SQL``, with the same clamp "due at once when planned late"), so the forecast
cannot drift from the lead rule. A what-if adds hypothetical events through that same
expression and writes nothing.

The lag model (a fluid queue, docs in the README's Operating section): the notifications
due in a minute all arrive at its first second (due times sit on round minutes, since
events start on them); the workers drain them in order at ``capacity_per_minute / 60``
per second; what a minute leaves undrained carries into the next. The worst lag is the
longest wait of the last notification of any minute: ``(carried + due) / rate``. The
benchmark's burst agrees: 5,000 due at once drained at 1,891/s is 2.6 s, and its p99 lag
was 2.61 s. The engine's own floor (about 0.1-0.2 s steady) is not included.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from delivery.models import NotificationState
from events.models import CANARY_TOPIC_SLUG, MAX_LEAD_MINUTES, Event
from notifier.planning import DUE_SQL, KEY_SQL
from notifier.sql import fetch_all, literals

# Notifications one Celery pool process sends per minute: the benchmark's burst drained
# 1,891 notifications/s with 1 worker x 4 pool processes against SNS at +20 ms
# (bench/results/2026-11-21-quick.md, "burst @ +20 ms: drained/s"), 472/s per process.
MEASURED_PER_PROCESS_PER_MINUTE = 28_300

MAX_HOURS = 168
_LIVE = literals(NotificationState.PLANNED, NotificationState.ARMED)
# Events whose notification can be due before ``until``: they start at most the longest lead later.
_START_BOUND = f"%(until)s + interval '{MAX_LEAD_MINUTES} minutes'"
BUCKET_SECONDS = (60, 120, 180, 240, 300, 360, 600, 720, 900, 1200, 1800, 3600)  # whole minutes dividing an hour

_DUE_SOURCES_SQL = f"""
SELECT date_trunc('minute', due), sum(weight) FROM (
    SELECT n.due_at AS due, 1 AS weight FROM delivery_notification n
    WHERE n.state IN ({_LIVE}) AND n.due_at >= %(start)s AND n.due_at < %(until)s
    UNION ALL
    -- the canary's rows, taken off: the line above reads the active index alone
    SELECT n.due_at, -1 FROM events_topic t JOIN events_event e ON e.topic_id = t.id
    JOIN delivery_notification n ON n.event_id = e.id
    WHERE t.slug = %(canary)s AND e.starts_at >= %(start)s AND e.starts_at < {_START_BOUND}
      AND n.state IN ({_LIVE}) AND n.due_at >= %(start)s AND n.due_at < %(until)s
    UNION ALL
    SELECT GREATEST({DUE_SQL}, %(now)s), 1 FROM events_event e JOIN events_topic t ON t.id = e.topic_id
    WHERE e.status = {literals(Event.Status.SCHEDULED)} AND t.slug <> %(canary)s
      AND e.starts_at > %(now)s AND e.starts_at < {_START_BOUND} AND {DUE_SQL} < %(until)s
      AND NOT EXISTS (SELECT 1 FROM delivery_notification n WHERE n.key = {KEY_SQL})
) due GROUP BY 1
"""
# Hypothetical events as rows shaped like an event and its topic, for the same DUE_SQL.
_ADDITIONS_SQL = f"""
SELECT date_trunc('minute', GREATEST({DUE_SQL}, %(now)s)), sum(e.count)
FROM unnest(%(starts)s::timestamptz[], %(leads)s::int[], %(counts)s::int[]) AS e(starts_at, lead_minutes, count)
CROSS JOIN (SELECT %(default_lead)s::int AS default_lead_minutes) t
WHERE e.starts_at > %(now)s AND GREATEST({DUE_SQL}, %(now)s) < %(until)s
GROUP BY 1
"""


@dataclass(frozen=True)
class Addition:
    """Hypothetical events: ``count`` of them starting at ``starts_at``, on a topic with
    the default lead unless ``lead_minutes`` is given."""

    starts_at: datetime
    lead_minutes: int | None = None
    count: int = 1


@dataclass(frozen=True)
class Bucket:
    start: datetime
    due: int


@dataclass(frozen=True)
class Forecast:
    start: datetime
    hours: int
    bucket_seconds: int
    buckets: list[Bucket]
    peak: Bucket
    peak_minute: Bucket
    capacity_per_minute: int
    peak_utilisation: float  # the peak minute's due over a minute's capacity
    expected_worst_lag_seconds: float
    total: int
    minutes: list[int] = field(repr=False, default_factory=list)  # due per minute, for charts


def worker_processes() -> int:
    return settings.NOTIFIER_WORKER_PROCESSES


def capacity_per_minute() -> int:
    """The setting when given, else the measured rate per pool process times the processes."""
    if settings.NOTIFIER_CAPACITY_PER_MINUTE:
        return settings.NOTIFIER_CAPACITY_PER_MINUTE
    return MEASURED_PER_PROCESS_PER_MINUTE * worker_processes()


def worst_lag_seconds(due_per_minute: list[int], capacity: int) -> float:
    """The queue model of the module docstring."""
    rate = capacity / 60
    carried = 0.0
    worst = 0.0
    for due in due_per_minute:
        waiting = carried + due
        if waiting:
            worst = max(worst, waiting / rate)
        carried = max(0.0, waiting - capacity)
    return worst


def _minute_counts(start: datetime, hours: int, now: datetime, additions: list[Addition]) -> list[int]:
    until = start + timedelta(hours=hours)
    params = {"start": start, "until": until, "now": now, "canary": CANARY_TOPIC_SLUG}
    rows = fetch_all(_DUE_SOURCES_SQL, params)
    if additions:
        rows += fetch_all(
            _ADDITIONS_SQL,
            {
                **params,
                "starts": [a.starts_at for a in additions],
                "leads": [a.lead_minutes for a in additions],
                "counts": [a.count for a in additions],
                "default_lead": settings.NOTIFIER_LEAD_MINUTES,
            },
        )
    minutes = [0] * (hours * 60)
    for minute, due in rows:
        index = int((minute - start).total_seconds() // 60)
        if 0 <= index < len(minutes):  # a row due before the window's first minute is overdue, not load
            minutes[index] += int(due)
    return minutes


def _peak(buckets: list[Bucket]) -> Bucket:
    return max(buckets, key=lambda bucket: bucket.due)  # the earliest of equal peaks


def forecast(
    *, hours: int = 24, bucket_seconds: int = 60, additions: list[Addition] | None = None, now: datetime | None = None
) -> Forecast:
    """Due per bucket from the current minute for ``hours``, with ``additions`` counted in."""
    now = now or timezone.now()
    start = now.replace(second=0, microsecond=0)
    minutes = _minute_counts(start, hours, now, additions or [])
    per_bucket = bucket_seconds // 60
    buckets = [
        Bucket(start + timedelta(minutes=first), sum(minutes[first : first + per_bucket]))
        for first in range(0, len(minutes), per_bucket)
    ]
    by_minute = [Bucket(start + timedelta(minutes=index), due) for index, due in enumerate(minutes)]
    capacity = capacity_per_minute()
    peak_minute = _peak(by_minute)
    return Forecast(
        start=start,
        hours=hours,
        bucket_seconds=bucket_seconds,
        buckets=buckets,
        peak=_peak(buckets),
        peak_minute=peak_minute,
        capacity_per_minute=capacity,
        peak_utilisation=peak_minute.due / capacity,
        expected_worst_lag_seconds=round(worst_lag_seconds(minutes, capacity), 3),
        total=sum(minutes),
        minutes=minutes,
    )
