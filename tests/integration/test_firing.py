"""The fire path in-process against moto: publish, stale checks, retries, failures."""

import os
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from delivery.aws import reset_clients
from delivery.models import DeliveryAttempt, Notification, NotificationState
from delivery.queues import queue_subscribe
from delivery.topics import topic_ensure_sns
from events.models import Event
from notifier.firing import fire
from notifier.planning import plan_event
from tests.aws import receive
from tests.factories import make_event, make_topic

pytestmark = pytest.mark.django_db


def armed_row(*, starts_in: timedelta = timedelta(minutes=9), lead: int = 10, fifo: bool = False) -> Notification:
    """A row armed and already due (a 9-minute start with a 10-minute lead is due now)."""
    topic = make_topic(lead=lead, fifo=fifo)
    topic_ensure_sns(topic=topic)
    event = make_event(topic, starts_in=starts_in)
    plan_event(event_id=event.pk)
    Notification.objects.filter(event=event).update(state=NotificationState.ARMED)
    return Notification.objects.get(event=event)


def test_fire_publishes_once_and_records_everything():
    row = armed_row()
    result = fire(notification_ids=[row.pk])
    assert result.sent == [row.pk]
    row.refresh_from_db()
    assert row.state == NotificationState.SENT and row.attempts == 1 and row.sns_message_id
    assert row.lag_ms is not None and row.sent_at is not None
    assert fire(notification_ids=[row.pk]).sent == []  # the duplicate task: nothing happens
    assert DeliveryAttempt.objects.filter(notification=row).count() == 1


def test_moved_event_is_superseded_at_fire_time_not_published():
    row = armed_row()
    Event.objects.filter(pk=row.event_id).update(starts_at=row.deadline + timedelta(minutes=5))  # no re-plan
    result = fire(notification_ids=[row.pk])
    assert result.sent == [] and result.skipped == [row.pk]
    row.refresh_from_db()
    assert row.state == NotificationState.SUPERSEDED and not row.sns_message_id
    assert DeliveryAttempt.objects.get(notification=row).outcome == DeliveryAttempt.Outcome.SKIPPED_STALE


def test_cancelled_event_is_not_published():
    row = armed_row()
    Event.objects.filter(pk=row.event_id).update(status=Event.Status.CANCELLED)
    assert fire(notification_ids=[row.pk]).skipped == [row.pk]
    assert Notification.objects.get(pk=row.pk).state == NotificationState.CANCELLED


def test_past_deadline_is_expired_not_published():
    row = armed_row()
    Notification.objects.filter(pk=row.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    assert fire(notification_ids=[row.pk]).skipped == [row.pk]
    row.refresh_from_db()
    assert row.state == NotificationState.EXPIRED and "deadline" in row.last_error


def test_permanent_error_fails_after_one_attempt():
    row = armed_row()
    row.event.topic.__class__.objects.filter(pk=row.event.topic_id).update(
        sns_topic_arn="arn:aws:sns:us-east-1:123456789012:does-not-exist"
    )
    result = fire(notification_ids=[row.pk])
    assert result.failed == [row.pk]
    row.refresh_from_db()
    assert row.state == NotificationState.FAILED and row.attempts == 1
    assert row.last_error.startswith("permanent error: NotFound")
    assert DeliveryAttempt.objects.get(notification=row).outcome == DeliveryAttempt.Outcome.PERMANENT_ERROR


def test_unreachable_sns_is_retried_with_backoff_and_the_batch_is_spared(redis, monkeypatch):
    first, second = armed_row(), armed_row()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: connection refused
    reset_clients()
    try:
        result = fire(notification_ids=[first.pk, second.pk])
    finally:
        monkeypatch.undo()
        reset_clients()
    assert sorted(pk for pk, _ in result.retrying) == [first.pk, second.pk]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == second.state == NotificationState.ARMED
    assert first.next_attempt_at > timezone.now() - timedelta(seconds=1)
    assert second.next_attempt_at > timezone.now() - timedelta(seconds=1)
    # SNS was down: the second was handed back untried, spending no attempt.
    assert (first.attempts, second.attempts) == (1, 0)
    assert second.last_error.startswith("deferred, SNS failing: EndpointConnectionError")
    attempts = DeliveryAttempt.objects.all()
    assert [(a.notification_id, a.outcome) for a in attempts] == [(first.pk, DeliveryAttempt.Outcome.TRANSIENT_ERROR)]
    assert redis.llen("celery") == 2  # one retry task each, with a countdown
    assert os.environ["AWS_ENDPOINT_URL"] != "http://127.0.0.1:9"


def test_row_retired_between_claim_and_publish_closes_its_attempt():
    from notifier.firing import claim, publish_claimed

    row = armed_row()
    claimed = claim(notification_ids=[row.pk])
    Notification.objects.filter(pk=row.pk).update(state=NotificationState.SUPERSEDED)  # a re-plan won the row
    result = publish_claimed(claimed=claimed)
    assert result.sent == [] and result.skipped == []
    attempt = DeliveryAttempt.objects.get(notification=row)
    assert attempt.outcome == DeliveryAttempt.Outcome.SKIPPED_STALE and attempt.finished_at is not None


def test_a_slow_batch_never_publishes_a_row_another_worker_reclaimed():
    from notifier.arming import reconcile
    from notifier.firing import claim, publish_claimed

    row = armed_row()
    slow_batch = claim(notification_ids=[row.pk])  # worker A claims, then is stuck on earlier rows
    reconcile(now=timezone.now() + timedelta(minutes=5))  # A's row looks stuck: re-armed
    other = claim(notification_ids=[row.pk])  # worker B claims it: attempt 2
    assert other == {row.pk: 2}
    assert publish_claimed(claimed=slow_batch).sent == []  # A reaches the row: no longer its attempt
    assert publish_claimed(claimed=other).sent == [row.pk]
    row.refresh_from_db()
    assert row.state == NotificationState.SENT and row.attempts == 2
    outcomes = dict(DeliveryAttempt.objects.filter(notification=row).values_list("number", "outcome"))
    assert outcomes == {1: DeliveryAttempt.Outcome.ABANDONED, 2: DeliveryAttempt.Outcome.SENT}


@pytest.mark.django_db(transaction=True)
def test_database_lost_after_publish_is_recorded_once_not_republished(monkeypatch):
    """The connection dies between SNS accepting the message and the ledger write."""
    import psycopg
    from django.db import connection

    from notifier import firing
    from tests.engine import database_url

    row = armed_row()
    publishes = []
    real_publish_batch = firing.publish_batch
    # The firing connection's: publish_batch runs on a publisher thread, which has its own.
    connection.ensure_connection()
    firing_backend = connection.connection.info.backend_pid

    def publish_then_lose_the_database(batch):
        replies = real_publish_batch(batch)
        publishes.append(replies[row.pk])
        if len(publishes) == 1:
            with psycopg.connect(database_url(), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [firing_backend])
        return replies

    monkeypatch.setattr(firing, "publish_batch", publish_then_lose_the_database)
    result = fire(notification_ids=[row.pk])
    assert len(publishes) == 1  # reconnected and recorded: no second publish
    assert result.sent == [row.pk]
    row.refresh_from_db()
    assert row.state == NotificationState.SENT and row.sns_message_id == publishes[0] and row.attempts == 1
    assert DeliveryAttempt.objects.get(notification=row).outcome == DeliveryAttempt.Outcome.SENT


def test_oversize_message_fails_permanently_without_publishing():
    row = armed_row()
    Event.objects.filter(pk=row.event_id).update(description="x" * 300_000)
    result = fire(notification_ids=[row.pk])
    assert result.failed == [row.pk]
    row.refresh_from_db()
    assert row.state == NotificationState.FAILED and row.attempts == 1 and not row.sns_message_id
    assert "over SNS's limit of 262144" in row.last_error


def test_fifo_topic_publishes_with_group_and_dedup_id():
    topic = make_topic(fifo=True)
    arn = topic_ensure_sns(topic=topic)
    assert arn.endswith(".fifo")
    queue = queue_subscribe(queue_name=f"{topic.slug}.fifo", topic_arn=arn, fifo=True)  # raw delivery
    event = make_event(topic, starts_in=timedelta(minutes=9))
    plan_event(event_id=event.pk)
    Notification.objects.filter(event=event).update(state=NotificationState.ARMED)
    row = Notification.objects.get(event=event)
    assert fire(notification_ids=[row.pk]).sent == [row.pk]
    message = receive(queue, most=1, AttributeNames=["All"], MessageAttributeNames=["All"])[0]
    assert message["Attributes"]["MessageGroupId"] == topic.slug
    assert message["Attributes"]["MessageDeduplicationId"] == row.key


def _armed_rows(count: int) -> list[int]:
    """``count`` due rows over two topics, their events without a lead of their own (the
    topic's default applies, so the stale check reads the topic)."""
    topics = [make_topic(), make_topic()]
    for topic in topics:
        topic_ensure_sns(topic=topic)
    for index in range(count):
        event = make_event(topics[index % 2], starts_in=timedelta(minutes=9))
        plan_event(event_id=event.pk)
    rows = Notification.objects.filter(event__topic__in=topics)
    rows.update(state=NotificationState.ARMED)
    return list(rows.values_list("pk", flat=True))


def _queries_to_fire(ids: list[int]) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert sorted(fire(notification_ids=ids).sent) == sorted(ids)
    return len(queries)


def test_firing_costs_the_same_statements_for_three_rows_or_twelve():
    """No statement per row on the fire path (a burst is hundreds of rows a task): a column
    left out of the locking query and read later would cost one query per row."""
    few = _queries_to_fire(_armed_rows(3))
    assert _queries_to_fire(_armed_rows(12)) == few
    attempt = DeliveryAttempt.objects.order_by("-pk").first()
    assert attempt.outcome == DeliveryAttempt.Outcome.SENT and attempt.number == 1 and attempt.worker
    assert attempt.started_at <= attempt.finished_at
