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
