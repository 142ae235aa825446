"""The console's figures over known ledger rows: each equals what the ledger holds, the
canary's rows never count, and the exact lag percentiles match the SLO report's."""

from datetime import timedelta

import pytest
from django.utils import timezone

from delivery.aws import reset_clients, sqs_client
from delivery.models import NotificationState as S
from delivery.queues import inbox_dead_letter_name, inbox_queue_ensure
from notifier import dashboard
from notifier.slo import lag_stats
from tests.console.ledger import canary_topic, event_on, row
from tests.factories import make_topic
from tests.ids import unique_slug

pytestmark = pytest.mark.django_db


def test_lag_percentiles_from_the_histogram_equal_the_slo_reports():
    event = event_on()
    lags = [5, 5, 5, 17, 250, 250, 999, 1000, 1001, 4000, 12_345, *range(100, 1100, 7)]
    for lag in lags:
        row(event, S.SENT, lag_ms=lag, ended_ago=timedelta(minutes=3))
    now = timezone.now()
    mine = dashboard.lag_summary(since=now - timedelta(hours=1), until=now)
    theirs = lag_stats(since=now - timedelta(hours=1), until=now)
    assert mine.count == theirs.count == len(lags)
    for field in ("p50", "p95", "p99", "p999", "max"):
        assert getattr(mine, field) == pytest.approx(getattr(theirs, field)), field


def test_lag_windows_hold_only_their_sends_and_flag_the_target(settings):
    settings.NOTIFIER_LAG_P99_TARGET_SECONDS = 3.0
    event = event_on()
    row(event, S.SENT, lag_ms=200, ended_ago=timedelta(minutes=5))  # in every window
    row(event, S.SENT, lag_ms=9000, ended_ago=timedelta(minutes=30))  # 1 h and longer
    row(event, S.SENT, lag_ms=400, ended_ago=timedelta(days=3))  # 7 d only
    row(event_on(canary_topic()), S.SENT, lag_ms=60_000, ended_ago=timedelta(minutes=5))  # never
    windows = {w["window"]: w for w in dashboard.lag_windows(now=timezone.now())}
    assert [windows[name]["count"] for name in ("15m", "1h", "24h", "7d")] == [1, 2, 2, 3]
    assert windows["15m"]["max"] == 0.2 and not windows["15m"]["over_target"]
    assert windows["1h"]["max"] == 9.0 and windows["1h"]["over_target"]
    hours = dashboard.lag_per_hour(now=timezone.now())
    assert len(hours) == 24 and sum(h["count"] for h in hours) == 2
    assert hours[-1]["count"] + hours[-2]["count"] == 2  # both within the last two clock hours


def test_live_counts_overdue_stuck_and_next_due(settings):
    settings.NOTIFIER_LAG_ALERT_SECONDS = 30
    settings.NOTIFIER_SENDING_TIMEOUT_SECONDS = 30
    now = timezone.now()
    event = event_on()
    row(event, S.PLANNED, due_at=now + timedelta(minutes=7))
    row(event, S.PLANNED, due_at=now + timedelta(minutes=3))
    row(event, S.PLANNED, due_at=now - timedelta(minutes=2))  # overdue
    row(event, S.ARMED, due_at=now + timedelta(seconds=90))
    row(event, S.SENDING, due_at=now - timedelta(minutes=1), ended_ago=timedelta(minutes=1))  # stuck and overdue
    row(event, S.SENDING, due_at=now, ended_ago=timedelta(seconds=1))  # busy, not stuck
    row(event, S.SENT, lag_ms=10)
    row(event_on(canary_topic()), S.PLANNED, due_at=now - timedelta(hours=1))  # never counted
    live = dashboard.live(now=now)
    assert (live["planned"], live["armed"], live["sending"]) == (3, 1, 2)
    assert live["overdue"] == 2 and live["stuck_sending"] == 1
    assert live["next_due"] == now - timedelta(minutes=2)  # the earliest planned or armed


def test_outcomes_per_topic_over_the_window_and_failures_by_reason():
    first, second = make_topic(), make_topic()
    a, b = event_on(first), event_on(second)
    row(a, S.SENT, lag_ms=10)
    row(a, S.SENT, lag_ms=10)
    row(a, S.FAILED, last_error="permanent error: InvalidParameter: endpoint 1234 disabled")
    row(b, S.FAILED, last_error="permanent error: InvalidParameter: endpoint 987 disabled")
    row(b, S.FAILED, last_error="retries exhausted before the deadline: Throttling")
    row(b, S.EXPIRED, last_error="deadline passed before it could be sent (due 2026-01-01 10:00:00 UTC)")
    row(b, S.SUPERSEDED)
    row(b, S.CANCELLED)
    row(a, S.SENT, lag_ms=10, ended_ago=timedelta(hours=2))  # outside the 1 h window
    row(event_on(canary_topic()), S.FAILED, last_error="permanent error: canary")
    now = timezone.now()
    result = dashboard.outcomes(since=now - timedelta(hours=1), until=now)
    assert result["totals"] == {"sent": 2, "failed": 3, "expired": 1, "superseded": 1, "cancelled": 1}
    by_topic = {t["slug"]: t for t in result["topics"]}
    assert set(by_topic) == {first.slug, second.slug}
    assert (by_topic[first.slug]["sent"], by_topic[first.slug]["failed"]) == (2, 1)
    assert (by_topic[second.slug]["failed"], by_topic[second.slug]["expired"]) == (2, 1)
    failures = dashboard.failures(since=now - timedelta(hours=1), until=now)
    assert [(f["reason"], f["count"]) for f in failures] == [
        ("permanent error: InvalidParameter: endpoint # disabled", 2),
        ("retries exhausted before the deadline: Throttling", 1),
    ]
    assert failures[0]["url"].startswith("/admin/delivery/notification/?state__exact=failed&reason=")


def test_failure_link_lists_exactly_those_rows_in_the_admin(client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    event = event_on()
    ours = [row(event, S.FAILED, last_error=f"permanent error: AuthorizationError: account {n}") for n in (1, 22)]
    other = row(event, S.FAILED, last_error="permanent error: something else")
    two_hours = timedelta(hours=2)
    earlier = row(event, S.FAILED, last_error="permanent error: AuthorizationError: account 3", ended_ago=two_hours)
    now = timezone.now()
    [failure] = [
        f for f in dashboard.failures(since=now - timedelta(hours=1), until=now) if "Authorization" in f["reason"]
    ]
    page = client.get(failure["url"])
    assert page.status_code == 200
    listed = {n.pk for n in page.context["cl"].result_list}
    assert listed == {n.pk for n in ours} and other.pk not in listed
    assert earlier.pk not in listed  # same reason, outside the window: not counted, not listed


def test_queue_depths_from_sqs_and_unavailable_when_aws_fails(settings, monkeypatch):
    settings.NOTIFIER_INBOX_QUEUE_NAME = unique_slug("console-inbox")
    url, _ = inbox_queue_ensure(fifo=False)
    dead_url = sqs_client().get_queue_url(QueueName=inbox_dead_letter_name(fifo=False))["QueueUrl"]
    for body in ("a", "b", "c"):
        sqs_client().send_message(QueueUrl=url, MessageBody=body)
    sqs_client().send_message(QueueUrl=dead_url, MessageBody="poison")
    assert dashboard.queue_depths() == {"inbox": 3, "dead_letter": 1}

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    reset_clients()
    try:
        assert dashboard.queue_depths() == {"inbox": None, "dead_letter": None}
    finally:
        monkeypatch.undo()
        reset_clients()
