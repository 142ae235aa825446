"""What an event's subscribers would receive, rendered without sending (issue 14, point 4).

The bodies come from ``delivery.messages.build_message``, the one call the fire path
publishes, and the in-app body from the inbox channel as the inbox consumer writes it,
both with the topic's own templates: the preview cannot drift from what goes out. It
reads only; nothing is written and nothing reaches SNS.
"""

import json
from dataclasses import dataclass
from datetime import timedelta

from delivery.channels import inbox_adapter
from delivery.errors import DeliveryError
from delivery.messages import build_message, message_facts
from delivery.models import Notification
from delivery.selectors import renderer_for_topic
from events.models import Event
from notifier.scheduling import notification_key


@dataclass(frozen=True)
class EventPreview:
    event: Event
    notification: Notification  # the event's current row, or an unsaved stand-in when none is planned
    planned: bool
    email_subject: str
    email_text: str
    sms_text: str
    push_title: str
    push_body: str
    push_payloads: dict[str, str]  # SNS protocol -> the JSON payload the platform gets
    in_app_html: str
    document: str  # the JSON that webhook and SQS subscribers get
    error: str = ""  # why the message cannot be rendered (the fire path would fail it the same way)


def _current_row(event: Event) -> tuple[Notification, bool]:
    """The ledger row the next send would be (same key as the event now has), or a stand-in
    with the id 0 that only the preview sees."""
    lead = event.effective_lead_minutes
    key = notification_key(event.pk, event.starts_at, lead)
    row = Notification.objects.filter(event=event, key=key).first()
    if row is not None:
        return row, True
    due_at = event.starts_at - timedelta(minutes=lead)
    return Notification(pk=0, event=event, key=key, lead_minutes=lead, due_at=due_at, deadline=event.starts_at), False


def _pretty(payload: str) -> str:
    return json.dumps(json.loads(payload), indent=2, ensure_ascii=False)


def event_preview(*, event: Event) -> EventPreview:
    row, planned = _current_row(event)
    topic = event.topic
    renderer = renderer_for_topic(topic.pk)
    try:
        message = build_message(row, event, topic, renderer)
        in_app = inbox_adapter().inbox_body(message_facts(row, event, topic), renderer)
    except Exception as error:  # a topic template failing on this event: show why, as the fire path would fail
        reason = str(error) if isinstance(error, DeliveryError) else f"{type(error).__name__}: {error}"
        return EventPreview(event, row, planned, "", "", "", "", "", {}, "", "", error=reason)
    bodies = json.loads(message.message)
    alert = json.loads(bodies["APNS"])["aps"]["alert"] if "APNS" in bodies else {}
    return EventPreview(
        event=event,
        notification=row,
        planned=planned,
        email_subject=message.subject or "",
        email_text=bodies.get("email", ""),
        sms_text=bodies.get("sms", ""),
        push_title=alert.get("title", ""),
        push_body=alert.get("body", ""),
        push_payloads={name: _pretty(bodies[name]) for name in ("APNS", "GCM") if name in bodies},
        in_app_html=in_app,
        document=_pretty(bodies["default"]),
    )
