"""Known ledger rows for the console's tests, written directly (the figures read the
ledger, not how it was filled)."""

import uuid
from datetime import datetime, timedelta

from django.utils import timezone

from delivery.models import Notification, NotificationState
from events.models import CANARY_TOPIC_SLUG, Event, Topic
from events.services import topic_create
from tests.factories import make_event, make_topic


def canary_topic() -> Topic:
    return Topic.objects.filter(slug=CANARY_TOPIC_SLUG).first() or topic_create(
        slug=CANARY_TOPIC_SLUG, name="Canary", default_lead_minutes=1
    )


def row(
    event: Event,
    state: NotificationState,
    *,
    due_at: datetime | None = None,
    lag_ms: int | None = None,
    ended_ago: timedelta = timedelta(minutes=5),
    last_error: str = "",
) -> Notification:
    """One ledger row; a terminal one ended ``ended_ago`` (updated_at, and sent_at when sent)."""
    now = timezone.now()
    due_at = due_at or now - ended_ago
    ended = now - ended_ago
    notification = Notification.objects.create(
        event=event, key=uuid.uuid4().hex, lead_minutes=10, due_at=due_at, deadline=due_at + timedelta(minutes=10),
        state=state, sent_at=ended if state == NotificationState.SENT else None,
        lag_ms=lag_ms if state == NotificationState.SENT else None, last_error=last_error,
    )  # fmt: skip
    Notification.objects.filter(pk=notification.pk).update(updated_at=ended)  # auto_now ignored by update()
    return notification


def event_on(topic: Topic | None = None, **options) -> Event:
    """An event created through the service; under the test's transaction its on-commit
    plan never runs, so it has no ledger row until the test plans it."""
    return make_event(topic or make_topic(), **options)
