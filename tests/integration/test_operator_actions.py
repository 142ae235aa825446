"""On-call's "retry now" and "send anyway" in the admin (issue 14, point 4), against real
PostgreSQL, the Redis broker and moto: the fire task they enqueue is read off the broker
and run as a worker runs it, and an SQS queue subscribed to the topic counts publishes."""

import base64
import json
import threading
from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from delivery.models import DeliveryAttempt, Notification, NotificationState
from events.models import Event
from notifier.arming import reconcile
from notifier.enqueue import FIRE_TASK_NAME
from notifier.operator_actions import SEND_ANYWAY_WINDOW_SECONDS, notifications_retry_now
from notifier.tasks import fire_task
from tests.aws import Inbox
from tests.integration.test_firing import armed_row

S = NotificationState
CHANGELIST = "admin:delivery_notification_changelist"


def broker_fire_tasks(redis) -> list[list[int]]:
    """Take every fire task off the broker's default queue: the ids each would fire."""
    tasks = []
    while (raw := redis.rpop("celery")) is not None:
        message = json.loads(raw)
        assert message["headers"]["task"] == FIRE_TASK_NAME
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        tasks.append(args[0])
    return tasks


def run_fire_tasks(redis) -> int:
    """Run what the broker holds as a worker would; returns how many tasks ran."""
    tasks = broker_fire_tasks(redis)
    for ids in tasks:
        fire_task(ids)
    return len(tasks)


def failed_row(*, deadline_in: timedelta = timedelta(minutes=9)) -> Notification:
    row = armed_row()
    Notification.objects.filter(pk=row.pk).update(
        state=S.FAILED, attempts=1, deadline=timezone.now() + deadline_in, last_error="permanent error: NotFound"
    )
    DeliveryAttempt.objects.create(
        notification=row, number=1, started_at=timezone.now(), finished_at=timezone.now(),
        outcome=DeliveryAttempt.Outcome.PERMANENT_ERROR, error="NotFound",
    )  # fmt: skip
    row.refresh_from_db()
    return row


def expired_row() -> Notification:
    row = armed_row()
    Notification.objects.filter(pk=row.pk).update(
        state=S.EXPIRED, deadline=timezone.now() - timedelta(seconds=1), last_error="deadline passed unsent"
    )
    row.refresh_from_db()
    return row


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser("oncall", password="pw-oncall-123")


@pytest.fixture
def console(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


def act(client: Client, action: str, rows: list[Notification], **extra: str):
    data = {"action": action, "_selected_action": [row.pk for row in rows], **extra}
    return client.post(reverse(CHANGELIST), data, follow=True)


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def admin_log(row: Notification) -> list[tuple[str, int, str]]:
    entries = LogEntry.objects.filter(object_id=str(row.pk), content_type__model="notification").order_by("pk")
    return [(entry.user.username, entry.action_flag, entry.change_message) for entry in entries]


@pytest.mark.django_db
def test_retry_now_publishes_a_failed_row_once_with_a_new_attempt(console, redis, django_capture_on_commit_callbacks):
    row = failed_row()
    observer = Inbox.for_topic(row.event.topic)
    with django_capture_on_commit_callbacks(execute=True):
        response = act(console, "retry_now", [row])
    assert response.status_code == 200
    assert page_messages(response) == [f"Retry now: #{row.pk} re-armed from failed; the fire task publishes it now."]
    row.refresh_from_db()
    assert row.state == S.ARMED and row.next_attempt_at <= timezone.now()
    assert admin_log(row) == [("oncall", CHANGE, "Retry now: re-armed from failed; the fire task publishes it now")]

    assert run_fire_tasks(redis) == 1
    observer.wait_for(1, timeout=5)
    assert observer.drain(1.5) and observer.counts() == {row.key: 1}
    row.refresh_from_db()
    assert row.state == S.SENT and row.attempts == 2 and row.sns_message_id
    outcomes = list(DeliveryAttempt.objects.filter(notification=row).values_list("number", "outcome"))
    assert outcomes == [(1, DeliveryAttempt.Outcome.PERMANENT_ERROR), (2, DeliveryAttempt.Outcome.SENT)]

    # A second click on the row now sent: refused, nothing enqueued, nothing published.
    with django_capture_on_commit_callbacks(execute=True):
        again = act(console, "retry_now", [row])
    assert page_messages(again) == [f"Retry now refused, left unchanged: #{row.pk} (it is sent, not failed)."]
    assert run_fire_tasks(redis) == 0
    assert observer.drain(1.5) and observer.counts() == {row.key: 1}


@pytest.mark.django_db
def test_retry_now_refuses_rows_not_failed_or_past_their_deadline(console, redis, django_capture_on_commit_callbacks):
    late = failed_row(deadline_in=timedelta(seconds=-5))
    armed = armed_row()
    expired = expired_row()
    moved, cancelled = failed_row(), failed_row()
    Event.objects.filter(pk=moved.event_id).update(starts_at=moved.deadline + timedelta(hours=1))  # not re-planned
    Event.objects.filter(pk=cancelled.event_id).update(status=Event.Status.CANCELLED)
    before = {r.pk: (r.state, r.deadline, r.attempts) for r in Notification.objects.all()}
    with django_capture_on_commit_callbacks(execute=True):
        response = act(console, "retry_now", [late, armed, expired, moved, cancelled])
    [message] = page_messages(response)
    assert message.startswith("Retry now refused, left unchanged: ")
    assert f"#{armed.pk} (it is armed, not failed)" in message
    assert f"#{expired.pk} (it is expired, not failed)" in message
    assert f"#{late.pk} (its deadline passed at {late.deadline:%Y-%m-%d %H:%M:%S} UTC)" in message
    assert f"#{moved.pk} (its event moved: the event's current notification is the one to send)" in message
    assert f"#{cancelled.pk} (its event is cancelled)" in message
    assert {r.pk: (r.state, r.deadline, r.attempts) for r in Notification.objects.all()} == before
    assert broker_fire_tasks(redis) == []
    assert not LogEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_operators_retrying_the_same_row_at_once_publish_it_once(redis):
    row = failed_row()
    observer = Inbox.for_topic(row.event.topic)
    assert run_fire_tasks(redis) == 1  # the creation's own arm, committed here: finds the row failed
    assert Notification.objects.get(pk=row.pk).state == S.FAILED
    start = threading.Barrier(2)
    results = []

    def click() -> None:
        from django.db import connection

        try:
            start.wait()
            results.append(notifications_retry_now(notification_ids=[row.pk]))
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(len(result.done) for result in results) == [0, 1]
    loser = next(result for result in results if not result.done)
    assert loser.refused == {row.pk: "it is armed, not failed"}
    assert run_fire_tasks(redis) == 1  # one fire task for the one re-arm
    observer.wait_for(1, timeout=5)
    assert observer.drain(1.5) and observer.counts() == {row.key: 1}
    assert Notification.objects.get(pk=row.pk).state == S.SENT


@pytest.mark.django_db
def test_send_anyway_asks_first_then_publishes_once(console, operator, redis, django_capture_on_commit_callbacks):
    row = expired_row()
    observer = Inbox.for_topic(row.event.topic)
    with django_capture_on_commit_callbacks(execute=True):
        asked = act(console, "send_anyway", [row], index="0")
    assert asked.status_code == 200
    assert asked.templates[0].name == "admin/delivery/notification/send_anyway_confirmation.html"
    page = asked.content.decode()
    assert f'data-notification-id="{row.pk}"' in page and 'id="send-anyway-confirm"' in page
    assert Notification.objects.get(pk=row.pk).state == S.EXPIRED  # not before the confirmation
    assert broker_fire_tasks(redis) == [] and observer.drain(1.5) == []

    moment = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = act(console, "send_anyway", [row], confirm="yes")
    assert page_messages(confirmed) == [
        f"Send anyway: #{row.pk} re-armed from expired past its deadline; published once now."
    ]
    row.refresh_from_db()
    assert row.state == S.ARMED
    window = timedelta(seconds=SEND_ANYWAY_WINDOW_SECONDS)
    assert moment + window <= row.deadline <= timezone.now() + window
    assert admin_log(row) == [
        ("oncall", CHANGE, "Send anyway: re-armed from expired past its deadline; published once now")
    ]
    assert run_fire_tasks(redis) == 1
    observer.wait_for(1, timeout=5)
    assert observer.drain(1.5) and observer.counts() == {row.key: 1}
    row.refresh_from_db()
    assert row.state == S.SENT
    assert DeliveryAttempt.objects.get(notification=row).outcome == DeliveryAttempt.Outcome.SENT

    with django_capture_on_commit_callbacks(execute=True):
        again = act(console, "send_anyway", [row], confirm="yes")
    assert page_messages(again) == [f"Send anyway refused, left unchanged: #{row.pk} (it is sent, not expired)."]
    assert run_fire_tasks(redis) == 0 and observer.drain(1.5) and observer.counts() == {row.key: 1}


@pytest.mark.django_db
def test_send_anyway_lets_a_row_through_its_window_once_then_it_expires_again(
    console, redis, django_capture_on_commit_callbacks
):
    row = expired_row()
    with django_capture_on_commit_callbacks(execute=True):
        act(console, "send_anyway", [row], confirm="yes")
    broker_fire_tasks(redis)  # the workers are down: the task never runs
    later = timezone.now() + timedelta(seconds=SEND_ANYWAY_WINDOW_SECONDS + 1)
    assert reconcile(now=later).expired == [row.pk]
    assert Notification.objects.get(pk=row.pk).state == S.EXPIRED


@pytest.mark.django_db
def test_send_anyway_leaves_rows_of_cancelled_events_and_other_states(
    console, redis, django_capture_on_commit_callbacks
):
    cancelled = expired_row()
    Event.objects.filter(pk=cancelled.event_id).update(status=Event.Status.CANCELLED)
    failed = failed_row()
    asked = act(console, "send_anyway", [cancelled, failed], index="0")
    page = asked.content.decode()
    assert 'id="send-anyway-none"' in page and 'id="send-anyway-confirm"' not in page
    assert f"#{cancelled.pk}: its event is cancelled" in page and f"#{failed.pk}: it is failed, not expired" in page
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = act(console, "send_anyway", [cancelled, failed], confirm="yes")
    assert page_messages(confirmed) == [
        f"Send anyway refused, left unchanged: #{cancelled.pk} (its event is cancelled); "
        f"#{failed.pk} (it is failed, not expired)."
    ]
    assert broker_fire_tasks(redis) == []
    assert set(Notification.objects.values_list("state", flat=True)) == {S.EXPIRED, S.FAILED}


@pytest.mark.django_db
def test_only_operators_with_the_change_right_get_the_actions(django_user_model, redis):
    row = failed_row()
    anonymous = Client().post(reverse(CHANGELIST), {"action": "retry_now", "_selected_action": [row.pk]})
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]

    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client = Client()
    client.force_login(viewer)
    listing = client.get(reverse(CHANGELIST))
    assert listing.status_code == 200 and "retry_now" not in listing.content.decode()
    client.post(reverse(CHANGELIST), {"action": "retry_now", "_selected_action": [row.pk], "index": "0"})
    assert Notification.objects.get(pk=row.pk).state == S.FAILED
    assert broker_fire_tasks(redis) == []
