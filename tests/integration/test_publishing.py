"""PublishBatch against moto: a burst of one topic going out in batches (how messages are
grouped into calls is in tests/unit/test_publishing.py)."""

from datetime import timedelta

import pytest

from delivery.models import DeliveryAttempt, Notification, NotificationState
from delivery.topics import topic_ensure_sns
from notifier.firing import fire
from notifier.planning import plan_event
from tests.aws import sns_published
from tests.factories import make_event, make_topic


def armed_burst_of_one_topic(count: int) -> tuple[str, list[int]]:
    """``count`` rows of one topic armed and due now (three PublishBatch calls for 25);
    returns the topic's ARN and the rows' ids."""
    topic = make_topic()
    arn = topic_ensure_sns(topic=topic)
    starts_at = make_event(topic, starts_in=timedelta(minutes=9)).starts_at
    for _ in range(count - 1):
        make_event(topic, starts_at=starts_at)
    for event in topic.events.all():
        plan_event(event_id=event.pk)
    Notification.objects.update(state=NotificationState.ARMED)
    return arn, list(Notification.objects.values_list("pk", flat=True))


@pytest.mark.django_db
def test_a_burst_of_one_topic_goes_out_in_batches_and_every_row_is_recorded_once():
    arn, ids = armed_burst_of_one_topic(25)
    result = fire(notification_ids=ids)
    assert sorted(result.sent) == sorted(ids)
    rows = Notification.objects.all()
    assert {row.state for row in rows} == {NotificationState.SENT}
    assert len({row.sns_message_id for row in rows}) == 25 and all(row.attempts == 1 for row in rows)
    assert all(row.lag_ms is not None and row.sent_at >= row.due_at for row in rows)
    assert DeliveryAttempt.objects.filter(outcome="sent").count() == 25
    assert len(sns_published(arn)) == 25
    assert fire(notification_ids=ids).sent == []  # a duplicate task finds nothing to do


@pytest.mark.django_db(transaction=True)  # the connection is killed: no test transaction around it
def test_database_lost_while_later_rows_render_records_the_first_batch_without_republishing(monkeypatch):
    """The first PublishBatch goes out while the rest are rendered: the connection dying
    during that rendering must not send the accepted batch a second time on the retry."""
    import threading

    import psycopg
    from django.db import connection

    from notifier import firing
    from tests.engine import database_url

    arn, ids = armed_burst_of_one_topic(25)
    connection.ensure_connection()
    firing_backend = connection.connection.info.backend_pid
    first_call_answered = threading.Event()
    published_ids: list[int] = []
    real_publish_batch, real_build_message = firing.publish_batch, firing.build_message
    rendered = 0

    def publish_and_count(batch):
        replies = real_publish_batch(batch)
        published_ids.extend(message.notification_id for message in batch)
        first_call_answered.set()
        return replies

    def build_then_lose_the_database(*args, **kwargs):
        nonlocal rendered
        rendered += 1
        if rendered == 15:  # the first ten are out (or on their way); the database goes
            assert first_call_answered.wait(10)
            with psycopg.connect(database_url(), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [firing_backend])
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")  # the firing connection finds out here
        return real_build_message(*args, **kwargs)

    monkeypatch.setattr(firing, "publish_batch", publish_and_count)
    monkeypatch.setattr(firing, "build_message", build_then_lose_the_database)
    result = fire(notification_ids=ids)
    assert sorted(published_ids) == sorted(ids)  # each row published exactly once
    assert sorted(result.sent) == sorted(ids)
    rows = Notification.objects.all()
    assert {row.state for row in rows} == {NotificationState.SENT} and all(row.attempts == 1 for row in rows)
    assert len(sns_published(arn)) == 25
