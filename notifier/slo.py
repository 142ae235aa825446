"""The lag SLO: how late sends were, what is overdue, and the alerts on-call gets.

Lag is ``sent_at - due_at`` (SNS acknowledged the publish minus the due time).
Every figure here is of users' notifications: the canary's (issue 14) are left out, and
the canary is judged on its own (``notifier.canary.canary_problems``).
Alerts go to the log at ERROR and, when ``NOTIFIER_ALERT_TOPIC_ARN`` is set, to that
SNS topic for the operators.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from delivery.aws import sns_client
from delivery.models import ACTIVE_STATES, TERMINAL_STATES, NotificationState
from delivery.selectors import USERS_ONLY_SQL
from notifier.canary import canary_problems
from notifier.redis_client import redis_client
from notifier.sql import fetch_all, literals

logger = logging.getLogger(__name__)

RECENT = timedelta(minutes=15)
LAST_CHECK_KEY = "notifier:slo:last_check"

_SENT = literals(NotificationState.SENT)
_ACTIVE = literals(*ACTIVE_STATES)

_LAG_SQL = f"""
SELECT count(*), percentile_cont(ARRAY[0.5, 0.95, 0.99, 0.999]) WITHIN GROUP (ORDER BY lag_ms), max(lag_ms)
FROM delivery_notification
WHERE state = {_SENT} AND sent_at >= %(since)s AND sent_at < %(until)s AND {USERS_ONLY_SQL}
"""
_TERMINAL_SQL = f"""
SELECT state, count(*) FROM delivery_notification
WHERE state = ANY(%(states)s) AND updated_at >= %(since)s AND updated_at < %(until)s AND {USERS_ONLY_SQL}
GROUP BY state
"""
_LIVE_SQL = f"""
SELECT state, count(*), count(*) FILTER (WHERE due_at < %(overdue_before)s)
FROM delivery_notification WHERE state IN ({_ACTIVE}) AND {USERS_ONLY_SQL}
GROUP BY state
"""
_LATE_SENDS_SQL = f"""
SELECT id, lag_ms FROM delivery_notification
WHERE state = {_SENT} AND sent_at >= %(since)s AND sent_at < %(until)s AND lag_ms > %(limit_ms)s AND {USERS_ONLY_SQL}
ORDER BY lag_ms DESC LIMIT 50
"""
_OVERDUE_SQL = f"""
SELECT id, state, due_at FROM delivery_notification
WHERE state IN ({_ACTIVE}) AND due_at < %(overdue_before)s AND {USERS_ONLY_SQL}
ORDER BY due_at LIMIT 50
"""


@dataclass
class LagStats:
    count: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    p999: float | None = None
    max: float | None = None


@dataclass
class LiveCounts:
    by_state: dict[str, int] = field(default_factory=dict)
    overdue: int = 0


@dataclass
class SloReport:
    since: datetime
    until: datetime
    lag: LagStats
    outcomes: dict[str, int]
    live: LiveCounts


def lag_stats(*, since: datetime, until: datetime) -> LagStats:
    count, quantiles, worst = fetch_all(_LAG_SQL, {"since": since, "until": until})[0]
    if not count:
        return LagStats()
    p50, p95, p99, p999 = quantiles
    return LagStats(count=count, p50=p50, p95=p95, p99=p99, p999=p999, max=worst)


def recent_lag(*, now: datetime) -> LagStats:
    return lag_stats(since=now - RECENT, until=now)


def overdue_before(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.NOTIFIER_LAG_ALERT_SECONDS)


def live_counts(*, now: datetime) -> LiveCounts:
    counts = LiveCounts()
    for state, total, overdue in fetch_all(_LIVE_SQL, {"overdue_before": overdue_before(now)}):
        counts.by_state[state] = total
        counts.overdue += overdue
    return counts


def slo_report(*, since: datetime, until: datetime | None = None) -> SloReport:
    until = until or timezone.now()
    params = {"since": since, "until": until, "states": list(TERMINAL_STATES)}
    outcomes = {state: 0 for state in TERMINAL_STATES}
    outcomes.update(dict(fetch_all(_TERMINAL_SQL, params)))
    return SloReport(since, until, lag_stats(since=since, until=until), outcomes, live_counts(now=until))


def alert(subject: str, message: str) -> None:
    """Tell on-call: an ERROR log line always, the operators' SNS topic when configured."""
    logger.error("ALERT %s: %s", subject, message)
    topic_arn = settings.NOTIFIER_ALERT_TOPIC_ARN
    if not topic_arn:
        return
    try:
        sns_client().publish(TopicArn=topic_arn, Subject=f"[notifier] {subject}"[:100], Message=message)
    except Exception as exc:  # the log line above already carries the alert
        logger.warning("alert not published to %s: %s", topic_arn, exc)


def slo_check(*, now: datetime | None = None) -> list[str]:
    """The minute check: late sends since the last check, notifications overdue now,
    p99 over the last 15 minutes, the canary missing or late. Returns the subjects of the alerts it raised."""
    now = now or timezone.now()
    previous = redis_client().getset(LAST_CHECK_KEY, now.isoformat())
    since = datetime.fromisoformat(previous.decode()) if previous else now - timedelta(minutes=1)
    limit_ms = settings.NOTIFIER_LAG_ALERT_SECONDS * 1000
    raised = []

    late = fetch_all(_LATE_SENDS_SQL, {"since": since, "until": now, "limit_ms": limit_ms})
    if late:
        raised.append("late sends")
        listing = ", ".join(f"#{pk} {lag / 1000:.1f}s" for pk, lag in late)
        alert("late sends", f"{len(late)} notification(s) sent more than {limit_ms / 1000:.0f}s late: {listing}")

    overdue = fetch_all(_OVERDUE_SQL, {"overdue_before": overdue_before(now)})
    if overdue:
        raised.append("undelivered past due")
        listing = ", ".join(f"#{pk} {state} due {due:%H:%M:%S}" for pk, state, due in overdue)
        alert(
            "undelivered past due",
            f"{len(overdue)} notification(s) not sent {limit_ms / 1000:.0f}s after due: {listing}",
        )

    recent = recent_lag(now=now)
    target_ms = settings.NOTIFIER_LAG_P99_TARGET_SECONDS * 1000
    if recent.p99 is not None and recent.p99 > target_ms:
        raised.append("p99 lag over target")
        alert(
            "p99 lag over target",
            f"p99 lag over the last 15 min is {recent.p99 / 1000:.2f}s (target {target_ms / 1000:.1f}s, "
            f"{recent.count} sends)",
        )
    for subject, message in canary_problems(since=since, now=now):
        if subject not in raised:
            raised.append(subject)
        alert(subject, message)
    return raised
