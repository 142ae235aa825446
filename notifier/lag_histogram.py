"""Bucket maths of the send-lag histogram (``notifier_lag_seconds``): pure, no Redis.

Redis keeps one count per bucket a lag *falls in* (so one observation is one HINCRBY),
plus the sum and the count; the scrape turns them into Prometheus's cumulative
``le`` buckets. Bounds suit a 1-3 s SLO: fine below 3 s, coarse above.
"""

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping

BOUNDS_SECONDS: tuple[float, ...] = (0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60)
INF = "+Inf"
SUM_FIELD = "sum_ms"
COUNT_FIELD = "count"


def bound_label(bound: float) -> str:
    """The ``le`` label Prometheus clients write: 1 -> "1.0", 0.25 -> "0.25"."""
    return repr(float(bound))


BUCKET_LABELS: tuple[str, ...] = (*(bound_label(b) for b in BOUNDS_SECONDS), INF)


def bucket_of(lag_ms: int) -> str:
    """The label of the smallest bucket holding this lag (``le`` is inclusive); a negative
    lag (a clock step) counts as 0."""
    index = bisect_left(BOUNDS_SECONDS, max(lag_ms, 0) / 1000)
    return BUCKET_LABELS[index]


def increments(lags_ms: Iterable[int]) -> dict[str, int]:
    """The HINCRBY amounts for a batch of observations: per bucket, the sum (ms) and the count."""
    lags = [max(lag, 0) for lag in lags_ms]
    if not lags:
        return {}
    amounts: dict[str, int] = dict(Counter(bucket_of(lag) for lag in lags))
    amounts[SUM_FIELD] = sum(lags)
    amounts[COUNT_FIELD] = len(lags)
    return amounts


def cumulative(stored: Mapping[str, int]) -> tuple[list[tuple[str, float]], float]:
    """From the stored per-bucket counts: Prometheus's cumulative buckets (``+Inf`` last,
    equal to the count) and the sum in seconds."""
    buckets, running = [], 0
    for label in BUCKET_LABELS:
        running += int(stored.get(label, 0))
        buckets.append((label, float(running)))
    return buckets, int(stored.get(SUM_FIELD, 0)) / 1000
