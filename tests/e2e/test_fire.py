"""Through the API, a real worker, moto SNS and an SQS subscriber: on time, exactly once,
never stale. Prints the measured lag."""

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from delivery.models import DeliveryAttempt, Notification, NotificationState
from events.models import Topic
from tests.aws import Inbox
from tests.ids import unique_slug

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LEAD = 1  # minutes; the smallest lead the API accepts


def iso(value) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def create_topic(api) -> Topic:
    reply = api.post(
        "/api/v1/topics/", {"slug": unique_slug(), "name": "E2E", "default_lead_minutes": LEAD}, format="json"
    )
    assert reply.status_code == 201, reply.content
    topic = Topic.objects.get(slug=reply.json()["slug"])
    assert topic.sns_topic_arn.startswith("arn:aws:sns:")  # created on commit, before the reply
    return topic


def create_event_due_in(api, topic: Topic, seconds: float) -> dict:
    starts_at = timezone.now() + timedelta(minutes=LEAD, seconds=seconds)
    reply = api.post(
        "/api/v1/events/", {"topic": topic.slug, "title": "Kick-off", "starts_at": iso(starts_at)}, format="json"
    )
    assert reply.status_code == 201, reply.content
    return reply.json()


def test_event_created_through_the_api_fires_once_within_a_second(celery_worker, staff_api):
    topic = create_topic(staff_api)
    inbox = Inbox.for_topic(topic)
    event = create_event_due_in(staff_api, topic, 3)
    row = Notification.objects.get(event_id=event["id"])
    assert row.state == NotificationState.ARMED  # planned and armed on commit

    inbox.wait_for(1, timeout=10)
    inbox.drain(2)  # anything else arriving now would be a duplicate
    assert len(inbox.messages) == 1, inbox.messages
    message = inbox.messages[0]
    lag = message.lag_seconds()
    print(f"\nmeasured lag (SQS receipt - due time): {lag * 1000:.0f} ms")
    assert -0.05 <= lag <= 1.0
    assert message.key == row.key and message.notification_id == row.pk
    assert {"notification_id", "key", "event_id", "topic", "title", "starts_at", "due_at", "lead_minutes"} <= set(
        message.body
    )

    row.refresh_from_db()
    assert row.state == NotificationState.SENT and row.attempts == 1
    assert row.sns_message_id and row.sent_at and 0 <= row.lag_ms <= 1000
    print(f"ledger lag_ms (SNS publish acknowledged - due time): {row.lag_ms}")
    attempt = DeliveryAttempt.objects.get(notification=row)
    assert attempt.outcome == DeliveryAttempt.Outcome.SENT and attempt.sns_message_id == row.sns_message_id


def test_moved_after_arming_fires_once_at_the_new_time_only(celery_worker, staff_api):
    topic = create_topic(staff_api)
    inbox = Inbox.for_topic(topic)
    event = create_event_due_in(staff_api, topic, 3)
    old = Notification.objects.get(event_id=event["id"])
    assert old.state == NotificationState.ARMED  # its ETA task is already in the worker
    new_start = timezone.now() + timedelta(minutes=LEAD, seconds=7)
    moved = staff_api.patch(f"/api/v1/events/{event['id']}/", {"starts_at": iso(new_start)}, format="json")
    assert moved.status_code == 200

    inbox.wait_for(1, timeout=12)
    inbox.drain(2)
    assert len(inbox.messages) == 1, inbox.messages
    old.refresh_from_db()
    new = Notification.objects.get(event_id=event["id"], state=NotificationState.SENT)
    assert old.state == NotificationState.SUPERSEDED and old.attempts == 0
    assert inbox.messages[0].key == new.key != old.key
    assert abs(inbox.messages[0].sent_ms / 1000 - new.due_at.timestamp()) <= 1.0
    print(f"\nmoved event: one message, {inbox.messages[0].lag_seconds() * 1000:.0f} ms after the new due time")


def test_cancelled_event_sends_nothing(celery_worker, staff_api):
    topic = create_topic(staff_api)
    inbox = Inbox.for_topic(topic)
    event = create_event_due_in(staff_api, topic, 2)
    assert staff_api.post(f"/api/v1/events/{event['id']}/cancel/").status_code == 200
    inbox.drain(4)
    assert inbox.messages == []
    row = Notification.objects.get(event_id=event["id"])
    assert row.state == NotificationState.CANCELLED and row.attempts == 0
