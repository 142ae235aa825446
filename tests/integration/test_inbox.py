"""The in-app inbox consumer against moto's SNS → SQS: one row per user per
notification however often SQS delivers, muted and inactive users excluded."""

import json
import threading

import pytest

from delivery.aws import sns_client, sqs_client
from delivery.channels.in_app import IN_APP_BODY
from delivery.inbox import InboxConsumer
from delivery.messages import build_message
from delivery.models import InboxMessage, MessageTemplate
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


def test_a_forged_message_with_a_changed_title_is_written_with_the_ledgers_words(people):
    """The message is trusted for its notification id and key only: the row's title and
    body come from the ledger, as the publish rendered them."""
    row = armed_row()
    follow([people["ann"]], row.event.topic)
    url, _ = inbox_queue_ensure(fifo=False)
    document = json.loads(json.loads(build_message(row, row.event, row.event.topic).message)["default"])
    forged = {
        **document,
        "title": "Your account is locked: <a href='https://evil.example'>log in</a>",
        "description": "<script>steal()</script>",
        "topic": "other",
        "starts_at": "2030-01-01T00:00:00Z",
    }
    sqs_client().send_message(QueueUrl=url, MessageBody=json.dumps(forged))
    assert consume() == 1
    message = InboxMessage.objects.get(notification=row, user=people["ann"])
    assert message.title == row.event.title and message.starts_at == row.event.starts_at
    assert f"<strong>{row.event.title}</strong>" in message.body
    assert "locked" not in message.body and "evil" not in message.body and "steal" not in message.body


def test_a_message_whose_key_does_not_match_the_ledger_is_not_written(people):
    row = armed_row()
    follow([people["ann"]], row.event.topic)
    url, _ = inbox_queue_ensure(fifo=False)
    document = json.loads(json.loads(build_message(row, row.event, row.event.topic).message)["default"])
    sqs_client().send_message(QueueUrl=url, MessageBody=json.dumps({**document, "key": "0" * 64}))
    assert consume() == 0
    assert not InboxMessage.objects.filter(notification=row).exists()
    assert queue_depth()["ApproximateNumberOfMessagesNotVisible"] == 1  # left for redrive, then the DLQ


def test_a_hostile_in_app_template_reaches_the_inbox_cleaned(people):
    row = armed_row()
    follow([people["ann"]], row.event.topic)
    MessageTemplate.objects.create(topic=row.event.topic, part=IN_APP_BODY.name, source=(
        "<p onclick='x()'><b>{{ event.title }}</b></p><script>alert(1)</script>"
        "<img src=x onerror=alert(2)><a href=\"javascript:alert(3)\">a</a><a href=\"https://example.com/m\">more</a>"
    ))  # fmt: skip
    url, _ = inbox_queue_ensure(fifo=False)
    sqs_client().send_message(QueueUrl=url, MessageBody=json.loads(build_message(row, row.event, row.event.topic)
                                                                   .message)["default"])  # fmt: skip
    assert consume() == 1
    body = InboxMessage.objects.get(notification=row).body
    for hostile in ("<script", "alert", "onclick", "onerror", "<img", "javascript:"):
        assert hostile not in body, (hostile, body)
    assert f"<p><b>{row.event.title}</b></p>" in body
    assert '<a href="https://example.com/m" rel="noopener noreferrer">more</a>' in body


def test_the_inbox_queue_takes_messages_only_from_our_topics_in_our_account():
    url, arn = inbox_queue_ensure(fifo=False)
    policy = json.loads(sqs_client().get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
                        ["Attributes"]["Policy"])  # fmt: skip
    [statement] = policy["Statement"]
    account = boto3_account()
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"].startswith(f"arn:*:sns:*:{account}:")
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"} and statement["Resource"] == arn


def boto3_account() -> str:
    """The account the emulator runs the engine in, as AWS itself reports it."""
    import boto3

    from delivery.aws import aws_region

    return boto3.client("sts", region_name=aws_region()).get_caller_identity()["Account"]
