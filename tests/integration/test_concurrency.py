"""Races found in review, pinned down against real PostgreSQL."""

from datetime import timedelta

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from delivery.models import Notification, NotificationState
from events import services
from events.models import Event
from notifier.planning import plan_event, plan_window
from notifier.services import horizon_arm
from tests.engine import database_url
from tests.factories import make_event, make_topic


@pytest.mark.django_db
def test_an_edit_that_raced_a_cancel_cannot_undo_it():
    event = make_event(make_topic(), starts_in=timedelta(hours=3))
    plan_event(event_id=event.pk)
    loaded_by_the_patch = Event.objects.get(pk=event.pk)  # a PATCH read the event...
    services.event_cancel(event=Event.objects.get(pk=event.pk))  # ...then a cancel committed
    plan_event(event_id=event.pk)
    with pytest.raises(ValidationError) as refused:
        services.event_update(
            event=loaded_by_the_patch, title="renamed", starts_at=event.starts_at + timedelta(hours=1)
        )
    assert "status" in refused.value.message_dict
    assert Event.objects.get(pk=event.pk).status == Event.Status.CANCELLED
    assert not Notification.objects.filter(state__in=["planned", "armed", "sending"]).exists()


@pytest.mark.django_db
def test_an_edit_writes_only_the_fields_it_changed():
    event = make_event(make_topic(), starts_in=timedelta(hours=3), title="before")
    stale = Event.objects.get(pk=event.pk)
    Event.objects.filter(pk=event.pk).update(description="written by someone else")
    services.event_update(event=stale, title="after")
    fresh = Event.objects.get(pk=event.pk)
    assert (fresh.title, fresh.description) == ("after", "written by someone else")


@pytest.mark.django_db(transaction=True)
def test_planning_and_arming_never_wait_on_a_row_being_published(redis):
    topic = make_topic(lead=10)
    # Start order differs from due order (different leads): the deadlock found in review.
    rows = []
    for starts_in, lead in [(timedelta(minutes=14), 12), (timedelta(minutes=13), 10), (timedelta(minutes=12), 11)]:
        event = make_event(topic, starts_in=starts_in, lead=lead)
        rows.append(Notification.objects.get(event=event))  # planned and armed on commit
    Notification.objects.filter(pk=rows[0].pk).update(state=NotificationState.SENDING)
    Notification.objects.filter(pk=rows[1].pk).update(state=NotificationState.ARMED, next_attempt_at=timezone.now())
    Notification.objects.filter(pk=rows[2].pk).update(state=NotificationState.PLANNED, next_attempt_at=None)

    with psycopg.connect(database_url()) as publisher:  # a fire holding rows mid-publish
        publisher.execute(
            "SELECT id FROM delivery_notification WHERE id = ANY(%s) FOR UPDATE", [[r.pk for r in rows[:2]]]
        )
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # waiting would raise LockNotAvailable
        try:
            assert plan_window(hours=24).planned == []
            result = horizon_arm()
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        publisher.rollback()
    assert result.armed == [rows[2].pk]  # the free row armed; the held ones left alone
