"""Lag SLO: the report's figures, the minute check's alerts, /metrics."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from delivery.aws import sns_client
from delivery.models import Notification, NotificationState
from delivery.queues import queue_subscribe
from notifier.metrics import COUNTERS_KEY, count_outcome, observe_lags
from notifier.planning import plan_event
from notifier.slo import slo_check, slo_report
from tests.aws import receive
from tests.factories import make_event, make_topic
from tests.ids import unique_slug

pytestmark = pytest.mark.django_db


def sent_rows(lags_ms: list[int]) -> list[Notification]:
    topic = make_topic()
    now = timezone.now()
    rows = []
    for lag in lags_ms:
        event = make_event(topic, starts_in=timedelta(hours=1))
        plan_event(event_id=event.pk)
        row = Notification.objects.get(event=event)
        Notification.objects.filter(pk=row.pk).update(
            state=NotificationState.SENT, lag_ms=lag, sent_at=now - timedelta(seconds=5), updated_at=now
        )
        rows.append(row)
    return rows


def test_report_percentiles_and_outcomes():
    sent_rows(list(range(1, 1001)))  # 1..1000 ms
    report = slo_report(since=timezone.now() - timedelta(hours=1))
    assert report.lag.count == 1000
    assert report.lag.p50 == pytest.approx(500.5)
    assert report.lag.p99 == pytest.approx(990.01)
    assert report.lag.max == 1000
    assert report.outcomes["sent"] == 1000 and report.outcomes["failed"] == 0


def test_check_alerts_on_late_sends_overdue_rows_and_p99(redis, caplog):
    sent_rows([100, 45_000])  # one 45 s late
    topic = make_topic()
    event = make_event(topic, starts_in=timedelta(hours=1))
    plan_event(event_id=event.pk)
    Notification.objects.filter(event=event).update(due_at=timezone.now() - timedelta(minutes=2))  # overdue
    raised = slo_check(now=timezone.now())
    assert raised == ["late sends", "undelivered past due", "p99 lag over target"]
    assert "ALERT late sends" in caplog.text and "45.0s" in caplog.text
    assert slo_check(now=timezone.now()) == ["undelivered past due", "p99 lag over target"]  # late send: once


def test_alerts_reach_the_operators_sns_topic(redis):
    alerts_arn = sns_client().create_topic(Name=unique_slug("alerts"))["TopicArn"]
    inbox = queue_subscribe(queue_name=unique_slug("ops"), topic_arn=alerts_arn)
    sent_rows([40_000])
    with override_settings(NOTIFIER_ALERT_TOPIC_ARN=alerts_arn):
        slo_check(now=timezone.now())
    messages = receive(inbox)
    assert any("sent more than 30s late" in m["Body"] for m in messages)


def test_slo_report_command(redis):
    sent_rows([10, 20, 30])
    out = StringIO()
    call_command("slo_report", "--since", "1h", stdout=out)
    text = out.getvalue()
    assert "p50 20" in text and "max 30" in text and "sent 3" in text and "met" in text
    with pytest.raises(CommandError, match="duration like 15m"):
        call_command("slo_report", "--since", "yesterday")


def test_metrics_endpoint_counts_outcomes_and_live_rows(client, redis):
    count_outcome("failed")
    count_outcome("sent", 3)
    event = make_event(make_topic(), starts_in=timedelta(hours=1))
    plan_event(event_id=event.pk)
    body = client.get("/metrics").content.decode()
    assert 'notifier_notifications_total{state="failed"} 1.0' in body
    assert 'notifier_notifications_total{state="sent"} 3.0' in body
    assert 'notifier_live_notifications{state="planned"} 1.0' in body
    assert redis.hgetall(COUNTERS_KEY)
    assert json.dumps(body)  # plain text, no error page


def test_metrics_lag_is_a_prometheus_histogram_of_the_observed_sends(client, redis):
    observe_lags([80, 100, 900, 2_500])
    observe_lags([45_000])
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").content.decode())}
    lag = families["notifier_lag_seconds"]
    assert lag.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in lag.samples if s.name == "notifier_lag_seconds_bucket"}
    assert buckets["0.1"] == 2 and buckets["1.0"] == 3 and buckets["3.0"] == 4 and buckets["30.0"] == 4
    assert buckets["60.0"] == 5 and buckets["+Inf"] == 5
    totals = {s.name: s.value for s in lag.samples if not s.labels}
    assert totals["notifier_lag_seconds_count"] == 5 and totals["notifier_lag_seconds_sum"] == pytest.approx(48.58)
    assert "quantile" not in client.get("/metrics").content.decode()  # the old per-quantile gauges are gone


def test_metrics_still_served_when_redis_is_down(client):
    event = make_event(make_topic(), starts_in=timedelta(hours=1))
    plan_event(event_id=event.pk)
    with override_settings(REDIS_URL="redis://127.0.0.1:9/0"):  # nothing listens there
        reply = client.get("/metrics")
    assert reply.status_code == 200
    assert 'notifier_live_notifications{state="planned"} 1.0' in reply.content.decode()
