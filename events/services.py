"""Writes for topics and events. Saving an event triggers its re-plan (notifier.signals)."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from events.models import Event, Topic


def _require_future_start(starts_at: datetime, now: datetime | None = None) -> None:
    if starts_at.tzinfo is None or starts_at.utcoffset() is None:
        raise ValidationError({"starts_at": "Include a UTC offset, e.g. 2026-01-31T18:00:00Z."})
    if starts_at <= (now or timezone.now()):
        raise ValidationError({"starts_at": "The event must start in the future."})


def topic_create(
    *,
    slug: str,
    name: str,
    description: str = "",
    default_lead_minutes: int | None = None,
    fifo: bool = False,
) -> Topic:
    topic = Topic(slug=slug, name=name, description=description, fifo=fifo)
    if default_lead_minutes is not None:
        topic.default_lead_minutes = default_lead_minutes
    topic.full_clean()
    topic.save()
    return topic


def topic_update(*, topic: Topic, **fields: object) -> Topic:
    """Update name, description or default lead; a lead change re-plans the events."""
    if "fifo" in fields and fields["fifo"] != topic.fifo:
        raise ValidationError({"fifo": "A topic cannot switch between FIFO and standard SNS."})
    lead_changed = "default_lead_minutes" in fields and fields["default_lead_minutes"] != topic.default_lead_minutes
    for name, value in fields.items():
        setattr(topic, name, value)
    topic.full_clean()
    with transaction.atomic():
        topic.save()
        if lead_changed:
            # Re-save events that follow the default so each is re-planned on commit.
            for event in topic.events.filter(lead_minutes__isnull=True, status=Event.Status.SCHEDULED):
                event.save(update_fields=["updated_at"])
    return topic


def event_create(
    *,
    topic: Topic,
    title: str,
    starts_at: datetime,
    description: str = "",
    lead_minutes: int | None = None,
) -> Event:
    _require_future_start(starts_at)
    event = Event(topic=topic, title=title, description=description, starts_at=starts_at, lead_minutes=lead_minutes)
    event.full_clean()
    event.save()
    return event


def event_update(*, event: Event, **fields: object) -> Event:
    """Edit an event; a new ``starts_at`` or ``lead_minutes`` moves its notification."""
    if event.status == Event.Status.CANCELLED:
        raise ValidationError({"status": "A cancelled event cannot be changed."})
    if "topic" in fields and fields["topic"] != event.topic:
        raise ValidationError({"topic": "An event cannot move to another topic; cancel it and create a new one."})
    if "starts_at" in fields and fields["starts_at"] != event.starts_at:
        _require_future_start(fields["starts_at"])  # type: ignore[arg-type]
    for name, value in fields.items():
        setattr(event, name, value)
    event.full_clean()
    event.save()
    return event


def event_cancel(*, event: Event) -> Event:
    """Cancel an event; its pending notifications are cancelled on commit. Idempotent."""
    if event.status != Event.Status.CANCELLED:
        event.status = Event.Status.CANCELLED
        event.save(update_fields=["status", "updated_at"])
    return event
