"""The console's figures (issue 14): pure reads, each one bounded statement served by an
index of delivery migration 0005, together under 300 ms with a million ledger rows
(bench/dashboard.py measures it). The canary's own notifications never count here.

Lag percentiles come from a histogram of ``lag_ms`` (one row per distinct millisecond
value, read from an index-only scan) rather than ``percentile_cont`` over every row: the
same exact figures (a test holds them equal to ``slo.lag_stats``), without sorting the
800,000 sends of a busy week (350-500 ms here).

The figures over 24 hours and longer (their lag and outcomes, the lag per hour, tomorrow's
load) move slowly and cost the most: the beat computes them once a minute into the cache
(Redis, ``slow_figures_refresh``) and the page reads them there, with the time they were
computed. A figure older than two beats (beat down: the very moment on-call looks) is still
shown, with its age, while a worker recomputes it; only a figure the cache never held
(a new Redis, no Redis) is computed in the request. The live ones are read on every request.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from delivery.aws import sqs_client
from delivery.models import ACTIVE_STATES, TERMINAL_STATES, NotificationState
from delivery.queues import inbox_queue_names, queue_attributes
from delivery.selectors import failure_reason_sql, users_only_sql
from events.models import CANARY_TOPIC_SLUG
from notifier import canary, forecast
from notifier.enqueue import console_refresh_enqueue
from notifier.slo import LagStats, overdue_before
from notifier.sql import fetch_all, literals

logger = logging.getLogger(__name__)

S = NotificationState
T = TypeVar("T")
WINDOWS = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
DEFAULT_WINDOW = "24h"
MAX_TOPICS = 50  # outcomes per topic: the busiest ones; the totals still count every topic
MAX_REASONS = 20
SLOW_WINDOWS = ("24h", "7d")
SLOW_REFRESH_SECONDS = 60  # the beat's interval for slow_figures_refresh
SLOW_STALE_SECONDS = 2 * SLOW_REFRESH_SECONDS  # older: shown, and a worker asked to recompute
SLOW_KEEP_SECONDS = 24 * 60 * 60  # a stale figure with its age beats a page that takes a second
# The beat refreshes the slow figures only while someone looked at the console this recently:
# an engine nobody watches does not read a day of the ledger every minute (issue 15).
WATCHED_KEY = "console:watched"
WATCHED_SECONDS = 15 * 60
_REFRESH_ASKED_KEY = "console:refresh-asked"

NOT_CANARY = users_only_sql("n")

# Live rows: counted from the active index alone; the canary's few live rows (events that
# start within a day or so) are counted apart and taken off, so no heap visit per row.
_LIVE_SQL = f"""
SELECT n.state, count(*), count(*) FILTER (WHERE n.due_at < %(overdue_before)s)
FROM delivery_notification n WHERE n.state IN ({literals(*ACTIVE_STATES)})
GROUP BY n.state
"""
_LIVE_CANARY_SQL = f"""
SELECT n.state, count(*), count(*) FILTER (WHERE n.due_at < %(overdue_before)s)
FROM events_topic t JOIN events_event e ON e.topic_id = t.id JOIN delivery_notification n ON n.event_id = e.id
WHERE t.slug = %(canary)s AND e.starts_at >= %(canary_since)s AND n.state IN ({literals(*ACTIVE_STATES)})
GROUP BY n.state
"""
_STUCK_SQL = f"""
SELECT count(*) FROM delivery_notification n
WHERE n.state = {literals(S.SENDING)} AND n.updated_at < %(stuck_before)s AND {NOT_CANARY}
"""
# In due order down the active index, stopping at the first row that is not the canary's.
_NEXT_DUE_SQL = f"""
SELECT min(first) FROM (
    (SELECT n.due_at AS first FROM delivery_notification n
     WHERE n.state = {literals(S.PLANNED)} AND {NOT_CANARY} ORDER BY n.due_at LIMIT 1)
    UNION ALL
    (SELECT n.due_at FROM delivery_notification n
     WHERE n.state = {literals(S.ARMED)} AND {NOT_CANARY} ORDER BY n.due_at LIMIT 1)
) firsts
"""
# The canary's live rows: its events start minutes ahead, and the arm pass expires a row at
# its event's start; a day covers an arm pass down that long.
CANARY_LIVE_SPAN = timedelta(days=1)
_LAG_HISTOGRAM_SQL = f"""
SELECT n.lag_ms, count(*) FROM delivery_notification n
WHERE n.state = {literals(S.SENT)} AND n.sent_at >= %(since)s AND n.sent_at < %(until)s AND {NOT_CANARY}
GROUP BY n.lag_ms ORDER BY n.lag_ms
"""
_LAG_PER_HOUR_SQL = f"""
SELECT date_trunc('hour', n.sent_at), count(*),
       percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY n.lag_ms), max(n.lag_ms)
FROM delivery_notification n
WHERE n.state = {literals(S.SENT)} AND n.sent_at >= %(since)s AND n.sent_at < %(until)s AND {NOT_CANARY}
GROUP BY 1
"""
# Per event first (a small hash, index-only), then per topic, where the canary's topic drops out.
_OUTCOMES_SQL = f"""
SELECT t.slug, t.name, per_event.state, sum(per_event.total)::bigint FROM (
    SELECT n.event_id, n.state, count(*) AS total FROM delivery_notification n
    WHERE n.state IN ({literals(*TERMINAL_STATES)}) AND n.updated_at >= %(since)s AND n.updated_at < %(until)s
    GROUP BY n.event_id, n.state
) per_event JOIN events_event e ON e.id = per_event.event_id JOIN events_topic t ON t.id = e.topic_id
WHERE t.slug <> %(canary)s
GROUP BY t.slug, t.name, per_event.state
"""
_FAILURES_SQL = f"""
SELECT {failure_reason_sql("n.last_error")} AS reason, count(*) FROM delivery_notification n
WHERE n.state = {literals(S.FAILED)} AND n.updated_at >= %(since)s AND n.updated_at < %(until)s AND {NOT_CANARY}
GROUP BY reason ORDER BY count(*) DESC, reason LIMIT {MAX_REASONS}
"""


@contextmanager
def _cache_optional(what: str) -> Iterator[None]:
    """The console's cache is an optimisation: a failing one is logged and the page goes
    on without it (the figure computed anyway, or shown stale with its age)."""
    try:
        yield
    except Exception as exc:
        logger.warning("console cache unavailable (%s): %s", what, exc)


def _slow(name: str, compute: Callable[[], T], as_of: list[datetime]) -> T:
    """A slow-moving figure from the cache, its computing time appended to ``as_of``;
    computed (and kept) when the cache never held it; without Redis, computed every time:
    the page must not fail for its cache."""
    key = f"console:{name}"
    now = timezone.now()
    found = None
    with _cache_optional("read"):
        found = cache.get(key)
    if found is not None:
        computed_at, value = found
        as_of.append(computed_at)
        if (now - computed_at).total_seconds() > SLOW_STALE_SECONDS:
            _ask_for_refresh()
        return value
    value = compute()
    as_of.append(now)
    with _cache_optional("write"):
        cache.set(key, (now, value), SLOW_KEEP_SECONDS)
    return value


def _ask_for_refresh() -> None:
    """One refresh task a minute at most, however many pages find the figures stale."""
    with _cache_optional("refresh not requested"):
        if cache.add(_REFRESH_ASKED_KEY, 1, SLOW_REFRESH_SECONDS):
            console_refresh_enqueue()


def _slow_parts(now: datetime) -> dict[str, Callable[[], Any]]:
    parts: dict[str, Callable[[], Any]] = {
        "lag-per-hour": lambda: lag_per_hour(now=now),
        "forecast": lambda: forecast.forecast(hours=24, bucket_seconds=60, now=now),
    }
    for window in SLOW_WINDOWS:
        since = now - WINDOWS[window]
        parts[f"lag:{window}"] = lambda since=since: lag_summary(since=since, until=now)
        parts[f"outcomes:{window}"] = lambda since=since: outcomes(since=since, until=now)
        parts[f"failures:{window}"] = lambda since=since: failures(since=since, until=now)
    return parts


def slow_figures_refresh(*, now: datetime | None = None) -> None:
    """Compute every slow figure into the cache (the beat, every ``SLOW_REFRESH_SECONDS``)."""
    now = now or timezone.now()
    figures = {f"console:{name}": (now, compute()) for name, compute in _slow_parts(now).items()}
    cache.set_many(figures, SLOW_KEEP_SECONDS)


def console_watched() -> bool:
    """Someone looked at the console within WATCHED_SECONDS."""
    return cache.get(WATCHED_KEY) is not None


def slow_figures_refresh_if_watched() -> bool:
    """The beat's refresh, when the console is watched (a page that finds the figures
    stale asks for one anyway); True if it ran."""
    if not console_watched():
        return False
    slow_figures_refresh()
    return True


def forget_slow_figures() -> None:
    """Drop the cached slow figures: the next request computes every one (the bench's cold case)."""
    cache.delete_many([f"console:{name}" for name in _slow_parts(timezone.now())])


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 3)


def _percentile(histogram: list[tuple[int, int]], total: int, fraction: float) -> float:
    """``percentile_cont`` over the rows a (value, count) histogram stands for: linear
    interpolation between the values at ranks floor and ceil of ``fraction * (total - 1)``."""
    position = fraction * (total - 1)
    low_rank, high_rank = int(position), min(int(position) + 1, total - 1)
    low = high = None
    seen = 0
    for value, count in histogram:
        if low is None and low_rank < seen + count:
            low = value
        if high_rank < seen + count:
            high = value
            break
        seen += count
    return low + (high - low) * (position - low_rank)


def lag_summary(*, since: datetime, until: datetime) -> LagStats:
    """Lag of the sends acknowledged in [since, until), in milliseconds, as ``slo.lag_stats``."""
    histogram = [(int(value), int(count)) for value, count in fetch_all(
        _LAG_HISTOGRAM_SQL, {"since": since, "until": until, "canary": CANARY_TOPIC_SLUG}
    )]  # fmt: skip
    total = sum(count for _, count in histogram)
    if not total:
        return LagStats()
    p50, p95, p99, p999 = (_percentile(histogram, total, f) for f in (0.5, 0.95, 0.99, 0.999))
    return LagStats(count=total, p50=p50, p95=p95, p99=p99, p999=p999, max=histogram[-1][0])


def live(*, now: datetime) -> dict[str, Any]:
    stuck_before = now - timedelta(seconds=settings.NOTIFIER_SENDING_TIMEOUT_SECONDS)
    params = {"overdue_before": overdue_before(now), "stuck_before": stuck_before, "canary": CANARY_TOPIC_SLUG,
              "canary_since": now - CANARY_LIVE_SPAN}  # fmt: skip
    figures: dict[str, Any] = {state.value: 0 for state in ACTIVE_STATES}
    figures["overdue"] = 0
    for sql, sign in ((_LIVE_SQL, 1), (_LIVE_CANARY_SQL, -1)):
        for state, total, overdue in fetch_all(sql, params):
            figures[state] += sign * total
            figures["overdue"] += sign * overdue
    figures["stuck_sending"] = fetch_all(_STUCK_SQL, params)[0][0]
    figures["next_due"] = fetch_all(_NEXT_DUE_SQL, params)[0][0]
    return figures


def queue_depths() -> dict[str, int | None]:
    """Messages waiting in the inbox queues and their dead-letter queues (standard and FIFO
    together); None when SQS cannot be asked (the page says "unavailable")."""
    depths: dict[str, int | None] = {"inbox": 0, "dead_letter": 0}
    names = inbox_queue_names()  # inbox, inbox-dlq, inbox.fifo, inbox-dlq.fifo
    try:
        existing = set(
            sqs_client().list_queues(QueueNamePrefix=settings.NOTIFIER_INBOX_QUEUE_NAME).get("QueueUrls", [])
        )
        for url in existing:
            name = url.rsplit("/", 1)[-1]
            if name in names:
                kind = "dead_letter" if "-dlq" in name else "inbox"
                depth = int(queue_attributes(url, "ApproximateNumberOfMessages")["ApproximateNumberOfMessages"])
                depths[kind] = (depths[kind] or 0) + depth
    except Exception:  # any AWS or network failure: the rest of the page stands
        return {"inbox": None, "dead_letter": None}
    return depths


def lag_windows(*, now: datetime, as_of: list[datetime] | None = None) -> list[dict[str, Any]]:
    as_of = [] if as_of is None else as_of
    target = settings.NOTIFIER_LAG_P99_TARGET_SECONDS
    rows = []
    for name, span in WINDOWS.items():
        since = now - span
        if name in SLOW_WINDOWS:
            stats = _slow(f"lag:{name}", lambda since=since: lag_summary(since=since, until=now), as_of)
        else:
            stats = lag_summary(since=since, until=now)
        row = {key: _seconds(value) if key != "count" else value for key, value in asdict(stats).items()}
        rows.append({"window": name, **row, "over_target": row["p99"] is not None and row["p99"] > target})
    return rows


def lag_per_hour(*, now: datetime) -> list[dict[str, Any]]:
    """The last 24 hours, oldest first, one entry per hour (empty hours included)."""
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    found = {
        hour: (count, quantiles, worst)
        for hour, count, quantiles, worst in fetch_all(
            _LAG_PER_HOUR_SQL, {"since": first, "until": now, "canary": CANARY_TOPIC_SLUG}
        )
    }
    hours = []
    for index in range(24):
        hour = first + timedelta(hours=index)
        count, quantiles, worst = found.get(hour, (0, [None, None], None))
        hours.append({"start": hour, "count": count, "p50": _seconds(quantiles[0]), "p99": _seconds(quantiles[1]),
                      "max": _seconds(worst)})  # fmt: skip
    return hours


def outcomes(*, since: datetime, until: datetime) -> dict[str, Any]:
    params = {"since": since, "until": until, "canary": CANARY_TOPIC_SLUG}
    totals = {state.value: 0 for state in TERMINAL_STATES}
    topics: dict[str, dict[str, Any]] = {}
    for slug, name, state, total in fetch_all(_OUTCOMES_SQL, params):
        totals[state] += total
        row = topics.setdefault(slug, {"slug": slug, "name": name, **{s.value: 0 for s in TERMINAL_STATES}})
        row[state] = total
    busiest = sorted(topics.values(), key=lambda row: (-sum(row[s.value] for s in TERMINAL_STATES), row["slug"]))
    return {"totals": totals, "topics": busiest[:MAX_TOPICS], "topics_total": len(topics)}


def failure_url(reason: str, since: datetime) -> str:
    """The Notification admin list of the rows this reason counts: failed with it
    (delivery.admin.FailureReasonFilter) since the window's start, as the count is."""
    query = urlencode({"state__exact": S.FAILED.value, "reason": reason, "updated_at__gte": since.isoformat()})
    return f"{reverse('admin:delivery_notification_changelist')}?{query}"


def failures(*, since: datetime, until: datetime) -> list[dict[str, Any]]:
    rows = fetch_all(_FAILURES_SQL, {"since": since, "until": until, "canary": CANARY_TOPIC_SLUG})
    return [{"reason": reason, "count": count, "url": failure_url(reason, since)} for reason, count in rows]


CANARY_RUNS_SHOWN = 12


def canary_context() -> dict[str, Any]:
    """The canary panel (``admin/dashboard/_canary.html``): its interval (0: off), the
    last arrival and the last on-time one, and the latest runs; a few indexed rows."""
    interval = settings.NOTIFIER_CANARY_INTERVAL_SECONDS
    last, success = canary.last_canary(), canary.last_canary_success()
    return {
        "interval_seconds": interval,
        "last_lag_seconds": _seconds(last.lag_ms) if last else None,
        "last_received_at": last.received_at if last else None,
        "last_success_at": success.received_at if success else None,
        "runs": [
            {
                "due_at": run.due_at,
                "state": run.state,
                "published_at": run.published_at,
                "received_at": run.received_at,
                "lag_seconds": _seconds(run.lag_ms),
            }
            for run in canary.recent_canary_runs(CANARY_RUNS_SHOWN)
        ],
    }


def dashboard_data(*, window: str = DEFAULT_WINDOW, now: datetime | None = None) -> dict[str, Any]:
    """Everything the page shows, as plain data (the JSON endpoint returns it as is)."""
    now = now or timezone.now()
    since = now - WINDOWS[window]

    as_of: list[datetime] = []  # when each slow figure shown was computed
    with _cache_optional("watched mark"):
        cache.set(WATCHED_KEY, 1, WATCHED_SECONDS)

    def over_window(name: str, compute: Callable[..., T]) -> T:
        if window in SLOW_WINDOWS:
            return _slow(f"{name}:{window}", lambda: compute(since=since, until=now), as_of)
        return compute(since=since, until=now)

    tomorrow = _slow("forecast", lambda: forecast.forecast(hours=24, bucket_seconds=60, now=now), as_of)
    lag = {"target_seconds": settings.NOTIFIER_LAG_P99_TARGET_SECONDS, "windows": lag_windows(now=now, as_of=as_of)}
    lag_hourly = _slow("lag-per-hour", lambda: lag_per_hour(now=now), as_of)
    outcomes_shown, failures_shown = over_window("outcomes", outcomes), over_window("failures", failures)
    return {
        "generated_at": now,
        "slow_figures_as_of": min(as_of),
        "slow_figures_stale": (now - min(as_of)).total_seconds() > SLOW_STALE_SECONDS,
        "window": window,
        "live": live(now=now),
        "queues": queue_depths(),
        "lag": lag,
        "lag_per_hour": lag_hourly,
        "outcomes": outcomes_shown,
        "failures": failures_shown,
        "forecast": {
            "start": tomorrow.start,
            "total": tomorrow.total,
            "peak": {"start": tomorrow.peak_minute.start, "due": tomorrow.peak_minute.due},
            "capacity_per_minute": tomorrow.capacity_per_minute,
            "peak_utilisation": round(tomorrow.peak_utilisation, 4),
            "expected_worst_lag_seconds": tomorrow.expected_worst_lag_seconds,
            "due_per_minute": tomorrow.minutes,
        },
        "canary": canary_context(),
    }
