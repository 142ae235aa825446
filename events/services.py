"""Writes for topics and events. Each announces its change once committed
(``events.signals``): the scheduler re-plans the event, the SNS mirror follows the topic."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from config.announce import announce_on_commit
from events.history import CREATED_FIELDS, Actor, change_record
from events.models import Event, Topic
from events.signals import event_changed, topic_saved


def event_start_check(starts_at: datetime | None) -> None:
    """A new start must carry a UTC offset and lie in the future, at most
    ``NOTIFIER_EVENT_MAX_DAYS_AHEAD`` days ahead; ValidationError otherwise."""
    if starts_at is None or starts_at.tzinfo is None or starts_at.utcoffset() is None:
        raise ValidationError({"starts_at": "Include a UTC offset, e.g. 2026-01-31T18:00:00Z."})
    now = timezone.now()
    if starts_at <= now:
        raise ValidationError({"starts_at": "The event must start in the future."})
    days = settings.NOTIFIER_EVENT_MAX_DAYS_AHEAD
    if starts_at > now + timedelta(days=days):
        raise ValidationError({"starts_at": f"The event must start within {days} days from now."})


def event_editable_check(event: Event) -> None:
    if event.status == Event.Status.CANCELLED:
        raise ValidationError({"status": "A cancelled event cannot be changed."})


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
    announce_on_commit(topic_saved, Topic, topic_id=topic.pk)
    return topic


def topic_update(*, topic: Topic, **fields: object) -> Topic:
    """Update name, description or default lead; a lead change re-plans the events."""
    if "slug" in fields and fields["slug"] != topic.slug:
        raise ValidationError({"slug": "A topic's slug cannot change: it names its SNS topic and API URL."})
    if "fifo" in fields and fields["fifo"] != topic.fifo:
        raise ValidationError({"fifo": "A topic cannot switch between FIFO and standard SNS."})
    lead_changed = fields.get("default_lead_minutes", topic.default_lead_minutes) != topic.default_lead_minutes
    for name, value in fields.items():
        setattr(topic, name, value)
    topic.full_clean()
    topic.save()
    announce_on_commit(topic_saved, Topic, topic_id=topic.pk)
    if lead_changed:
        topic_id = topic.pk
        transaction.on_commit(lambda: _announce_events_following_default(topic_id))
    return topic


def _announce_events_following_default(topic_id: int) -> None:
    """Each upcoming event that uses the topic's default lead has changed with it. Runs
    after commit, so each announcement goes out at once, on its own: no fire on the topic
    waits for the whole loop."""
    upcoming = Event.objects.filter(
        topic_id=topic_id, lead_minutes__isnull=True, status=Event.Status.SCHEDULED, starts_at__gt=timezone.now()
    )
    for event_id in upcoming.values_list("pk", flat=True).iterator():
        announce_on_commit(event_changed, Event, event_id=event_id)


def event_create(
    *,
    topic: Topic,
    title: str,
    starts_at: datetime,
    description: str = "",
    lead_minutes: int | None = None,
    actor: Actor = None,
) -> Event:
    """``actor``: the user making the change, or the name of the command (default "system")."""
    event_start_check(starts_at)
    event = Event(topic=topic, title=title, description=description, starts_at=starts_at, lead_minutes=lead_minutes)
    event.full_clean()
    with transaction.atomic():
        event.save()
        change_record(
            event=event, before={}, after={f: getattr(event, f) for f in CREATED_FIELDS}, actor=actor, created=True
        )
        announce_on_commit(event_changed, Event, event_id=event.pk)
    return event


def event_update(*, event: Event, actor: Actor = None, **fields: object) -> Event:
    """Edit an event; a new ``starts_at`` or ``lead_minutes`` moves its notification.

    The row is re-read under a lock and only changed columns are written, so an edit
    that raced a cancel can neither undo the cancel nor slip past its check.
    """
    with transaction.atomic():
        current = Event.objects.select_for_update().select_related("topic").get(pk=event.pk)
        event_editable_check(current)
        if "topic" in fields and fields["topic"] != current.topic:
            raise ValidationError({"topic": "An event cannot move to another topic; cancel it and create a new one."})
        changed = [name for name, value in fields.items() if getattr(current, name) != value]
        if "starts_at" in changed:
            event_start_check(fields["starts_at"])  # type: ignore[arg-type]
        before = {name: getattr(current, name) for name in changed}
        for name in changed:
            setattr(current, name, fields[name])
        current.full_clean()
        if changed:
            current.save(update_fields=[*changed, "updated_at"])
            change_record(event=current, before=before, after={n: fields[n] for n in changed}, actor=actor)
            announce_on_commit(event_changed, Event, event_id=current.pk)
    return current


def event_cancel(*, event: Event, actor: Actor = None) -> Event:
    """Cancel an event; its pending notifications are cancelled on commit. Idempotent:
    cancelling a cancelled event records nothing."""
    with transaction.atomic():
        current = Event.objects.select_for_update().get(pk=event.pk)
        if current.status != Event.Status.CANCELLED:
            before = {"status": current.status}
            current.status = Event.Status.CANCELLED
            current.save(update_fields=["status", "updated_at"])
            change_record(event=current, before=before, after={"status": current.status}, actor=actor)
            announce_on_commit(event_changed, Event, event_id=current.pk)
    return current
