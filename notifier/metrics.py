"""Outcome counters shared by every process (Redis hash), and the Prometheus text the
web process serves at /metrics, with live gauges read from the ledger's small indexes."""

import logging

from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from delivery.models import ACTIVE_STATES
from notifier.redis_client import redis_client

logger = logging.getLogger(__name__)

COUNTERS_KEY = "notifier:metrics:outcomes"


def count_outcome(outcome: str, amount: int = 1) -> None:
    """Count a terminal outcome (sent, failed, expired, ...); never fails the caller."""
    try:
        redis_client().hincrby(COUNTERS_KEY, outcome, amount)
    except Exception as exc:  # a metric must never stop a delivery
        logger.warning("metric not counted outcome=%s error=%s", outcome, exc)


class LedgerCollector:
    def collect(self):  # noqa: ANN201  (prometheus_client's collector protocol)
        from notifier.slo import live_counts, recent_lag

        outcomes = CounterMetricFamily(
            "notifier_notifications", "Notifications that reached a terminal state", labels=["state"]
        )
        try:
            counted = redis_client().hgetall(COUNTERS_KEY)
        except Exception as exc:  # Redis down: still serve what the ledger knows
            logger.warning("outcome counters unavailable: %s", exc)
            counted = {}
        for name, value in sorted(counted.items()):
            outcomes.add_metric([name.decode()], int(value))
        yield outcomes

        now = timezone.now()
        live = GaugeMetricFamily("notifier_live_notifications", "Notifications not yet terminal", labels=["state"])
        counts = live_counts(now=now)
        for state in ACTIVE_STATES:
            live.add_metric([str(state)], counts.by_state.get(state, 0))
        yield live
        yield GaugeMetricFamily(
            "notifier_overdue_notifications",
            "Live notifications more than the lag alert threshold past their due time",
            value=counts.overdue,
        )
        lag = recent_lag(now=now)
        quantiles = GaugeMetricFamily("notifier_lag_seconds", "Send lag over the last 15 minutes", labels=["quantile"])
        for label, value in (("0.5", lag.p50), ("0.99", lag.p99), ("0.999", lag.p999), ("1", lag.max)):
            quantiles.add_metric([label], (value or 0) / 1000)
        yield quantiles


def render_metrics() -> bytes:
    registry = CollectorRegistry()
    registry.register(LedgerCollector())
    return generate_latest(registry)
