"""Engine-wide figures for Prometheus: outcome counters and the lag histogram kept in
Redis (shared by every process), and the text the web process serves at /metrics, with
live gauges read from the ledger's small indexes and the canary's last run.

The Redis counters reset when Redis loses its data (a flush, a restart without
persistence): Prometheus's ``rate()`` and ``increase()`` treat a drop as a counter
reset, so dashboards and alerts built on them stay right. Every web pod serves the same
Redis-held values: aggregate them across pods with ``max``, never ``sum``.

The canary's notifications are left out of both (issue 14): they are not users' traffic.
"""

import logging
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from delivery.models import ACTIVE_STATES
from notifier.lag_histogram import cumulative, increments
from notifier.redis_client import redis_client

logger = logging.getLogger(__name__)

COUNTERS_KEY = "notifier:metrics:outcomes"
LAG_HISTOGRAM_KEY = "notifier:metrics:lag"


def count_outcome(outcome: str, amount: int = 1) -> None:
    """Count a terminal outcome (sent, failed, expired, ...); never fails the caller."""
    if amount <= 0:
        return
    try:
        redis_client().hincrby(COUNTERS_KEY, outcome, amount)
    except Exception as exc:  # a metric must never stop a delivery
        logger.warning("metric not counted outcome=%s error=%s", outcome, exc)


def observe_lags(lags_ms: Iterable[int]) -> None:
    """Count sent notifications' lags into the histogram (one round trip for a batch);
    never fails the caller."""
    amounts = increments(lags_ms)
    if not amounts:
        return
    try:
        pipe = redis_client().pipeline(transaction=True)  # a scrape sees all of a batch or none
        for field, amount in amounts.items():
            pipe.hincrby(LAG_HISTOGRAM_KEY, field, amount)
        pipe.execute()
    except Exception as exc:
        logger.warning("lag histogram not updated error=%s", exc)


def _read_hash(key: str) -> dict[str, int]:
    return {name.decode(): int(value) for name, value in redis_client().hgetall(key).items()}


def outcome_counts() -> dict[str, int]:
    """The outcome counters as stored; raises if Redis cannot be read."""
    return _read_hash(COUNTERS_KEY)


def _redis_hash(key: str) -> dict[str, int]:
    try:
        return _read_hash(key)
    except Exception as exc:  # Redis down: still serve what the ledger knows
        logger.warning("metrics hash %s unavailable: %s", key, exc)
        return {}


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counted() -> Iterator[Metric]:
    outcomes = CounterMetricFamily(
        "notifier_notifications",
        "Notifications that reached a terminal state (users' topics; resets with Redis)",
        labels=["state"],
    )
    for name, value in sorted(_redis_hash(COUNTERS_KEY).items()):
        outcomes.add_metric([name], value)
    yield outcomes
    buckets, total = cumulative(_redis_hash(LAG_HISTOGRAM_KEY))
    yield HistogramMetricFamily(
        "notifier_lag_seconds",
        "Send lag (SNS acknowledged minus due) of users' notifications (resets with Redis)",
        buckets=buckets,
        sum_value=total,
    )


def _ledger() -> Iterator[Metric]:
    from notifier.slo import live_counts

    counts = live_counts(now=timezone.now())
    live = GaugeMetricFamily("notifier_live_notifications", "Notifications not yet terminal", labels=["state"])
    for state in ACTIVE_STATES:
        live.add_metric([str(state)], counts.by_state.get(state, 0))
    yield live
    yield _gauge(
        "notifier_overdue_notifications",
        "Live notifications more than the lag alert threshold past their due time",
        counts.overdue,
    )


def _canary() -> Iterator[Metric]:
    from notifier.canary import last_canary, last_canary_success

    interval = settings.NOTIFIER_CANARY_INTERVAL_SECONDS
    yield _gauge("notifier_canary_interval_seconds", "Seconds between two canary runs (0: off)", interval)
    last = last_canary()
    if last is not None and last.lag_ms is not None:
        yield _gauge(
            "notifier_canary_lag_seconds", "Lag of the last canary received (SQS arrival minus due)", last.lag_ms / 1000
        )
    success = last_canary_success()
    if interval or success is not None:
        # 0 when none ever arrived: "time() - this" is then huge and the missing alert fires.
        yield _gauge(
            "notifier_canary_last_success_timestamp_seconds",
            "Unix time the last canary arrived in the engine's canary queue (0: never)",
            success.received_at.timestamp() if success is not None and success.received_at else 0,
        )


def _targets() -> Iterator[Metric]:
    # The alert rules compare against these, so one setting changes the engine's own
    # check and Prometheus's alike.
    yield _gauge("notifier_lag_p99_target_seconds", "The lag SLO: p99 target", settings.NOTIFIER_LAG_P99_TARGET_SECONDS)
    yield _gauge(
        "notifier_lag_alert_seconds", "Lag past which one notification is late", settings.NOTIFIER_LAG_ALERT_SECONDS
    )


class LedgerCollector:
    def collect(self) -> Iterator[Metric]:
        yield from _counted()
        yield from _ledger()
        yield from _canary()
        yield from _targets()


def render_metrics() -> bytes:
    registry = CollectorRegistry()
    registry.register(LedgerCollector())
    return generate_latest(registry)
