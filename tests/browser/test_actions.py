"""On-call's actions, clicked in the admin (issue 14, points 4 and 7): "retry now" on a
failed notification and "send anyway" on an expired one publish it once through a real
Celery worker (an SQS queue subscribed to the topic counts what SNS delivered); redrive
empties the inbox dead-letter queue into inbox rows, none twice; the event preview shows
every channel's body."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from delivery.aws import sqs_client
from delivery.inbox import InboxConsumer
from delivery.models import DeliveryAttempt, InboxMessage, Notification, NotificationState
from delivery.queues import inbox_dead_letter_name, inbox_queue_ensure
from subscriptions.models import Subscription
from tests.aws import Inbox
from tests.browser.screens import screenshot
from tests.ids import unique_slug
from tests.integration.test_dead_letters import depth, document
from tests.integration.test_operator_actions import expired_row, failed_row

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

S = NotificationState
SETTLE_SECONDS = 4  # after the one expected message: long enough for a duplicate to show up


def run_action(page: Page, action: str, rows: list[Notification]) -> None:
    """Tick the rows on the ledger's list, pick the action and press Go, as on-call does."""
    ids = ",".join(str(row.pk) for row in rows)
    page.goto(reverse("admin:delivery_notification_changelist") + f"?id__in={ids}")
    for row in rows:
        page.check(f'input.action-select[value="{row.pk}"]')
    page.select_option('select[name="action"]', action)
    page.click('button[name="index"]')
    page.wait_for_load_state()


def test_retry_now_on_a_failed_row_sends_it_once(staff_page: Page, start_fire_worker):
    row = failed_row()
    observer = Inbox.for_topic(row.event.topic)
    start_fire_worker()

    run_action(staff_page, "retry_now", [row])
    expect(staff_page.locator(".messagelist .success")).to_have_text(
        f"Retry now: #{row.pk} re-armed from failed; the fire task publishes it now."
    )
    assert [message.key for message in observer.wait_for(1, timeout=60)] == [row.key]
    observer.drain(SETTLE_SECONDS)
    assert observer.counts() == {row.key: 1}
    row.refresh_from_db()
    assert (row.state, row.attempts) == (S.SENT, 2)

    # The row's page now says sent, with both attempts; a second "retry now" is refused.
    staff_page.goto(reverse("admin:delivery_notification_change", args=[row.pk]))
    expect(staff_page.locator(".field-state")).to_contain_text("sent", ignore_case=True)
    expect(staff_page.locator(".inline-group tbody tr.has_original")).to_have_count(2)
    run_action(staff_page, "retry_now", [row])
    expect(staff_page.locator(".messagelist .warning")).to_contain_text(f"#{row.pk} (it is sent, not failed)")
    observer.drain(SETTLE_SECONDS)
    assert observer.counts() == {row.key: 1}
    assert DeliveryAttempt.objects.filter(notification=row).count() == 2


def test_send_anyway_asks_first_then_sends_an_expired_row_once(staff_page: Page, start_fire_worker):
    row = expired_row()
    observer = Inbox.for_topic(row.event.topic)
    start_fire_worker()

    run_action(staff_page, "send_anyway", [row])
    expect(staff_page.locator("#send-anyway-rows tbody tr")).to_have_count(1)
    expect(staff_page.locator(f'#send-anyway-rows tr[data-notification-id="{row.pk}"]')).to_contain_text(
        row.event.title
    )
    screenshot(staff_page, "send-anyway")
    observer.drain(2)
    assert observer.counts() == {}  # the confirmation page itself sends nothing

    staff_page.click("#send-anyway-confirm")
    expect(staff_page.locator(".messagelist .success")).to_contain_text(f"Send anyway: #{row.pk}")
    assert [message.key for message in observer.wait_for(1, timeout=60)] == [row.key]
    observer.drain(SETTLE_SECONDS)
    assert observer.counts() == {row.key: 1}
    row.refresh_from_db()
    assert row.state == S.SENT


def test_send_anyway_can_be_called_off_on_its_confirmation_page(staff_page: Page):
    row = expired_row()
    run_action(staff_page, "send_anyway", [row])
    staff_page.click("#send-anyway-cancel")
    staff_page.wait_for_load_state()
    assert "/admin/delivery/notification/" in staff_page.url
    row.refresh_from_db()
    assert row.state == S.EXPIRED


@pytest.fixture
def own_inbox_queue(settings) -> str:
    """Queues of this test's own: moto's SQS lives for the whole session."""
    settings.NOTIFIER_INBOX_QUEUE_NAME = unique_slug("inbox")
    return settings.NOTIFIER_INBOX_QUEUE_NAME


def consume_inbox() -> int:
    consumer = InboxConsumer(fifo=False, wait_seconds=0, stop=threading.Event())
    handled = 0
    while (batch := consumer.poll_once()) > 0:
        handled += batch
    return handled


def dashboard_queues(page: Page) -> dict[str, str]:
    """The queue depths the dashboard shows (its "Now" panel)."""
    page.goto("/admin/dashboard/?window=1h")
    return {name: page.locator(f'[data-metric="queue-{name}"]').inner_text() for name in ("inbox", "dead-letter")}


def test_redrive_empties_the_dead_letter_queue_into_inbox_rows_without_duplicates(staff_page: Page, own_inbox_queue):
    followers = [get_user_model().objects.create_user(name) for name in ("ann", "bob")]
    first, second = failed_row(), failed_row()
    for row in (first, second):
        for user in followers:
            Subscription.objects.create(user=user, topic=row.event.topic, channel="in_app")
    inbox_queue_ensure(fifo=False)
    dead_letters = sqs_client().get_queue_url(QueueName=inbox_dead_letter_name(fifo=False))["QueueUrl"]
    for body in (document(first), document(second), document(second)):  # the second one twice
        sqs_client().send_message(QueueUrl=dead_letters, MessageBody=body)

    assert dashboard_queues(staff_page) == {"inbox": "0", "dead-letter": "3"}
    staff_page.goto(reverse("admin:delivery_inboxmessage_changelist"))
    staff_page.click("#dead-letters-link")
    expect(staff_page.locator("#dlq-standard-count")).to_have_text("3")
    expect(staff_page.locator("#dlq-standard-sample tbody tr")).to_have_count(3)
    expect(staff_page.locator("#dlq-standard-sample")).to_contain_text(first.event.title)
    screenshot(staff_page, "dead-letters")
    assert depth(dead_letters) == 3  # looking took nothing

    staff_page.click("#dlq-standard-redrive")
    name = inbox_dead_letter_name(fifo=False)
    expect(staff_page.locator(".messagelist .success")).to_have_text(
        f"Redrove 3 message(s) from {name} to the inbox queue; 0 left."
    )
    expect(staff_page.locator("#dlq-standard-count")).to_have_text("0")
    expect(staff_page.locator("#dlq-standard-redrive")).to_have_count(0)
    assert depth(dead_letters) == 0

    assert dashboard_queues(staff_page) == {"inbox": "3", "dead-letter": "0"}

    assert consume_inbox() == 3
    assert dashboard_queues(staff_page) == {"inbox": "0", "dead-letter": "0"}
    rows = InboxMessage.objects.values_list("notification_id", "user__username")
    assert sorted(rows) == sorted((row.pk, user.username) for row in (first, second) for user in followers)
    staff_page.goto(reverse("admin:delivery_inboxmessage_changelist"))
    expect(staff_page.locator("#result_list tbody tr")).to_have_count(4)


def test_the_event_preview_shows_each_channels_body(staff_page: Page):
    row = failed_row()
    event = row.event
    staff_page.goto(reverse("admin:events_event_change", args=[event.pk]))
    staff_page.click("#event-preview-link")
    expect(staff_page.locator("#preview-source")).to_contain_text(f"#{row.pk}")
    for part in ("#preview-email-subject", "#preview-email-text", "#preview-sms-text", "#preview-push-title",
                 "#preview-in-app-html", "#preview-document"):  # fmt: skip
        expect(staff_page.locator(part)).to_contain_text(event.title)
    expect(staff_page.locator("#preview-error")).to_have_count(0)
    screenshot(staff_page, "event-preview")
    assert Notification.objects.get(pk=row.pk).state == S.FAILED  # previewing sends nothing
    assert timezone.now() < row.deadline + timedelta(minutes=1)
