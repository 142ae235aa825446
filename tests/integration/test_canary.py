"""The canary (issue 14) through the real engine against moto: scheduled, planned and
armed on commit, fired by the fire path, received from the engine's own SQS queue; left
out of users' figures; on /metrics; the SLO check alerts when it is missing or late."""

import time
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from prometheus_client.parser import text_string_to_metric_families

from delivery.aws import sns_client
from delivery.models import Notification, NotificationState
from delivery.queues import canary_queue_name, canary_queue_url
from delivery.sns_reconcile import sns_reconcile
from events.models import CANARY_TOPIC_SLUG, Event, Topic
from events.services import event_cancel
from notifier.arming import reconcile
from notifier.beat import CANARY_TASK_NAME, beat_schedule_sync
from notifier.canary import (
    CANARY_AHEAD,
    CANARY_KEEP,
    canary_run_schedule,
    canary_runs_prune,
    canary_topic_ensure,
    last_canary,
    recent_canary_runs,
)
from notifier.canary_receive import canary_receive
from notifier.firing import fire
from notifier.metrics import COUNTERS_KEY, LAG_HISTOGRAM_KEY
from notifier.models import CanaryRun
from notifier.planning import plan_event
from notifier.slo import slo_check, slo_report
from tests.factories import make_event, make_topic
from tests.ids import unique_slug

pytestmark = pytest.mark.django_db

State = CanaryRun.State


@pytest.fixture
def engine_prefix():
    """Names of its own for the canary's SNS topic and queue, so no other test's messages are in them."""
    with override_settings(NOTIFIER_SNS_TOPIC_PREFIX=f"{unique_slug('c')}-"):
        yield


def scrape(client) -> dict[str, float]:
    """/metrics as Prometheus parses it: {sample name: value} of the unlabelled samples."""
    text = client.get("/metrics").content.decode()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if not s.labels}


def due_canary(capture) -> tuple[CanaryRun, Notification]:
    """A canary run scheduled so that it is due now (planned and armed on commit, as in
    production), with its notification."""
    canary_topic_ensure()  # SNS set-up first, so the due time below is not already past
    with capture(execute=True):
        run = canary_run_schedule(now=timezone.now() - CANARY_AHEAD + timedelta(seconds=2))
    notification = Notification.objects.get(event_id=run.event_id)
    assert notification.state == NotificationState.ARMED  # the real plan and arm passes ran
    time.sleep(max(0.0, (notification.due_at - timezone.now()).total_seconds()))  # its ETA
    return run, notification


def test_a_canary_run_goes_through_the_engine_and_records_its_lag(
    redis, engine_prefix, django_capture_on_commit_callbacks, client
):
    run, notification = due_canary(django_capture_on_commit_callbacks)
    topic = Topic.objects.get(slug=CANARY_TOPIC_SLUG)
    assert topic.sns_topic_arn and topic.subscriptions.count() == 0
    assert run.due_at == notification.due_at and run.state == State.SCHEDULED

    with django_capture_on_commit_callbacks(execute=True):
        assert fire(notification_ids=[notification.pk]).sent == [notification.pk]
    assert canary_receive(wait_seconds=1) == 1

    run.refresh_from_db()
    notification.refresh_from_db()
    assert run.state == State.RECEIVED and run.published_at == notification.sent_at
    # Arrival is SQS's SentTimestamp (ms): after the due time, not when the queue was read.
    # (moto delivers inside the publish call, so it may precede the acknowledgement.)
    assert run.due_at <= run.received_at <= timezone.now()
    assert abs(run.received_at - notification.sent_at) < timedelta(seconds=2)
    assert run.lag_ms == round((run.received_at - run.due_at).total_seconds() * 1000)
    assert 0 < run.lag_ms < 30_000
    assert last_canary() == run and recent_canary_runs(5) == [run]
    assert canary_receive(wait_seconds=0) == 0  # the message was deleted: nothing twice

    # Users' figures leave it out: SLO report, outcome counters, lag histogram.
    report = slo_report(since=timezone.now() - timedelta(hours=1))
    assert report.lag.count == 0 and report.outcomes["sent"] == 0
    assert not redis.hgetall(COUNTERS_KEY) and not redis.hgetall(LAG_HISTOGRAM_KEY)

    samples = scrape(client)
    assert samples["notifier_canary_lag_seconds"] == run.lag_ms / 1000
    assert samples["notifier_canary_last_success_timestamp_seconds"] == pytest.approx(run.received_at.timestamp())
    assert samples["notifier_lag_seconds_count"] == 0


def test_a_users_send_counts_where_the_canarys_does_not(redis, engine_prefix, django_capture_on_commit_callbacks):
    _, canary = due_canary(django_capture_on_commit_callbacks)
    topic = make_topic()
    with django_capture_on_commit_callbacks(execute=True):
        event = make_event(topic, starts_in=timedelta(minutes=9))  # lead 10: due now, armed on commit
    users = Notification.objects.get(event=event)
    with django_capture_on_commit_callbacks(execute=True):
        assert sorted(fire(notification_ids=[canary.pk, users.pk]).sent) == sorted([canary.pk, users.pk])
    users.refresh_from_db()
    assert redis.hgetall(COUNTERS_KEY) == {b"sent": b"1"}
    histogram = redis.hgetall(LAG_HISTOGRAM_KEY)
    assert histogram[b"count"] == b"1" and histogram[b"sum_ms"] == str(users.lag_ms).encode()
    report = slo_report(since=timezone.now() - timedelta(hours=1))
    assert report.lag.count == 1 and report.lag.max == users.lag_ms and report.outcomes["sent"] == 1


def test_a_run_never_received_is_marked_missing_and_alerted(redis, engine_prefix, caplog):
    now = timezone.now()
    with override_settings(NOTIFIER_CANARY_INTERVAL_SECONDS=60):
        run = CanaryRun.objects.create(due_at=now - timedelta(minutes=4))
        CanaryRun.objects.filter(pk=run.pk).update(created_at=now - timedelta(minutes=5))
        canary_receive(wait_seconds=0)  # no queue yet: still marks what is overdue
        assert CanaryRun.objects.get(pk=run.pk).state == State.MISSING
        assert "canary missing" in slo_check(now=now)
    assert "no canary has ever arrived" in caplog.text


def test_missing_counts_from_the_last_success_and_late_is_alerted_once(redis):
    now = timezone.now()
    with override_settings(NOTIFIER_CANARY_INTERVAL_SECONDS=60, NOTIFIER_LAG_ALERT_SECONDS=30):
        CanaryRun.objects.create(
            due_at=now - timedelta(seconds=100), received_at=now - timedelta(seconds=99), lag_ms=1000,
            state=State.RECEIVED,
        )  # fmt: skip
        assert slo_check(now=now) == []  # a success 99 s ago is within 2 x 60 s + 60 s
        assert slo_check(now=now + timedelta(seconds=90)) == ["canary missing"]  # 189 s ago
        late = CanaryRun.objects.create(
            due_at=now, received_at=now + timedelta(seconds=45), lag_ms=45_000, state=State.RECEIVED
        )
        CanaryRun.objects.filter(pk=late.pk).update(updated_at=now + timedelta(seconds=100))  # recorded then
        raised = slo_check(now=now + timedelta(seconds=120))
        assert "canary late" in raised
        assert "canary late" not in slo_check(now=now + timedelta(seconds=180))  # once per run
    with override_settings(NOTIFIER_CANARY_INTERVAL_SECONDS=0):
        assert slo_check(now=now + timedelta(hours=1)) == []  # off: never alerts


def test_metrics_without_a_success_say_never(client, redis):
    with override_settings(NOTIFIER_CANARY_INTERVAL_SECONDS=300):
        samples = scrape(client)
    assert samples["notifier_canary_last_success_timestamp_seconds"] == 0
    assert samples["notifier_canary_interval_seconds"] == 300
    assert "notifier_canary_lag_seconds" not in samples
    with override_settings(NOTIFIER_CANARY_INTERVAL_SECONDS=0):
        samples = scrape(client)
    assert "notifier_canary_last_success_timestamp_seconds" not in samples  # off: nothing to alert on


def test_beat_schedules_the_canary_at_its_interval_and_zero_removes_it():
    with override_settings(NOTIFIER_CANARY_INTERVAL_SECONDS=120):
        beat_schedule_sync()
    task = PeriodicTask.objects.get(name=CANARY_TASK_NAME)
    assert task.task == "notifier.canary" and task.interval.every == 120 and task.enabled
    with override_settings(NOTIFIER_CANARY_INTERVAL_SECONDS=0):
        beat_schedule_sync()
    assert not PeriodicTask.objects.filter(name=CANARY_TASK_NAME).exists()


def test_sync_sns_puts_the_canary_queue_back_on_the_canary_topic(redis, engine_prefix):
    canary_run_schedule()
    topic = Topic.objects.get(slug=CANARY_TOPIC_SLUG)
    queue = canary_queue_name()
    listed = sns_client().list_subscriptions_by_topic(TopicArn=topic.sns_topic_arn)["Subscriptions"]
    ours = [s for s in listed if s["Endpoint"].endswith(f":{queue}")]
    assert len(ours) == 1 and canary_queue_url()
    assert len(listed) == 1  # the canary queue alone: the inbox queue is not on it, nor put there
    assert not [c for c in sns_reconcile(topics=[topic]) if "canary" in c.what or "inbox" in c.what]
    sns_client().unsubscribe(SubscriptionArn=ours[0]["SubscriptionArn"])
    changes = [c for c in sns_reconcile(topics=[topic]) if "canary" in c.what]
    assert [str(c) for c in changes] == [f"+ canary queue {queue} on {CANARY_TOPIC_SLUG}"]
    assert changes[0].run() is None
    assert not [c for c in sns_reconcile(topics=[topic]) if "canary" in c.what]


def test_users_neither_see_nor_subscribe_to_the_canary_topic(redis, engine_prefix, user_api, staff_api):
    run = canary_run_schedule()
    assert CANARY_TOPIC_SLUG not in [t["slug"] for t in user_api.get("/api/v1/topics/").json()["results"]]
    assert user_api.get(f"/api/v1/topics/{CANARY_TOPIC_SLUG}/").status_code == 404
    assert user_api.get(f"/api/v1/events/{run.event_id}/").status_code == 404
    reply = user_api.post("/api/v1/subscriptions/", {"topic": CANARY_TOPIC_SLUG, "channel": "in_app"}, format="json")
    assert reply.status_code == 400 and "topic" in reply.json()
    assert staff_api.get(f"/api/v1/topics/{CANARY_TOPIC_SLUG}/").status_code == 200
    assert staff_api.get(f"/api/v1/events/{run.event_id}/").json()["topic"] == CANARY_TOPIC_SLUG


def test_runs_older_than_a_week_go_with_their_events_and_ledger_rows(redis, engine_prefix):
    old, recent = canary_run_schedule(), canary_run_schedule()
    week_ago = timezone.now() - CANARY_KEEP - timedelta(minutes=1)
    CanaryRun.objects.filter(pk=old.pk).update(due_at=week_ago)
    users_event = make_event(make_topic())
    plan_event(event_id=old.event_id)
    plan_event(event_id=recent.event_id)
    plan_event(event_id=users_event.pk)
    assert canary_runs_prune() == 1
    assert list(CanaryRun.objects.all()) == [recent]
    assert not Event.objects.filter(pk=old.event_id).exists()
    assert not Notification.objects.filter(event_id=old.event_id).exists()
    assert Notification.objects.filter(event_id=recent.event_id).exists()
    assert Notification.objects.filter(event=users_event).exists()  # users' rows are never touched
    assert canary_runs_prune() == 0


def test_a_canary_cancelled_or_expired_counts_in_no_users_outcome(
    redis, engine_prefix, django_capture_on_commit_callbacks
):
    cancelled, expired = canary_run_schedule(), canary_run_schedule()
    users_event = make_event(make_topic())
    for event_id in (cancelled.event_id, expired.event_id, users_event.pk):
        plan_event(event_id=event_id)
    with django_capture_on_commit_callbacks(execute=True):
        event_cancel(event=Event.objects.get(pk=cancelled.event_id))  # an operator, in the admin
        event_cancel(event=users_event)
    assert Notification.objects.get(event_id=cancelled.event_id).state == NotificationState.CANCELLED
    Notification.objects.filter(event_id=expired.event_id).update(deadline=timezone.now() - timedelta(seconds=1))
    assert len(reconcile().expired) == 1
    assert redis.hgetall(COUNTERS_KEY) == {b"cancelled": b"1"}  # the user's cancel only
