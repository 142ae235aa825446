"""The admin as an operator meets it: logging in, every list and add page of every
registered model (and the page of a planted row of each), and a notification's page with
its delivery attempts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from delivery.models import DeliveryAttempt, InboxMessage, MessageTemplate, Notification, NotificationState
from subscriptions.services import subscription_create
from tests.browser.conftest import STAFF_PASSWORD, STAFF_USERNAME, log_in
from tests.browser.screens import screenshot
from tests.factories import make_event, make_topic

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def test_the_admin_sends_a_visitor_to_log_in_and_refuses_a_wrong_password(page: Page, console_staff):
    page.goto("/admin/")
    assert "/admin/login/" in page.url

    log_in(page, STAFF_USERNAME, "not-the-password")
    expect(page.locator(".errornote")).to_contain_text("correct username and password")
    assert "/admin/login/" in page.url

    log_in(page, STAFF_USERNAME, STAFF_PASSWORD)
    assert page.url.endswith("/admin/")
    expect(page.locator("#user-tools")).to_contain_text(STAFF_USERNAME)


def test_a_user_who_is_not_staff_cannot_enter_the_admin(page: Page, transactional_db):
    get_user_model().objects.create_user("reader", password="Reader-pw-2026!")
    log_in(page, "reader", "Reader-pw-2026!")
    assert "/admin/login/" in page.url
    expect(page.locator(".errornote")).to_be_visible()


def plant_one_of_everything() -> Notification:
    """A row for each of the engine's own models, so each list shows its columns' code."""
    user = get_user_model().objects.create_user("subscriber", password="Subscriber-pw-2026!")
    topic = make_topic()
    event = make_event(topic, starts_in=timedelta(hours=3), title="Derby kick-off")
    subscription_create(user=user, topic=topic, channel="in_app")
    MessageTemplate.objects.create(topic=topic, part="sms", source="{{ event.title }} at {{ starts_time_text }}")
    notification = Notification.objects.get(event=event)
    InboxMessage.objects.create(notification=notification, user=user, topic=topic, event=event,
                                title=event.title, body="<p>Derby</p>", starts_at=event.starts_at)  # fmt: skip
    return notification


def test_every_admin_list_and_add_page_loads_without_a_problem(staff_page: Page):
    plant_one_of_everything()
    screenshot(staff_page, "admin-index")
    models = list(admin.site._registry.items())
    assert len(models) >= 12, [model._meta.label for model, _ in models]
    visited = []
    for model, model_admin in models:
        info = (model._meta.app_label, model._meta.model_name)
        staff_page.goto(reverse("admin:{}_{}_changelist".format(*info)))
        expect(staff_page.locator("#changelist")).to_be_visible()
        heading = f"Select {model._meta.verbose_name} to"
        expect(staff_page.locator("#content h1")).to_contain_text(heading, ignore_case=True)
        visited.append(f"{model._meta.label} list")
        first_row = staff_page.locator("#result_list tbody tr th a, #result_list tbody tr td.field-id a").first
        if first_row.count():  # a planted row: its change (or, read-only, view) page opens too
            first_row.click()
            expect(staff_page.locator("#content form")).to_be_visible()
            visited.append(f"{model._meta.label} change")
        if model_admin.has_add_permission(_request_as_superuser()):
            staff_page.goto(reverse("admin:{}_{}_add".format(*info)))
            expect(staff_page.locator("#content form")).to_be_visible()
            visited.append(f"{model._meta.label} add")
    # The ledger is read-only in the admin: no add page for the engine's own records.
    assert "delivery.Notification add" not in visited
    assert {"events.Event add", "events.Topic add", "delivery.Notification list"} <= set(visited)
    planted = {"events.Topic", "events.Event", "subscriptions.Subscription", "delivery.Notification",
               "delivery.InboxMessage", "delivery.MessageTemplate", "auth.User"}  # fmt: skip
    assert {f"{label} change" for label in planted} <= set(visited), visited


def _request_as_superuser():
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = get_user_model()(is_staff=True, is_superuser=True, is_active=True)
    return request


def test_the_admin_index_links_every_registered_model(staff_page: Page):
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        expect(staff_page.locator(f'#content-main a[href="{url}"]').first).to_be_visible()


def test_a_notifications_page_shows_its_delivery_attempts(staff_page: Page):
    notification = plant_one_of_everything()
    started = timezone.now() - timedelta(minutes=5)
    Notification.objects.filter(pk=notification.pk).update(
        state=NotificationState.FAILED, attempts=2, last_error="InvalidParameter: endpoint disabled"
    )
    outcome = DeliveryAttempt.Outcome
    DeliveryAttempt.objects.create(notification=notification, number=1, started_at=started,
                                   finished_at=started + timedelta(seconds=1), outcome=outcome.TRANSIENT_ERROR,
                                   error="Throttling: rate exceeded", worker="celery@node-a")  # fmt: skip
    DeliveryAttempt.objects.create(notification=notification, number=2, started_at=started + timedelta(seconds=30),
                                   finished_at=started + timedelta(seconds=31), outcome=outcome.PERMANENT_ERROR,
                                   error="InvalidParameter: endpoint disabled", worker="celery@node-b")  # fmt: skip

    staff_page.goto(reverse("admin:delivery_notification_change", args=[notification.pk]))
    rows = staff_page.locator(".inline-group tbody tr.has_original")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Throttling: rate exceeded")
    expect(rows.nth(0)).to_contain_text("celery@node-a")
    expect(rows.nth(1)).to_contain_text("InvalidParameter: endpoint disabled")
    expect(rows.nth(1)).to_contain_text("celery@node-b")
    expect(staff_page.locator(".field-state")).to_contain_text("failed", ignore_case=True)
    screenshot(staff_page, "notification-attempts")

    # The list links the row to its event, and the event's page opens from there.
    staff_page.goto(reverse("admin:delivery_notification_changelist") + f"?id={notification.pk}")
    staff_page.click("td.field-event_link a")
    expect(staff_page.locator("#content h1")).to_contain_text("Change event", ignore_case=True)
    expect(staff_page.locator("#id_title")).to_have_value("Derby kick-off")
