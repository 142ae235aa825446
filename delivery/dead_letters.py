"""The inbox's dead-letter queues, for on-call: what is in them, and a redrive back to
the inbox queue they came from (issue 14, point 4).

A message lands there after the consumer failed on it INBOX_MAX_RECEIVES times: a
notification this database did not hold yet, a database outage, a forged body. A
redrive is safe because the consumer is idempotent (one row per notification and user,
ON CONFLICT DO NOTHING): a message redriven twice, or one whose notification was
consumed meanwhile, writes nothing new.

Redrive moves messages itself (receive, send to the inbox queue, delete) rather than
with SQS's StartMessageMoveTask, which the local emulator (moto) does not implement; a
message is deleted from the dead-letter queue only after the inbox queue accepted it,
so a failure half-way leaves a copy in both at worst, never in neither.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from config.masking import scrub_contact_data
from delivery.aws import sqs_client
from delivery.inbox_wake import inbox_wake_publish
from delivery.queues import inbox_dead_letter_name, inbox_queue_name, queue_attributes

SAMPLE_SIZE = 10  # SQS's most per ReceiveMessage: one call, no paging
# One press of "redrive" moves at most this many (100 round trips of 10), so the request
# ends in seconds; the page says what is left and another press moves the next ones.
REDRIVE_MAX_MESSAGES = 1000
# Long enough for one batch's send and delete; a message not moved in it shows again.
REDRIVE_VISIBILITY_SECONDS = 60
EXCERPT_CHARS = 200


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    sent_at: datetime | None
    receive_count: int
    notification_id: int | None  # None: the body is not a notification document
    event_id: int | None
    topic: str
    title: str
    excerpt: str  # the start of the body, contact data masked


@dataclass(frozen=True)
class DeadLetterQueue:
    fifo: bool
    name: str
    exists: bool
    count: int = 0  # ApproximateNumberOfMessages
    in_flight: int = 0  # received by someone and not yet visible again
    sample: list[DeadLetter] = field(default_factory=list)

    @property
    def oldest(self) -> datetime | None:
        """The oldest sent time in the sample: SQS tells no order of a standard queue."""
        return min((m.sent_at for m in self.sample if m.sent_at), default=None)


@dataclass
class RedriveResult:
    moved: int = 0
    failed: list[str] = field(default_factory=list)  # SQS's reasons for messages left in place
    left: int = 0  # ApproximateNumberOfMessages afterwards


def _queue_url(name: str) -> str | None:
    sqs = sqs_client()
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return None


def _dead_letter(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    body = message.get("Body", "")
    try:
        document = json.loads(body)
        if not isinstance(document, dict):
            document = {}
    except ValueError:
        document = {}

    def number(name: str) -> int | None:
        try:
            return int(document[name])
        except (KeyError, TypeError, ValueError):
            return None

    return DeadLetter(
        message_id=message["MessageId"],
        sent_at=datetime.fromtimestamp(int(sent) / 1000, tz=UTC) if sent else None,
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        notification_id=number("notification_id"),
        event_id=number("event_id"),
        topic=str(document.get("topic", ""))[:80],
        title=str(document.get("title", ""))[:200],
        excerpt=scrub_contact_data(body[:EXCERPT_CHARS]),
    )


def dead_letters_peek(*, fifo: bool) -> DeadLetterQueue:
    """Depth and a sample of up to 10 messages, received with a visibility timeout of 0:
    nothing is hidden from a redrive and nothing is deleted."""
    name = inbox_dead_letter_name(fifo=fifo)
    url = _queue_url(name)
    if url is None:
        return DeadLetterQueue(fifo=fifo, name=name, exists=False)
    depth = queue_attributes(url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    reply = sqs_client().receive_message(
        QueueUrl=url, MaxNumberOfMessages=SAMPLE_SIZE, VisibilityTimeout=0, WaitTimeSeconds=0,
        AttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
    )  # fmt: skip
    return DeadLetterQueue(
        fifo=fifo,
        name=name,
        exists=True,
        count=int(depth.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(depth.get("ApproximateNumberOfMessagesNotVisible", 0)),
        sample=sorted(map(_dead_letter, reply.get("Messages", [])), key=lambda m: (m.sent_at is None, m.sent_at)),
    )


def _resend_entry(index: int, message: dict[str, Any], *, fifo: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
    attributes = {
        name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for name, value in message.get("MessageAttributes", {}).items()
    }
    if attributes:
        entry["MessageAttributes"] = attributes
    if fifo:
        entry["MessageGroupId"] = message.get("Attributes", {}).get("MessageGroupId", "redrive")
        # The dead-letter message's own id: a second redrive of the same message within
        # SQS's five-minute window (its delete failed) is dropped as a duplicate.
        entry["MessageDeduplicationId"] = message["MessageId"]
    return entry


def dead_letters_redrive(*, fifo: bool, limit: int = REDRIVE_MAX_MESSAGES) -> RedriveResult:
    """Move up to ``limit`` messages back to the inbox queue, ten at a time."""
    result = RedriveResult()
    source = _queue_url(inbox_dead_letter_name(fifo=fifo))
    target = _queue_url(inbox_queue_name(fifo=fifo))
    if source is None or target is None:
        return result
    sqs = sqs_client()
    while result.moved < limit:
        messages = sqs.receive_message(
            QueueUrl=source, MaxNumberOfMessages=min(10, limit - result.moved), WaitTimeSeconds=1,
            VisibilityTimeout=REDRIVE_VISIBILITY_SECONDS, AttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])  # fmt: skip
        if not messages:
            break  # a long poll (1 s) asks every SQS server: empty means empty
        entries = [_resend_entry(i, message, fifo=fifo) for i, message in enumerate(messages)]
        reply = sqs.send_message_batch(QueueUrl=target, Entries=entries)
        result.failed += [f"{f.get('Code')}: {f.get('Message', '')}" for f in reply.get("Failed", [])]
        accepted = [messages[int(ok["Id"])] for ok in reply.get("Successful", [])]
        if accepted:
            sqs.delete_message_batch(
                QueueUrl=source,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(accepted)],
            )
        result.moved += len(accepted)
        if accepted:
            inbox_wake_publish()
        if reply.get("Failed"):
            break  # the inbox queue refuses: stop rather than spin on the same messages
    result.left = int(queue_attributes(source, "ApproximateNumberOfMessages").get("ApproximateNumberOfMessages", 0))
    return result
