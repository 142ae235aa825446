"""A realistic day for the dashboard's screenshots and its busy-day test: three topics, a
day of sends with a lag that follows the evening's load, a few failures, and tomorrow's
schedule with the 19:50 rush (thousands of kick-off reminders in one minute). Seeded, so
every run plants the same shape; written in bulk (the figures read the ledger, not how it
was filled)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from delivery.models import Notification, NotificationState
from events.models import Event, Topic
from events.services import topic_create
from tests.console.ledger import canary_topic
from tests.ids import unique_slug

S = NotificationState
SEED = 20261203
RUSH_SIZE = 1800  # reminders due in the 19:50 minute
REASONS = {
    "permanent error: InvalidParameter: Endpoint is disabled": 7,
    "retries exhausted: Throttling: Rate exceeded": 3,
    "permanent error: AuthorizationError: not authorized to publish": 1,
}


@dataclass
class BusyDay:
    topics: list[Topic]
    rush: datetime  # the minute of the planted peak
    unplanned: int  # events with no ledger row yet, due in the next 24 h


def _topic(name: str, lead: int) -> Topic:
    return topic_create(slug=unique_slug(name.split()[0].lower()), name=name, default_lead_minutes=lead)


def _next_rush(now: datetime) -> datetime:
    """The next 19:50 well inside the forecast's 24 hours; around 19:50 itself, when neither
    today's nor tomorrow's is, twelve hours ahead."""
    today = now.replace(hour=19, minute=50, second=0, microsecond=0)
    for rush in (today, today + timedelta(days=1)):
        if now + timedelta(minutes=5) < rush < now + timedelta(hours=23):
            return rush
    return now.replace(second=0, microsecond=0) + timedelta(hours=12)


def _rows(event: Event, state: str, dues: list[datetime], **fields: object) -> list[Notification]:
    rows = []
    for due in dues:
        deadline = due + timedelta(minutes=10)
        rows.append(Notification(event=event, key=uuid.uuid4().hex, lead_minutes=10, due_at=due, deadline=deadline,
                                 state=state, **fields))  # fmt: skip
    return rows


def plant_busy_day(now: datetime) -> BusyDay:
    rng = random.Random(SEED)
    topics = [_topic("Premier League kick-offs", 10), _topic("Team stand-ups", 5), _topic("Webinars", 15)]
    holders = {topic.pk: Event.objects.create(topic=topic, title=f"{topic.name} (yesterday)",
                                              starts_at=now - timedelta(hours=1)) for topic in topics}  # fmt: skip
    rows: list[Notification] = []
    # Yesterday to now: sends through the day, busier and slower in the evening.
    for minutes_ago in range(5, 24 * 60, 3):
        due = now - timedelta(minutes=minutes_ago)
        evening = 17 <= due.hour <= 21
        for _ in range(rng.randint(2, 9) if evening else rng.randint(0, 3)):
            topic = rng.choice(topics)
            lag_ms = int(rng.lognormvariate(6.3 if evening else 5.7, 0.55))
            rows.append(_rows(holders[topic.pk], S.SENT, [due], sent_at=due + timedelta(milliseconds=lag_ms),
                              lag_ms=lag_ms)[0])  # fmt: skip
    for reason, count in REASONS.items():
        for _ in range(count):
            due = now - timedelta(minutes=rng.randint(10, 23 * 60))
            rows += _rows(holders[rng.choice(topics).pk], S.FAILED, [due], attempts=3, last_error=reason)
    for state, count in ((S.EXPIRED, 2), (S.SUPERSEDED, 14), (S.CANCELLED, 6)):
        dues = [now - timedelta(minutes=rng.randint(10, 1200)) for _ in range(count)]
        rows += _rows(holders[rng.choice(topics).pk], state, dues)
    # Tomorrow: the steady schedule on the quarter hours, and the rush.
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for offset in range(15, 24 * 60, 15):
        due = start + timedelta(minutes=offset - start.minute % 15)
        size = rng.randint(150, 400) if 17 <= due.hour <= 21 else rng.randint(10, 120)
        rows += _rows(holders[rng.choice(topics).pk], S.PLANNED, [due] * size)
    rush = _next_rush(now)
    rows += _rows(holders[topics[0].pk], S.PLANNED, [rush] * RUSH_SIZE)
    rows += _rows(holders[topics[0].pk], S.PLANNED, [rush + timedelta(minutes=10)] * (RUSH_SIZE // 3))
    rows += _rows(holders[topics[1].pk], S.ARMED, [now + timedelta(minutes=2)] * 4)
    canary = Event.objects.create(topic=canary_topic(), title="canary", starts_at=now - timedelta(hours=1))
    rows += _rows(canary, S.SENT, [now - timedelta(minutes=7)], sent_at=now - timedelta(minutes=6), lag_ms=1400)
    Notification.objects.bulk_create(rows, batch_size=2000)
    _end_rows()
    # Events the nightly plan has not reached: no ledger row, due tomorrow afternoon.
    webinar_start = start.replace(minute=0) + timedelta(hours=15)
    for index in range(25):
        Event.objects.create(topic=topics[2], title=f"Webinar {index + 1}", starts_at=webinar_start)
    return BusyDay(topics=topics, rush=rush, unplanned=25)


def _end_rows() -> None:
    """Finished rows end when they were sent or due, not when this ran: the outcomes count
    by updated_at, which bulk_create set to now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE delivery_notification SET updated_at = COALESCE(sent_at, due_at + interval '2 seconds') "
            "WHERE state NOT IN ('planned', 'armed')"
        )
