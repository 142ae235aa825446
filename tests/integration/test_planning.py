"""Set-based planning against real PostgreSQL (no worker: on-commit hooks do not run here)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from delivery.models import Notification, NotificationState
from events.models import Event
from notifier.locks import PLAN_LOCK_NAME, RedisLock
from notifier.planning import KEY_SQL, plan_event, plan_horizon, plan_window
from notifier.scheduling import notification_key
from notifier.services import window_plan
from tests.factories import make_event, make_topic

pytestmark = pytest.mark.django_db


def test_sql_key_matches_python_key():
    topic = make_topic(lead=7)
    starts = timezone.now().replace(microsecond=123456) + timedelta(days=1)
    events = [make_event(topic, starts_at=starts), make_event(topic, starts_at=starts, lead=15)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT e.id, {KEY_SQL} FROM events_event e JOIN events_topic t ON t.id = e.topic_id ORDER BY e.id"
        )
        sql_keys = dict(cursor.fetchall())
    for event in events:
        assert sql_keys[event.pk] == notification_key(event.pk, event.starts_at, event.effective_lead_minutes)


def test_window_plans_due_times_and_is_idempotent():
    topic = make_topic(lead=10)
    inside = make_event(topic, starts_in=timedelta(hours=5))
    # Starts after the window but is due inside it: the lead is what counts.
    edge = make_event(topic, starts_in=timedelta(hours=24, minutes=5))
    outside = make_event(topic, starts_in=timedelta(hours=30))
    first = plan_window(hours=24)
    assert len(first.planned) == 2
    again = plan_window(hours=24)
    assert again.planned == [] and again.retired == 0
    rows = {n.event_id: n for n in Notification.objects.all()}
    assert set(rows) == {inside.pk, edge.pk}
    assert outside.pk not in rows
    row = rows[inside.pk]
    assert row.due_at == inside.starts_at - timedelta(minutes=10)
    assert row.deadline == inside.starts_at
    assert row.state == NotificationState.PLANNED
    assert row.key == notification_key(inside.pk, inside.starts_at, 10)


def test_started_and_cancelled_events_are_not_planned_and_late_ones_are_due_now():
    topic = make_topic(lead=10)
    make_event(topic, starts_at=timezone.now() - timedelta(minutes=1))
    cancelled = make_event(topic, starts_in=timedelta(hours=1))
    Event.objects.filter(pk=cancelled.pk).update(status=Event.Status.CANCELLED)
    soon = make_event(topic, starts_in=timedelta(minutes=4))
    before = timezone.now()
    result = plan_window(hours=24)
    assert len(result.planned) == 1
    row = Notification.objects.get()
    assert row.event_id == soon.pk
    assert before <= row.due_at <= timezone.now()  # past its nominal due time: due now


def test_move_supersedes_and_plans_the_new_time_then_moving_back_revives():
    topic = make_topic()
    event = make_event(topic, starts_in=timedelta(hours=3))
    plan_event(event_id=event.pk)
    original = Notification.objects.get()
    event.starts_at += timedelta(minutes=30)
    event.save()
    moved = plan_event(event_id=event.pk)
    assert moved.retired == 1 and len(moved.planned) == 1
    original.refresh_from_db()
    assert original.state == NotificationState.SUPERSEDED
    assert "moved" in original.last_error
    current = Notification.objects.get(state=NotificationState.PLANNED)
    assert current.due_at == event.starts_at - timedelta(minutes=10)

    event.starts_at -= timedelta(minutes=30)
    event.save()
    plan_event(event_id=event.pk)
    original.refresh_from_db()
    assert original.state == NotificationState.PLANNED  # same key again: the row comes back
    assert Notification.objects.filter(state=NotificationState.PLANNED).count() == 1


def test_lead_change_and_cancel():
    topic = make_topic(lead=10)
    event = make_event(topic, starts_in=timedelta(hours=3))
    plan_event(event_id=event.pk)
    event.lead_minutes = 30
    event.save()
    plan_event(event_id=event.pk)
    live = Notification.objects.get(state=NotificationState.PLANNED)
    assert live.lead_minutes == 30 and live.due_at == event.starts_at - timedelta(minutes=30)
    event.status = Event.Status.CANCELLED
    event.save()
    result = plan_event(event_id=event.pk)
    assert result.planned == [] and result.retired == 1
    assert Notification.objects.get(pk=live.pk).state == NotificationState.CANCELLED
    assert not Notification.objects.filter(state__in=["planned", "armed", "sending"]).exists()


def test_sent_notification_is_never_replanned():
    topic = make_topic()
    event = make_event(topic, starts_in=timedelta(hours=3))
    plan_event(event_id=event.pk)
    Notification.objects.update(state=NotificationState.SENT)
    assert plan_event(event_id=event.pk).planned == []
    assert plan_window(hours=24).planned == []
    assert Notification.objects.count() == 1


def test_horizon_catch_up_plans_only_soon_due_unplanned_events():
    topic = make_topic(lead=10)
    soon = make_event(topic, starts_in=timedelta(minutes=12))  # due in 2 minutes
    make_event(topic, starts_in=timedelta(hours=2))
    result = plan_horizon()
    assert [n.event_id for n in Notification.objects.filter(pk__in=result.planned)] == [soon.pk]


def test_plan_is_skipped_while_another_process_holds_the_lock(redis):

    make_event(make_topic(), starts_in=timedelta(hours=2))
    other_pod = RedisLock(redis, PLAN_LOCK_NAME, ttl_ms=10_000)
    assert other_pod.acquire()
    assert window_plan(hours=24).skipped
    assert Notification.objects.count() == 0
    other_pod.release()
    result = window_plan(hours=24)
    assert not result.skipped and len(result.planned) == 1
    assert redis.get(PLAN_LOCK_NAME) is None  # released after the plan
