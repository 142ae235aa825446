"""PublishBatch: how messages are grouped into calls, and a burst going out in them."""

from datetime import timedelta

import pytest

from delivery.messages import OutgoingMessage
from delivery.models import DeliveryAttempt, Notification, NotificationState
from delivery.publishing import BATCH_MAX_BYTES, batches
from delivery.topics import topic_ensure_sns
from notifier.firing import fire
from notifier.planning import plan_event
from tests.conftest import sns_published
from tests.factories import make_event, make_topic


def message(notification_id: int, topic_arn: str = "arn:a", size: int = 1_000) -> OutgoingMessage:
    return OutgoingMessage(
        notification_id=notification_id, topic_arn=topic_arn, message="{}", attributes={}, subject="s", size=size
    )


def test_batches_hold_ten_messages_of_one_topic_within_the_size_limit():
    grouped = list(batches([message(n) for n in range(23)] + [message(n, "arn:b") for n in range(23, 25)]))
    assert [len(batch) for batch in grouped] == [10, 10, 3, 2]
    assert {m.topic_arn for m in grouped[3]} == {"arn:b"}
    big = list(batches([message(n, size=BATCH_MAX_BYTES // 3 + 1) for n in range(5)]))
    assert [len(batch) for batch in big] == [2, 2, 1]  # three would be over 256 KiB in one call


@pytest.mark.django_db
def test_a_burst_of_one_topic_goes_out_in_batches_and_every_row_is_recorded_once():
    topic = make_topic()
    arn = topic_ensure_sns(topic=topic)
    starts_at = make_event(topic, starts_in=timedelta(minutes=9)).starts_at
    for _ in range(24):
        make_event(topic, starts_at=starts_at)
    for event in topic.events.all():
        plan_event(event_id=event.pk)
    Notification.objects.update(state=NotificationState.ARMED)
    ids = list(Notification.objects.values_list("pk", flat=True))
    result = fire(notification_ids=ids)
    assert sorted(result.sent) == sorted(ids)
    rows = Notification.objects.all()
    assert {row.state for row in rows} == {NotificationState.SENT}
    assert len({row.sns_message_id for row in rows}) == 25 and all(row.attempts == 1 for row in rows)
    assert all(row.lag_ms is not None and row.sent_at >= row.due_at for row in rows)
    assert DeliveryAttempt.objects.filter(outcome="sent").count() == 25
    assert len(sns_published(arn)) == 25
    assert fire(notification_ids=ids).sent == []  # a duplicate task finds nothing to do
