"""SQS queues subscribed to SNS topics: the in-app inbox queues, and any queue a demo
or a test wants to watch a topic through."""

import json

from django.conf import settings

from delivery.aws import sns_client, sqs_client
from delivery.aws_encryption import QUEUE_ENCRYPTION_NAMES, queue_encryption_changes

# A message the inbox consumer failed on this many times goes to the dead-letter queue.
INBOX_MAX_RECEIVES = 5
INBOX_VISIBILITY_TIMEOUT_SECONDS = 60


def queue_attributes(url: str, *names: str) -> dict[str, str]:
    return sqs_client().get_queue_attributes(QueueUrl=url, AttributeNames=list(names)).get("Attributes", {})


def queue_encrypt(url: str) -> dict[str, str]:
    """Bring a queue's server-side encryption in step with the setting; returns what was set."""
    changes = queue_encryption_changes(queue_attributes(url, *QUEUE_ENCRYPTION_NAMES))
    if changes:
        sqs_client().set_queue_attributes(QueueUrl=url, Attributes=changes)
    return changes


def queue_ensure(*, name: str, fifo: bool = False, attributes: dict[str, str] | None = None) -> tuple[str, str]:
    """Create (idempotently) a queue, encrypted, and set its attributes; returns (url, arn).

    Only FifoQueue goes to CreateQueue (it cannot be set later): AWS refuses CreateQueue
    of an existing queue whose attributes differ in any way, so the rest is set apart."""
    sqs = sqs_client()
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"} if fifo else {})["QueueUrl"]
    current = queue_attributes(url, "QueueArn", *QUEUE_ENCRYPTION_NAMES)
    wanted = {**(attributes or {}), **queue_encryption_changes(current)}
    if fifo:
        wanted["ContentBasedDeduplication"] = "false"
    if wanted:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=wanted)
    return url, current["QueueArn"]


def account_of(arn: str) -> str:
    """The AWS account in an ARN (arn:partition:service:region:account:resource)."""
    return arn.split(":")[4]


def _allow_sns(url: str, queue_arn: str, source_arn: dict[str, str]) -> None:
    """On real AWS a queue must allow SNS to send to it: only from the named topics, and
    only from the engine's own account (the queue's: the engine created it), so a topic of
    the same name in another account cannot write into users' inboxes."""
    condition = {**source_arn, "StringEquals": {"aws:SourceAccount": account_of(queue_arn)}}
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


def inbox_dead_letter_name(*, fifo: bool) -> str:
    name = inbox_queue_name(fifo=fifo)
    return name.replace(".fifo", "-dlq.fifo") if fifo else f"{name}-dlq"


def inbox_queue_names() -> list[str]:
    """Every queue of the inbox: standard and FIFO, each with its dead-letter queue."""
    return [name(fifo=fifo) for fifo in (False, True) for name in (inbox_queue_name, inbox_dead_letter_name)]


def inbox_queue_ensure(*, fifo: bool) -> tuple[str, str]:
    """The in-app inbox queue (with its dead-letter queue); returns (url, arn)."""
    name = inbox_queue_name(fifo=fifo)
    dead_name = inbox_dead_letter_name(fifo=fifo)
    _, dead_arn = queue_ensure(name=dead_name, fifo=fifo, attributes={"MessageRetentionPeriod": "1209600"})
    redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": str(INBOX_MAX_RECEIVES)})
    url, arn = queue_ensure(
        name=name, fifo=fifo,
        attributes={"VisibilityTimeout": str(INBOX_VISIBILITY_TIMEOUT_SECONDS), "RedrivePolicy": redrive},
    )  # fmt: skip
    topics = f"arn:*:sns:*:{account_of(arn)}:{settings.NOTIFIER_SNS_TOPIC_PREFIX}*"
    _allow_sns(url, arn, {"ArnLike": {"aws:SourceArn": topics}})
    return url, arn


def inbox_attach(*, topic_arn: str, fifo: bool) -> str:
    """Subscribe the inbox queue to a topic (idempotent: SNS returns the existing one)."""
    _, arn = inbox_queue_ensure(fifo=fifo)
    return _subscribe_raw(topic_arn, arn)


def canary_queue_name() -> str:
    """The engine's own queue on the canary topic, named with its resource prefix."""
    return f"{settings.NOTIFIER_SNS_TOPIC_PREFIX}canary"


def canary_queue_attach(*, topic_arn: str) -> str:
    """The canary queue, subscribed raw to the canary's SNS topic only; returns its URL.
    Idempotent (SNS returns the existing subscription), so sync_sns and every canary run
    may call it."""
    return queue_subscribe(queue_name=canary_queue_name(), topic_arn=topic_arn)


def canary_queue_url() -> str | None:
    """The canary queue's URL; None until the first canary run has made it."""
    try:
        return sqs_client().get_queue_url(QueueName=canary_queue_name())["QueueUrl"]
    except sqs_client().exceptions.QueueDoesNotExist:
        return None
