"""Server-side encryption of the SNS topics and SQS queues the engine creates, against
moto: a KMS key when NOTIFIER_KMS_KEY_ID is set, SQS-managed SSE otherwise, and sync_sns
bringing existing ones in step (docs/decisions/0013)."""

import io

import pytest
from django.core.management import call_command

from delivery.aws import sns_client, sqs_client
from delivery.aws_encryption import KMS_DATA_KEY_REUSE_SECONDS
from delivery.channels.email import EmailChannel
from delivery.queues import inbox_queue_ensure, inbox_queue_names, queue_subscribe
from delivery.topics import topic_ensure_sns
from tests.factories import make_topic
from tests.ids import unique_slug

pytestmark = pytest.mark.django_db

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture(autouse=True)
def own_inbox_queue(settings):
    """Fresh inbox queues per test: sync_sns checks them, and other tests' must not count."""
    settings.NOTIFIER_INBOX_QUEUE_NAME = unique_slug("inbox")


def topic_attributes(arn: str) -> dict[str, str]:
    return sns_client().get_topic_attributes(TopicArn=arn)["Attributes"]


def queue_encryption(name: str) -> dict[str, str]:
    url = sqs_client().get_queue_url(QueueName=name)["QueueUrl"]
    names = ["KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled"]
    found = sqs_client().get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return {name: value for name, value in found.items() if value}  # AWS lists an unset key as nothing


def sync(*args: str) -> str:
    out = io.StringIO()
    call_command("sync_sns", *args, stdout=out)
    return out.getvalue()


def test_without_a_kms_key_queues_use_sqs_managed_sse_and_topics_no_key():
    topic = make_topic()
    arn = topic_ensure_sns(topic=topic)
    inbox_queue_ensure(fifo=True)
    assert "KmsMasterKeyId" not in topic_attributes(arn)
    for name in inbox_queue_names():  # the standard and FIFO inbox queues and both dead-letter queues
        assert "KmsMasterKeyId" not in queue_encryption(name)
        assert queue_encryption(name)["SqsManagedSseEnabled"].lower() == "true"


def test_with_a_kms_key_every_topic_and_queue_the_engine_creates_uses_it(settings):
    settings.NOTIFIER_KMS_KEY_ID = KEY
    topic = make_topic(fifo=True)
    arn = topic_ensure_sns(topic=topic)
    inbox_queue_ensure(fifo=False)
    assert topic_attributes(arn)["KmsMasterKeyId"] == KEY
    for name in inbox_queue_names():
        assert queue_encryption(name) == {
            "KmsMasterKeyId": KEY,
            "KmsDataKeyReusePeriodSeconds": str(KMS_DATA_KEY_REUSE_SECONDS),
            "SqsManagedSseEnabled": "false",  # SSE-KMS and SSE-SQS exclude each other
        }
    demo = unique_slug("watch")  # a queue watching a topic (seed_demo, tests): encrypted too
    queue_subscribe(queue_name=demo, topic_arn=topic_ensure_sns(topic=make_topic()))
    assert queue_encryption(demo)["KmsMasterKeyId"] == KEY
    proof = EmailChannel().proof_open(endpoint="ann@example.com")  # an address check's own topic
    assert topic_attributes(proof.rsplit(":", 1)[0])["KmsMasterKeyId"] == KEY


def test_sync_sns_encrypts_existing_topics_and_queues_and_then_finds_nothing(settings):
    topic = make_topic()
    arn = topic_ensure_sns(topic=topic)  # made before the key was configured
    inbox_queue_ensure(fifo=True)
    assert "KmsMasterKeyId" not in topic_attributes(arn)
    settings.NOTIFIER_KMS_KEY_ID = KEY

    planned = sync("--dry-run", "--topic", topic.slug)
    assert f"~ SNS topic {topic.slug}: server-side encryption to KMS key {KEY}" in planned, planned
    for name in inbox_queue_names():
        assert f"~ SQS queue {name}: server-side encryption to KMS key {KEY}" in planned
    assert "KmsMasterKeyId" not in topic_attributes(arn)  # a dry run changes nothing

    done = sync("--topic", topic.slug)
    assert "5 change(s) made, 0 failed" in done, done
    assert topic_attributes(arn)["KmsMasterKeyId"] == KEY
    assert all(queue_encryption(name)["KmsMasterKeyId"] == KEY for name in inbox_queue_names())
    assert sync("--topic", topic.slug).strip() == "in step: 0 changes"


def test_sync_sns_follows_the_setting_back_to_sqs_managed_sse(settings):
    settings.NOTIFIER_KMS_KEY_ID = KEY
    topic = make_topic()
    arn = topic_ensure_sns(topic=topic)
    inbox_queue_ensure(fifo=True)
    url = sqs_client().get_queue_url(QueueName=inbox_queue_names()[0])["QueueUrl"]
    settings.NOTIFIER_KMS_KEY_ID = ""  # the key is retired

    done = sync("--topic", topic.slug)
    assert "5 change(s) made, 0 failed" in done, done
    assert "KmsMasterKeyId" not in topic_attributes(arn)
    for name in inbox_queue_names():
        found = queue_encryption(name)
        assert "KmsMasterKeyId" not in found and found["SqsManagedSseEnabled"].lower() == "true", (name, found)
    sqs_client().set_queue_attributes(QueueUrl=url, Attributes={"SqsManagedSseEnabled": "false"})  # by hand
    assert f"~ SQS queue {inbox_queue_names()[0]}: server-side encryption" in sync("--topic", topic.slug)
    assert queue_encryption(inbox_queue_names()[0])["SqsManagedSseEnabled"].lower() == "true"
    assert sync("--topic", topic.slug).strip() == "in step: 0 changes"
