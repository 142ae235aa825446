"""The operator's console at ledger scale: bulk-load N notification rows with SQL, then time
the dashboard's figures, the page itself and the forecast (issue 14: under 300 ms at 1 M).

The ledger it loads looks like a busy week: 85 % of the rows over the past 7 days (mostly
sent, with lags; some failed, expired, superseded, cancelled), the rest planned over the
next 24 h with a peak at 19:50 UTC, plus a few hundred events not planned yet and a canary
topic whose rows the figures must leave out.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PAST_SHARE = 0.85
EVENTS_PER_TOPIC = 500
TOPICS = 12
UNPLANNED_EVENTS = 300

_TOPICS_SQL = """
INSERT INTO events_topic (slug, name, description, default_lead_minutes, fifo, sns_topic_arn, created_at, updated_at)
SELECT 'bench-console-' || t, 'Bench console ' || t, '', 10, false, '', now(), now()
FROM generate_series(1, %(topics)s) AS t
"""
# One event per (topic, slot); the ledger rows point at them round-robin.
_EVENTS_SQL = """
INSERT INTO events_event (topic_id, title, description, starts_at, lead_minutes, status, created_at, updated_at)
SELECT t.id, 'Bench console event ' || t.id || '-' || s, '', now() - interval '7 days' + s * interval '20 minutes',
       NULL, 'scheduled', now(), now()
FROM events_topic t CROSS JOIN generate_series(1, %(per_topic)s) AS s
WHERE t.slug LIKE 'bench-console-%%'
"""
# Past rows: due uniformly over the last 7 days; the state from a hash of n, lags skewed
# (most under a second, a tail of several seconds).
_PAST_SQL = """
WITH ev AS (SELECT array_agg(id ORDER BY id) AS ids FROM events_event WHERE title LIKE 'Bench console event %%')
INSERT INTO delivery_notification
    (event_id, key, lead_minutes, due_at, deadline, state, armed_at, attempts, sent_at, lag_ms,
     sns_message_id, last_error, created_at, updated_at)
SELECT ev.ids[1 + n %% array_length(ev.ids, 1)], md5('past' || n), 10, due, due + interval '10 minutes', state,
       due - interval '1 minute', 1,
       CASE WHEN state = 'sent' THEN due + lag * interval '1 millisecond' END,
       CASE WHEN state = 'sent' THEN lag END,
       '', CASE state WHEN 'failed' THEN (ARRAY['InvalidParameter: Endpoint is disabled',
                                               'AuthorizationError: not authorized', 'retries exhausted: Throttling'])
                                         [1 + n %% 3]
                      WHEN 'expired' THEN 'deadline passed' WHEN 'superseded' THEN 'event moved'
                      WHEN 'cancelled' THEN 'event cancelled' ELSE '' END,
       due - interval '1 day', due + lag * interval '1 millisecond'
FROM ev, generate_series(1::bigint, %(past)s) AS n,
LATERAL (SELECT now() - interval '7 days' * (n::float / %(past)s) AS due,
                CASE WHEN n %% 100 < 95 THEN 'sent' WHEN n %% 100 < 97 THEN 'failed'
                     WHEN n %% 100 < 98 THEN 'expired' WHEN n %% 100 < 99 THEN 'superseded'
                     ELSE 'cancelled' END AS state,
                (50 + (n * 7919) %% 400 + CASE WHEN n %% 997 = 0 THEN 4000 ELSE 0 END)::int AS lag) AS row
"""
# Future rows: planned over the next 24 h, one in five at 19:50 UTC (the evening peak).
_FUTURE_SQL = """
WITH ev AS (SELECT array_agg(id ORDER BY id) AS ids FROM events_event WHERE title LIKE 'Bench console event %%')
INSERT INTO delivery_notification
    (event_id, key, lead_minutes, due_at, deadline, state, attempts, sns_message_id, last_error,
     created_at, updated_at)
SELECT ev.ids[1 + n %% array_length(ev.ids, 1)], md5('future' || n), 10, due, due + interval '10 minutes',
       'planned', 0, '', '', now(), now()
FROM ev, generate_series(1::bigint, %(future)s) AS n,
LATERAL (SELECT CASE WHEN n %% 5 = 0 THEN %(peak)s
                     ELSE now() + interval '24 hours' * (n::float / %(future)s) END AS due) AS row
"""
_UNPLANNED_SQL = """
INSERT INTO events_event (topic_id, title, description, starts_at, lead_minutes, status, created_at, updated_at)
SELECT (SELECT min(id) FROM events_topic WHERE slug LIKE 'bench-console-%%'), 'Bench unplanned ' || s, '',
       now() + interval '1 hour' + s * interval '4 minutes', NULL, 'scheduled', now(), now()
FROM generate_series(1, %(unplanned)s) AS s
"""


def load_ledger(rows: int) -> None:
    """Empty the ledger and fill it with ``rows`` notifications (about 10 s per million here)."""
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    from bench.harness import clean_database
    from events.models import CANARY_TOPIC_SLUG

    clean_database()
    now = datetime.now(UTC)
    peak = now.replace(hour=19, minute=50, second=0, microsecond=0)
    if peak <= now:
        peak += timedelta(days=1)
    future = int(rows * (1 - PAST_SHARE))
    with connection.cursor() as cursor:
        cursor.execute(_TOPICS_SQL, {"topics": TOPICS})
        cursor.execute(_EVENTS_SQL, {"per_topic": EVENTS_PER_TOPIC})
        cursor.execute(_PAST_SQL, {"past": rows - future})
        cursor.execute(_FUTURE_SQL, {"future": future, "peak": peak})
        cursor.execute(_UNPLANNED_SQL, {"unplanned": UNPLANNED_EVENTS})
        # The canary's topic with a week of its own sends: on the page they must not count.
        cursor.execute(
            "INSERT INTO events_topic (slug, name, description, default_lead_minutes, fifo, sns_topic_arn, "
            "created_at, updated_at) VALUES (%s, 'Canary', '', 1, false, '', now(), now())",
            [CANARY_TOPIC_SLUG],
        )
        cursor.execute("VACUUM ANALYZE delivery_notification")
        cursor.execute("ANALYZE events_event")


@contextmanager
def local_sqs() -> Iterator[None]:
    """The page asks SQS for the inbox queues' depths: a moto server here, with the inbox
    queue and its dead-letter queue made, so those calls are local round trips, not AWS."""
    from moto.server import ThreadedMotoServer

    from delivery.aws import reset_clients
    from delivery.queues import inbox_queue_ensure

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    reset_clients()
    try:
        inbox_queue_ensure(fifo=False)
        yield
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
        reset_clients()


def _timed(run: Callable[[], object], times: int) -> dict[str, float]:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        spent.append((time.perf_counter() - started) * 1000)
    spent.sort()
    return {"median_ms": statistics.median(spent), "p95_ms": spent[max(0, round(0.95 * len(spent)) - 1)],
            "max_ms": spent[-1]}  # fmt: skip


def console(rows: int, *, requests: int = 10) -> dict:
    """Load ``rows`` ledger rows, then time (median, p95, max of ``requests``) the beat's
    refresh of the slow figures, the page cold (every figure computed: their cache dropped
    first) and warm (the slow figures from the cache, as the beat keeps them), its JSON, and
    the forecast with and without a what-if. One untimed request first (templates, connection)."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from notifier import dashboard, forecast

    started = time.perf_counter()
    load_ledger(rows)
    load_s = time.perf_counter() - started
    user, _ = get_user_model().objects.get_or_create(username="bench-operator", defaults={"is_staff": True})
    client = Client(HTTP_HOST="localhost")  # an allowed host with DEBUG off
    client.force_login(user)

    def get(path: str, *, cold: bool) -> Callable[[], None]:
        def run() -> None:
            if cold:
                dashboard.forget_slow_figures()
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)

        return run

    evening = timezone.now() + timedelta(hours=6)
    what_if = [forecast.Addition(starts_at=evening, count=5000)]
    timed = {
        "refresh": dashboard.slow_figures_refresh,
        "page_cold": get("/admin/dashboard/", cold=True),
        "page_warm": get("/admin/dashboard/", cold=False),
        "page_7d_cold": get("/admin/dashboard/?window=7d", cold=True),
        "json_warm": get("/admin/dashboard/data/", cold=False),
        "forecast": lambda: forecast.forecast(hours=24, bucket_seconds=60),
        "what_if": lambda: forecast.forecast(hours=24, bucket_seconds=60, additions=what_if),
    }
    figures: dict = {"rows": rows, "load_s": load_s}
    with local_sqs():
        get("/admin/dashboard/", cold=True)()
        for name, run in timed.items():
            if name == "page_warm":
                dashboard.slow_figures_refresh()  # as the beat keeps them
            figures.update(
                {f"{name}_{key}": value for key, value in _timed(run, 3 if name == "refresh" else requests).items()}
            )
    snapshot = forecast.forecast(hours=24, bucket_seconds=60)
    figures.update(forecast_peak_due=snapshot.peak.due, forecast_worst_lag_s=snapshot.expected_worst_lag_seconds)
    return figures
