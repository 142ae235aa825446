"""SQS queues subscribed to SNS topics: the in-app inbox queues, and any queue a demo
or a test wants to watch a topic through."""

import json

from django.conf import settings

from delivery.aws import sns_client, sqs_client

# A message the inbox consumer failed on this many times goes to the dead-letter queue.
INBOX_MAX_RECEIVES = 5
INBOX_VISIBILITY_TIMEOUT_SECONDS = 60


def _queue_arn(url: str) -> str:
    return sqs_client().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def queue_ensure(*, name: str, fifo: bool = False, attributes: dict[str, str] | None = None) -> tuple[str, str]:
    """Create (idempotently) a queue and set its attributes; returns (url, arn).

    Only FifoQueue goes to CreateQueue (it cannot be set later): AWS refuses CreateQueue
    of an existing queue whose attributes differ in any way, so the rest is set apart."""
    sqs = sqs_client()
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"} if fifo else {})["QueueUrl"]
    wanted = dict(attributes or {})
    if fifo:
        wanted["ContentBasedDeduplication"] = "false"
    if wanted:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=wanted)
    return url, _queue_arn(url)


def _allow_sns(url: str, queue_arn: str, condition: dict[str, dict[str, str]]) -> None:
    """On real AWS a queue must allow SNS to send to it."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": condition,
            }
        ],
    }
    sqs_client().set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})


def _subscribe_raw(topic_arn: str, queue_arn: str) -> str:
    return sns_client().subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"}, ReturnSubscriptionArn=True,
    )["SubscriptionArn"]  # fmt: skip


def queue_subscribe(*, queue_name: str, topic_arn: str, fifo: bool = False) -> str:
    """A queue that receives one topic's messages raw; returns its URL."""
    url, arn = queue_ensure(name=queue_name, fifo=fifo)
    _allow_sns(url, arn, {"ArnEquals": {"aws:SourceArn": topic_arn}})
    _subscribe_raw(topic_arn, arn)
    return url


def inbox_queue_name(*, fifo: bool) -> str:
    # SNS FIFO topics deliver only to FIFO queues, whose names end in .fifo.
    return f"{settings.NOTIFIER_INBOX_QUEUE_NAME}.fifo" if fifo else settings.NOTIFIER_INBOX_QUEUE_NAME


def inbox_queue_ensure(*, fifo: bool) -> tuple[str, str]:
    """The in-app inbox queue (with its dead-letter queue); returns (url, arn)."""
    name = inbox_queue_name(fifo=fifo)
    dead_name = name.replace(".fifo", "-dlq.fifo") if fifo else f"{name}-dlq"
    _, dead_arn = queue_ensure(name=dead_name, fifo=fifo, attributes={"MessageRetentionPeriod": "1209600"})
    redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": str(INBOX_MAX_RECEIVES)})
    url, arn = queue_ensure(
        name=name, fifo=fifo,
        attributes={"VisibilityTimeout": str(INBOX_VISIBILITY_TIMEOUT_SECONDS), "RedrivePolicy": redrive},
    )  # fmt: skip
    topics = f"arn:*:sns:*:*:{settings.NOTIFIER_SNS_TOPIC_PREFIX}*"
    _allow_sns(url, arn, {"ArnLike": {"aws:SourceArn": topics}})
    return url, arn


def inbox_attach(*, topic_arn: str, fifo: bool) -> str:
    """Subscribe the inbox queue to a topic (idempotent: SNS returns the existing one)."""
    _, arn = inbox_queue_ensure(fifo=fifo)
    return _subscribe_raw(topic_arn, arn)
