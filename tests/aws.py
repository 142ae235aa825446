"""Reading what moto's SNS and SQS hold, shared by every suite that talks to the emulator:
moto's own record of a topic, what SNS accepted on it, and SQS queues subscribed to it."""

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime

from delivery.aws import aws_region, sqs_client
from delivery.queues import queue_subscribe
from delivery.topics import topic_ensure_sns
from events.models import Topic
from tests.ids import unique_slug


def moto_topic(arn: str):
    """moto's topic object: the emulator runs in this process, so its state can be read directly."""
    from moto.sns.models import sns_backends

    return sns_backends[arn.split(":")[4]][arn.split(":")[3]].topics[arn]


def sns_published(topic_arn: str) -> list[tuple[dict[str, str], str | None]]:
    """What moto's SNS accepted on a topic: (the per-protocol bodies, the subject) per publish."""
    topic = moto_topic(topic_arn)
    return [(json.loads(message), subject) for _, message, subject, _, _ in topic.sent_notifications]


def receive(queue_url: str, *, wait_seconds: int = 1, most: int = 10, **options) -> list[dict]:
    """One ReceiveMessage on an SQS queue: up to ``most`` messages, [] when none came."""
    reply = sqs_client().receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=most, WaitTimeSeconds=wait_seconds, **options
    )
    return reply.get("Messages", [])


@dataclass
class Received:
    key: str
    notification_id: int
    body: dict
    sent_ms: int  # when SQS accepted it (moto stamps it as SNS delivers)

    def lag_seconds(self) -> float:
        due = datetime.fromisoformat(self.body["due_at"].replace("Z", "+00:00"))
        return self.sent_ms / 1000 - due.timestamp()


class Inbox:
    """An SQS queue subscribed to an SNS topic; collects every message, duplicates included."""

    def __init__(self, topic_arn: str) -> None:
        self.url = queue_subscribe(queue_name=unique_slug("inbox"), topic_arn=topic_arn)
        self.messages: list[Received] = []

    @classmethod
    def for_topic(cls, topic: Topic) -> "Inbox":
        return cls(topic_ensure_sns(topic=topic))

    def drain(self, seconds: float) -> list[Received]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            wait = max(0, min(1, int(deadline - time.monotonic())))
            for message in receive(self.url, wait_seconds=wait, AttributeNames=["SentTimestamp"],
                                   MessageAttributeNames=["All"]):  # fmt: skip
                body = json.loads(message["Body"])
                assert message["MessageAttributes"]["notification_key"]["StringValue"] == body["key"]
                self.messages.append(
                    Received(body["key"], body["notification_id"], body, int(message["Attributes"]["SentTimestamp"]))
                )
                sqs_client().delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return self.messages

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            self.drain(min(1.0, deadline - time.monotonic()))
        return self.messages

    def counts(self) -> dict[str, int]:
        tally: dict[str, int] = {}
        for message in self.messages:
            tally[message.key] = tally.get(message.key, 0) + 1
        return tally


def sms_sent(number: str) -> list[str]:
    """The texts moto's SNS accepted for a phone number (``Publish`` with ``PhoneNumber``)."""
    from moto.sns.models import sns_backends

    backend = sns_backends["123456789012"][aws_region()]  # moto's default account
    return [text for phone, text in backend.sms_messages.values() if phone == number]


def last_code(texts: list) -> str:
    """The one-time code in the last of these messages."""
    assert texts, "no verification message was sent"
    return re.findall(r"\b(\d{6})\b", str(texts[-1]))[-1]


def email_code(proof_ref: str) -> str:
    """The code published to an email proof's own topic (its subscription ARN names it)."""
    return last_code([message for _, message, _, _, _ in moto_topic(proof_ref.rsplit(":", 1)[0]).sent_notifications])
