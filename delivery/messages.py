"""The message SNS fans out for one notification (DESIGN.md section 5).

SQS and https subscribers receive the JSON document; every protocol also gets it
as the ``default`` body until per-channel templates take over. The notification
id and key travel in the body and the attributes so consumers can de-duplicate.
"""

import json
from dataclasses import dataclass
from typing import Any

from delivery.errors import DeliveryError
from delivery.models import Notification
from events.models import Event, Topic
from notifier.scheduling import utc_iso

# SNS refuses messages over 256 KiB; refuse them ourselves with a clear reason.
SNS_MAX_MESSAGE_BYTES = 256 * 1024


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: int
    topic_arn: str
    message: str
    attributes: dict[str, dict[str, str]]
    group_id: str | None = None
    dedup_id: str | None = None

    def publish_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TopicArn": self.topic_arn,
            "Message": self.message,
            "MessageStructure": "json",
            "MessageAttributes": self.attributes,
        }
        if self.group_id:
            kwargs["MessageGroupId"] = self.group_id
            kwargs["MessageDeduplicationId"] = self.dedup_id
        return kwargs


def notification_document(notification: Notification, event: Event, topic: Topic) -> dict[str, Any]:
    return {
        "notification_id": notification.pk,
        "key": notification.key,
        "event_id": event.pk,
        "topic": topic.slug,
        "title": event.title,
        "description": event.description,
        "starts_at": utc_iso(event.starts_at),
        "due_at": utc_iso(notification.due_at),
        "lead_minutes": notification.lead_minutes,
    }


def build_message(notification: Notification, event: Event, topic: Topic) -> OutgoingMessage:
    document = json.dumps(notification_document(notification, event, topic), separators=(",", ":"))
    body = json.dumps({"default": document, "sqs": document, "https": document})
    if len(body.encode()) > SNS_MAX_MESSAGE_BYTES:
        raise DeliveryError(
            f"message is {len(body.encode())} bytes, over SNS's {SNS_MAX_MESSAGE_BYTES}", permanent=True
        )
    return OutgoingMessage(
        notification_id=notification.pk,
        topic_arn=topic.sns_topic_arn,
        message=body,
        attributes={
            "topic": {"DataType": "String", "StringValue": topic.slug},
            "event_id": {"DataType": "Number", "StringValue": str(event.pk)},
            "notification_key": {"DataType": "String", "StringValue": notification.key},
        },
        group_id=topic.slug if topic.fifo else None,
        dedup_id=notification.key if topic.fifo else None,
    )
