"""The conditional claim and the arm/reconcile pass against real PostgreSQL."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from delivery.models import DeliveryAttempt, Notification, NotificationState
from notifier.arming import arm, reconcile
from notifier.firing import claim
from notifier.planning import plan_event
from tests.factories import make_event, make_topic

pytestmark = pytest.mark.django_db


def planned_row(starts_in: timedelta, lead: int = 10) -> Notification:
    event = make_event(make_topic(lead=lead), starts_in=starts_in)
    plan_event(event_id=event.pk)
    return Notification.objects.get(event=event)


def test_claim_wins_once():
    row = planned_row(timedelta(minutes=12))
    Notification.objects.filter(pk=row.pk).update(state=NotificationState.ARMED)
    assert claim(notification_ids=[row.pk]) == {row.pk: 1}
    assert claim(notification_ids=[row.pk]) == {}  # a duplicate task finds nothing to do
    row.refresh_from_db()
    assert row.state == NotificationState.SENDING and row.attempts == 1
    assert DeliveryAttempt.objects.filter(notification=row).count() == 1


def test_claim_ignores_rows_not_armed():
    row = planned_row(timedelta(minutes=12))
    assert claim(notification_ids=[row.pk]) == {}
    row.refresh_from_db()
    assert row.state == NotificationState.PLANNED


def test_arm_takes_only_rows_within_the_horizon():
    soon = planned_row(timedelta(minutes=12))  # due in 2 min, inside a 5-min horizon
    later = planned_row(timedelta(minutes=30))
    result = arm()
    assert result.armed == [soon.pk]
    soon.refresh_from_db()
    later.refresh_from_db()
    assert soon.state == NotificationState.ARMED and soon.next_attempt_at == soon.due_at
    assert later.state == NotificationState.PLANNED
    assert arm().armed == []  # already armed: not taken twice


def test_reconcile_requeues_lost_armed_rows_after_the_grace():
    row = planned_row(timedelta(minutes=12))
    arm()
    now = row.due_at + timedelta(seconds=5)
    assert reconcile(now=now).requeued_lost == []  # within the grace: the ETA task may still run
    now = row.due_at + timedelta(seconds=20)
    assert reconcile(now=now).requeued_lost == [row.pk]
    row.refresh_from_db()
    assert row.next_attempt_at == now  # not picked again before another grace has passed
    assert reconcile(now=now + timedelta(seconds=1)).requeued_lost == []


def test_reconcile_recovers_stuck_sends_and_closes_their_attempt():
    row = planned_row(timedelta(minutes=12))
    Notification.objects.filter(pk=row.pk).update(state=NotificationState.ARMED)
    claim(notification_ids=[row.pk])
    later = timezone.now() + timedelta(minutes=5)
    assert reconcile(now=later).recovered_stuck == [row.pk]
    row.refresh_from_db()
    assert row.state == NotificationState.ARMED
    assert DeliveryAttempt.objects.get(notification=row).outcome == DeliveryAttempt.Outcome.ABANDONED


def test_reconcile_expires_overdue_rows_past_their_deadline():
    row = planned_row(timedelta(minutes=12))
    result = reconcile(now=row.deadline + timedelta(seconds=1))
    assert result.expired == [row.pk]
    row.refresh_from_db()
    assert row.state == NotificationState.EXPIRED and "deadline passed" in row.last_error


@override_settings(NOTIFIER_SEND_LATE=True)
def test_send_late_keeps_overdue_rows_alive():
    row = planned_row(timedelta(minutes=12))
    assert reconcile(now=row.deadline + timedelta(seconds=1)).expired == []
