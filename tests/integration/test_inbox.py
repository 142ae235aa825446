"""The in-app inbox consumer against moto's SNS → SQS: one row per user per
notification however often SQS delivers, muted and inactive users excluded."""

import json
import threading

import pytest

from delivery.aws import sns_client, sqs_client
from delivery.inbox import InboxConsumer
from delivery.messages import build_message
from delivery.models import InboxMessage
from delivery.queues import INBOX_MAX_RECEIVES, inbox_queue_ensure
from notifier.firing import fire
from subscriptions.models import Subscription
from subscriptions.services import preference_update
from tests.aws import receive
from tests.ids import unique_slug
from tests.integration.test_firing import armed_row

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_inbox_queue(settings):
    """A fresh inbox queue per test, so no other test's messages are in it."""
    settings.NOTIFIER_INBOX_QUEUE_NAME = unique_slug("inbox")


def consume(*, fifo: bool = False) -> int:
    consumer = InboxConsumer(fifo=fifo, wait_seconds=0, stop=threading.Event())
    handled = 0
    while (batch := consumer.poll_once()) > 0:
        handled += batch
    return handled


def queue_depth(*, fifo: bool = False) -> dict[str, int]:
    url, _ = inbox_queue_ensure(fifo=fifo)
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    found = sqs_client().get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return {name: int(found[name]) for name in names}


def follow(users, topic, channel: str = "in_app", **extra) -> None:
    for user in users:
        Subscription.objects.create(user=user, topic=topic, channel=channel, **extra)


@pytest.fixture
def people(django_user_model):
    return {name: django_user_model.objects.create_user(name) for name in ("ann", "bob", "cat", "dan", "eve")}


def test_one_row_per_user_under_duplicate_delivery_and_muted_or_inactive_get_none(people):
    row = armed_row()
    topic = row.event.topic
    follow([people["ann"], people["bob"], people["cat"]], topic)
    follow([people["dan"]], topic, active=False)
    follow([people["eve"]], topic, channel="email", endpoint="eve@example.com")  # not in-app
    preference_update(user=people["cat"], muted_channels=["in_app"])
    fire(notification_ids=[row.pk])
    url, _ = inbox_queue_ensure(fifo=False)
    received = receive(url, most=1)
    assert len(received) == 1
    body = received[0]["Body"]
    assert json.loads(body)["notification_id"] == row.pk  # raw delivery: the document itself
    sqs_client().change_message_visibility(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"],
                                           VisibilityTimeout=0)  # fmt: skip
    for _ in range(2):  # SQS delivers at least once: the same message twice more
        sqs_client().send_message(QueueUrl=url, MessageBody=body)
    assert consume() == 3
    inbox = InboxMessage.objects.filter(notification=row)
    assert sorted(inbox.values_list("user__username", flat=True)) == ["ann", "bob"]
    assert queue_depth() == {"ApproximateNumberOfMessages": 0, "ApproximateNumberOfMessagesNotVisible": 0}
    message = inbox.get(user=people["ann"])
    assert message.title == row.event.title and f"<strong>{row.event.title}</strong>" in message.body
    assert message.starts_at == row.event.starts_at


def test_out_of_order_deliveries_each_land_once(people):
    first, second = armed_row(), armed_row()
    follow([people["ann"]], first.event.topic)
    follow([people["ann"]], second.event.topic)
    url, _ = inbox_queue_ensure(fifo=False)
    for row in (second, first, second):  # later one first, then a repeat
        message = build_message(row, row.event, row.event.topic)
        sqs_client().send_message(QueueUrl=url, MessageBody=json.loads(message.message)["default"])
    assert consume() == 3
    assert InboxMessage.objects.filter(user=people["ann"]).count() == 2


def test_a_message_for_an_unknown_notification_is_left_for_the_dead_letter_queue(people):
    url, _ = inbox_queue_ensure(fifo=False)
    document = {"notification_id": 999999, "key": "nope", "event_id": 1, "topic": "x", "title": "t",
                "starts_at": "2026-01-01T00:00:00Z", "due_at": "2026-01-01T00:00:00Z", "lead_minutes": 10}  # fmt: skip
    sqs_client().send_message(QueueUrl=url, MessageBody=json.dumps(document))
    sqs_client().send_message(QueueUrl=url, MessageBody="not json")
    assert consume() == 0
    assert queue_depth()["ApproximateNumberOfMessagesNotVisible"] == 2  # not deleted: redelivered, then DLQ
    redrive = json.loads(sqs_client().get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
                         ["Attributes"]["RedrivePolicy"])  # fmt: skip
    assert int(redrive["maxReceiveCount"]) == INBOX_MAX_RECEIVES and redrive["deadLetterTargetArn"].endswith("-dlq")


def test_fifo_topic_deduplicates_a_republished_notification(people):
    row = armed_row(fifo=True)
    topic = row.event.topic
    follow([people["ann"]], topic)
    fire(notification_ids=[row.pk])
    again = build_message(row, row.event, topic)  # the same notification published once more
    sns_client().publish(**again.publish_kwargs())
    url, _ = inbox_queue_ensure(fifo=True)
    assert url.endswith(".fifo")
    received = receive(url)
    assert len(received) == 1  # SNS FIFO → SQS FIFO: deduplicated by notification key
    sqs_client().change_message_visibility(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"],
                                           VisibilityTimeout=0)  # fmt: skip
    assert consume(fifo=True) == 1
    assert InboxMessage.objects.filter(notification=row, user=people["ann"]).count() == 1


def test_a_deleted_message_stays_deleted_when_sqs_delivers_it_again(people):
    from delivery.selectors import inbox_visible
    from delivery.services import inbox_delete

    row = armed_row()
    follow([people["ann"]], row.event.topic)
    url, _ = inbox_queue_ensure(fifo=False)
    body = json.loads(build_message(row, row.event, row.event.topic).message)["default"]
    sqs_client().send_message(QueueUrl=url, MessageBody=body)
    assert consume() == 1
    inbox_delete(message=inbox_visible(user=people["ann"]).get())
    sqs_client().send_message(QueueUrl=url, MessageBody=body)  # a late duplicate
    assert consume() == 1
    assert not inbox_visible(user=people["ann"]).exists()
