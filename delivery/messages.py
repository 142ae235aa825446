"""The one message SNS fans out for one notification (docs/decisions/0004).

``MessageStructure=json``: each protocol reads its own body, rendered by its channel
(email text and subject, SMS text, APNS/GCM payloads); sqs, https and email-json read
the ``default``, the JSON document, so it is in the message once, not four times.
The notification id and key travel in the body and the attributes, so consumers can
de-duplicate and filter policies can select.
"""

import json
from dataclasses import dataclass
from typing import Any

from config.utc import utc_iso
from delivery.channels import adapters
from delivery.errors import DeliveryError
from delivery.models import Notification
from delivery.rendering import MessageFacts, Renderer
from delivery.selectors import renderer_for_topic
from events.models import Event, Topic

# SNS refuses messages over 256 KiB; refuse them ourselves with a clear reason.
SNS_MAX_MESSAGE_BYTES = 256 * 1024
# json.dumps makes a new encoder on every call given any option; a burst makes two a message.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: int
    topic_arn: str
    message: str
    attributes: dict[str, dict[str, str]]
    subject: str | None  # from the channel that provides one (email); SNS sends none otherwise
    size: int  # bytes SNS counts against its limit: body and attributes
    group_id: str | None = None
    dedup_id: str | None = None

    def publish_kwargs(self) -> dict[str, Any]:
        """Arguments of a single ``Publish`` call."""
        entry = self.batch_entry()
        del entry["Id"]
        return {"TopicArn": self.topic_arn, **entry}

    def batch_entry(self) -> dict[str, Any]:
        """One ``PublishBatchRequestEntries`` member; its Id is the notification id."""
        entry: dict[str, Any] = {
            "Id": str(self.notification_id),
            "Message": self.message,
            "MessageStructure": "json",
            "MessageAttributes": self.attributes,
        }
        if self.subject is not None:
            entry["Subject"] = self.subject
        if self.group_id:
            entry["MessageGroupId"] = self.group_id
            entry["MessageDeduplicationId"] = self.dedup_id
        return entry


def message_facts(notification: Notification, event: Event, topic: Topic) -> MessageFacts:
    return MessageFacts(
        notification_id=notification.pk, key=notification.key, event_id=event.pk, title=event.title,
        description=event.description, topic_slug=topic.slug, topic_name=topic.name, starts_at=event.starts_at,
        due_at=notification.due_at, lead_minutes=notification.lead_minutes,
    )  # fmt: skip


def facts_document(facts: MessageFacts) -> dict[str, Any]:
    return {
        "notification_id": facts.notification_id,
        "key": facts.key,
        "event_id": facts.event_id,
        "topic": facts.topic_slug,
        "topic_name": facts.topic_name,
        "title": facts.title,
        "description": facts.description,
        "starts_at": utc_iso(facts.starts_at),
        "due_at": utc_iso(facts.due_at),
        "lead_minutes": facts.lead_minutes,
    }


def notification_ref(document: dict[str, Any]) -> tuple[int, str]:
    """The notification id and key of a received JSON document (the in-app inbox consumer).
    Nothing else in it is trusted: what to show is read from the ledger."""
    return int(document["notification_id"]), str(document["key"])


def build_message(
    notification: Notification, event: Event, topic: Topic, renderer: Renderer | None = None
) -> OutgoingMessage:
    """Render every channel's body into one publish; refuse (permanently) one SNS would."""
    renderer = renderer or renderer_for_topic(topic.pk)
    facts = message_facts(notification, event, topic)
    document = _compact_json(facts_document(facts))
    bodies = {"default": document}
    subject = None
    try:
        with renderer.display_zone():
            for channel in adapters():
                bodies.update(channel.bodies(facts, renderer))
                subject = subject or channel.subject(facts, renderer)
    except Exception as exc:  # a topic's template failing on this event's data: retrying cannot help
        raise DeliveryError(f"rendering failed: {type(exc).__name__}: {exc}", permanent=True) from exc
    body = _compact_json(bodies)
    attributes = {
        "topic": {"DataType": "String", "StringValue": topic.slug},
        "event_id": {"DataType": "Number", "StringValue": str(event.pk)},
        "notification_key": {"DataType": "String", "StringValue": notification.key},
    }
    size = len(body.encode()) + sum(len(k) + len(v["DataType"]) + len(v["StringValue"]) for k, v in attributes.items())
    if size > SNS_MAX_MESSAGE_BYTES:
        raise DeliveryError(
            f"message is {size} bytes with every channel's body, over SNS's limit of {SNS_MAX_MESSAGE_BYTES}; "
            "shorten the event description or the topic's templates",
            permanent=True,
        )
    return OutgoingMessage(
        notification_id=notification.pk,
        topic_arn=topic.sns_topic_arn,
        message=body,
        attributes=attributes,
        subject=subject,
        size=size,
        group_id=topic.slug if topic.fifo else None,
        dedup_id=notification.key if topic.fifo else None,
    )
