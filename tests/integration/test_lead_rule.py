"""The lead rule as it runs: the plan's SQL against real PostgreSQL (``notifier/planning.py``
is its one implementation). Due = start minus the lead in elapsed minutes, whatever the
zone, the DST change or the session's time zone; due at once when planned late; nothing
at or past the start."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from delivery.models import Notification
from events.models import MAX_LEAD_MINUTES
from notifier.planning import plan_event, plan_window
from tests.factories import make_event, make_topic

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
# Planning "now", well before every start below unless a test says otherwise.
EARLY = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def planned(starts_at: datetime, *, lead: int = 10, now: datetime = EARLY) -> Notification | None:
    event = make_event(make_topic(lead=lead), starts_at=starts_at)
    plan_event(event_id=event.pk, now=now)
    return Notification.objects.filter(event=event).first()


def test_due_is_lead_minutes_before_start_in_utc():
    row = planned(datetime(2026, 6, 1, 18, 0, tzinfo=LONDON))  # BST, UTC+1
    assert row.due_at == datetime(2026, 6, 1, 16, 50, tzinfo=UTC)
    assert row.deadline == datetime(2026, 6, 1, 17, 0, tzinfo=UTC)


def test_due_across_spring_forward_is_exact_elapsed_time():
    # 2026-03-29 01:00 UTC London jumps 01:00 -> 02:00 local; an event at 02:05 BST
    # (01:05 UTC) is due at 00:55 UTC, i.e. 00:55 GMT local: 10 real minutes earlier.
    starts = datetime(2026, 3, 29, 2, 5, tzinfo=LONDON)
    row = planned(starts)
    assert row.due_at == datetime(2026, 3, 29, 0, 55, tzinfo=UTC)
    assert starts - row.due_at == timedelta(minutes=10)
    assert row.due_at.astimezone(LONDON).strftime("%H:%M %Z") == "00:55 GMT"


def test_due_across_fall_back_follows_the_fold():
    # 2026-11-01 01:30 happens twice in New York; fold=1 is the second (EST, UTC-5).
    first = planned(datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=0))
    second = planned(datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=1))
    assert first.due_at == datetime(2026, 11, 1, 5, 20, tzinfo=UTC)
    assert second.due_at == datetime(2026, 11, 1, 6, 20, tzinfo=UTC)


def test_lead_across_midnight_falls_on_the_day_before():
    row = planned(datetime(2026, 6, 2, 0, 5, tzinfo=UTC), lead=10)
    assert row.due_at == datetime(2026, 6, 1, 23, 55, tzinfo=UTC)


def test_longest_lead_across_a_dst_change_is_elapsed_time_in_any_session_zone():
    # A week's lead over the spring-forward night: 10,080 real minutes, so the local wall
    # clock of the due time is an hour off the start's. The session's zone must not matter
    # (an interval in days would follow it).
    starts = datetime(2026, 3, 30, 12, 0, tzinfo=LONDON)  # 11:00 UTC
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Europe/London'")
    try:
        row = planned(starts, lead=MAX_LEAD_MINUTES)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
    assert row.due_at == datetime(2026, 3, 23, 11, 0, tzinfo=UTC)
    assert row.due_at.astimezone(LONDON).strftime("%H:%M %Z") == "11:00 GMT"


def test_event_lead_overrides_the_topic_default():
    topic = make_topic(lead=30)
    starts = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
    own, default = make_event(topic, starts_at=starts, lead=5), make_event(topic, starts_at=starts)
    plan_window(hours=24 * 365, now=EARLY)
    due = dict(Notification.objects.values_list("event_id", "due_at"))
    assert due == {own.pk: starts - timedelta(minutes=5), default.pk: starts - timedelta(minutes=30)}


def test_past_due_but_before_the_start_is_due_at_once():
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    row = planned(now + timedelta(minutes=4), lead=10, now=now)  # "starts in 4 minutes"
    assert row.due_at == now
    assert row.deadline == now + timedelta(minutes=4)


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(microseconds=-1), timedelta(hours=-3)])
def test_at_or_past_the_start_nothing_is_planned(offset):
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert planned(now + offset, now=now) is None


def test_window_selects_by_due_time_not_start():
    # Starts after the 24 h window but is due inside it: the lead is what counts.
    now = EARLY
    topic = make_topic(lead=60)
    inside = make_event(topic, starts_at=now + timedelta(hours=24, minutes=30))
    outside = make_event(topic, starts_at=now + timedelta(hours=25, minutes=1))
    plan_window(hours=24, now=now)
    assert set(Notification.objects.values_list("event_id", flat=True)) == {inside.pk}
    assert outside.pk not in set(Notification.objects.values_list("event_id", flat=True))
