"""On-call's "retry now" end to end: a real worker fails a notification, the operator
fixes the cause and retries it from the admin (twice, as a double click does), and the
worker publishes it once."""

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from delivery.models import DeliveryAttempt, Notification, NotificationState
from events.models import Topic
from tests.aws import Inbox
from tests.factories import make_event, make_topic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

S = NotificationState


def wait_for_state(row: Notification, state: str, timeout: float) -> Notification:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row.refresh_from_db()
        if row.state == state:
            return row
        time.sleep(0.1)
    raise AssertionError(f"notification {row.pk} is {row.state}, not {state}, after {timeout} s")


def test_a_failed_notification_retried_from_the_admin_goes_out_once(celery_worker, django_user_model):
    topic = make_topic(lead=1)
    arn = Topic.objects.get(pk=topic.pk).sns_topic_arn
    observer = Inbox(arn)
    # SNS refuses the publish permanently: the topic it names does not exist.
    Topic.objects.filter(pk=topic.pk).update(sns_topic_arn=f"{arn}-gone")
    event = make_event(topic, starts_in=timedelta(minutes=1, seconds=2))
    row = wait_for_state(Notification.objects.get(event=event), S.FAILED, timeout=15)
    assert row.last_error.startswith("permanent error: NotFound") and row.attempts == 1

    Topic.objects.filter(pk=topic.pk).update(sns_topic_arn=arn)  # the operator fixes the cause
    console = Client()
    console.force_login(django_user_model.objects.create_superuser("oncall", password="pw-oncall-123"))
    changelist = reverse("admin:delivery_notification_changelist")
    for _ in range(2):  # a double click
        console.post(changelist, {"action": "retry_now", "_selected_action": [row.pk], "index": "0"})

    observer.wait_for(1, timeout=10)
    observer.drain(2)  # a second publish would arrive now
    assert observer.counts() == {row.key: 1}
    row = wait_for_state(row, S.SENT, timeout=5)
    assert row.attempts == 2
    outcomes = list(DeliveryAttempt.objects.filter(notification=row).values_list("number", "outcome"))
    assert outcomes == [(1, DeliveryAttempt.Outcome.PERMANENT_ERROR), (2, DeliveryAttempt.Outcome.SENT)]
