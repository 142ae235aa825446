"""Instances built from raw columns (notifier.sql.loaded, the fire path's lock) are the
instances the ORM loads with .only() of the same columns."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models.signals import post_init

from delivery.models import Notification, NotificationState
from events.models import Event
from notifier import firing
from notifier.planning import plan_event
from notifier.sql import _plain_load, fetch_all, loaded
from tests.factories import make_event, make_topic

pytestmark = pytest.mark.django_db

COLUMNS = ("id", "key", "lead_minutes", "due_at", "deadline", "state", "attempts", "event_id")


def _planned() -> Notification:
    event = make_event(make_topic(), starts_in=timedelta(minutes=30))
    plan_event(event_id=event.pk)
    return Notification.objects.get(event=event)


def _raw(pk: int) -> tuple:
    (values,) = fetch_all(f"SELECT {', '.join(COLUMNS)} FROM delivery_notification WHERE id = %(id)s", {"id": pk})
    return values


def _fields(instance: Notification) -> dict:
    return {name: value for name, value in instance.__dict__.items() if name != "_state"}


def test_a_loaded_row_is_the_orm_s_row_with_the_same_columns():
    pk = _planned().pk
    ours = loaded(Notification, COLUMNS, _raw(pk))
    orm = Notification.objects.only(*COLUMNS).get(pk=pk)
    assert _fields(ours) == _fields(orm)
    assert ours.get_deferred_fields() == orm.get_deferred_fields() and "created_at" in ours.get_deferred_fields()
    assert (ours._state.adding, ours._state.db) == (orm._state.adding, orm._state.db) == (False, "default")
    assert ours.created_at == orm.created_at  # a deferred field loads on first use, as the ORM's does
    ours.last_error = "checked"
    ours.save(update_fields=["last_error"])  # saved like any loaded row: an UPDATE, not an INSERT
    assert Notification.objects.get(pk=pk).last_error == "checked" and Notification.objects.count() == 1


def test_a_model_with_an_init_receiver_is_loaded_the_orm_s_way():
    pk = _planned().pk
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=Notification)
    _plain_load.cache_clear()
    try:
        ours = loaded(Notification, tuple(reversed(COLUMNS)), tuple(reversed(_raw(pk))))
    finally:
        post_init.disconnect(receiver, sender=Notification)
        _plain_load.cache_clear()
    assert seen == [ours]
    assert _fields(ours) == _fields(Notification.objects.only(*COLUMNS).get(pk=pk))


def test_the_fire_path_s_lock_loads_rows_events_and_topics_and_keeps_only_its_attempt(django_assert_num_queries):
    row = _planned()
    Notification.objects.filter(pk=row.pk).update(state=NotificationState.SENDING, attempts=1)
    event = Event.objects.select_related("topic").get(pk=row.event_id)
    with transaction.atomic():
        (locked,) = firing._lock({row.pk: 1})
        with django_assert_num_queries(0):  # everything the publish reads came with the lock
            seen = (locked.key, locked.due_at, locked.deadline, locked.attempts, locked.event.title,
                    locked.event.description, locked.event.starts_at, locked.event.status,
                    locked.event.topic.slug, locked.event.effective_lead_minutes)  # fmt: skip
    assert seen == (row.key, row.due_at, row.deadline, 1, event.title, event.description, event.starts_at,
                    event.status, event.topic.slug, event.effective_lead_minutes)  # fmt: skip
    with transaction.atomic():
        assert firing._lock({row.pk: 2}) == []  # another attempt owns it now
