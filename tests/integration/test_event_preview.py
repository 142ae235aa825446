"""The event's "preview notification" page (issue 14, point 4): every channel's body as its
subscribers would get it, from the topic's templates, and nothing written or published."""

from datetime import UTC, datetime, timedelta
from html import escape

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from delivery.models import DeliveryAttempt, InboxMessage, MessageTemplate, Notification
from delivery.topics import topic_ensure_sns
from events.models import Event
from notifier.planning import plan_event
from notifier.scheduling import notification_key
from tests.aws import sns_published
from tests.factories import make_event, make_topic

pytestmark = pytest.mark.django_db

STARTS = datetime(2027, 6, 1, 19, 50, tzinfo=UTC)


@pytest.fixture
def console(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("oncall", password="pw-oncall-123"))
    return client


def footprint(topic_arn: str) -> tuple:
    return (
        Notification.objects.count(), DeliveryAttempt.objects.count(), InboxMessage.objects.count(),
        Event.objects.values_list("pk", "starts_at", "status", "updated_at").order_by("pk").first(),
        LogEntry.objects.count(), len(sns_published(topic_arn)),
    )  # fmt: skip


def test_preview_renders_every_channel_from_the_topics_templates_and_writes_nothing(console):
    topic = make_topic(lead=15)
    arn = topic_ensure_sns(topic=topic)
    MessageTemplate.objects.create(
        topic=topic, part="sms_body", source="KICK-OFF {{ event.title }} at {{ starts_time_text }}"
    )
    event = make_event(topic, starts_at=STARTS, title="Arsenal & Spurs")
    Event.objects.filter(pk=event.pk).update(description="North London derby <b>live</b>")
    before = footprint(arn)

    page = console.get(reverse("admin:events_event_preview", args=[event.pk]))
    assert page.status_code == 200
    preview = page.context["preview"]
    assert not preview.planned and preview.notification.pk == 0 and preview.error == ""
    assert preview.notification.key == notification_key(event.pk, STARTS, 15)
    assert preview.email_subject == "Arsenal & Spurs starts at 19:50 UTC"
    assert "Starts Tue 01 Jun 2027, 19:50 UTC, in 15 minutes." in preview.email_text
    assert "North London derby <b>live</b>" in preview.email_text  # text: not escaped
    assert preview.sms_text == "KICK-OFF Arsenal & Spurs at 19:50 UTC"  # the topic's own template
    assert (preview.push_title, preview.push_body) == ("Arsenal & Spurs", "Starts at 19:50 UTC, in 15 minutes.")
    assert set(preview.push_payloads) == {"APNS", "GCM"}
    assert "<strong>Arsenal &amp; Spurs</strong>" in preview.in_app_html
    assert "<b>live</b>" not in preview.in_app_html  # the inbox body is escaped HTML
    assert '"title": "Arsenal & Spurs"' in preview.document and f'"event_id": {event.pk}' in preview.document
    html = page.content.decode()
    for element in ("preview-email-subject", "preview-email-text", "preview-sms-text", "preview-push-title",
                    "preview-push-body", "preview-in-app-html", "preview-document"):  # fmt: skip
        assert f'id="{element}"' in html
    assert escape("KICK-OFF Arsenal & Spurs at 19:50 UTC") in html
    assert footprint(arn) == before  # no row, no attempt, no inbox row, no log entry, no SNS publish


def test_a_planned_event_previews_its_ledger_row_and_the_change_page_links_it(console):
    topic = make_topic()
    arn = topic_ensure_sns(topic=topic)
    event = make_event(topic, starts_in=timedelta(hours=3))
    plan_event(event_id=event.pk)
    row = Notification.objects.get(event=event)
    before = footprint(arn)
    preview = console.get(reverse("admin:events_event_preview", args=[event.pk])).context["preview"]
    assert preview.planned and preview.notification.pk == row.pk
    assert f'"notification_id": {row.pk}' in preview.document
    assert footprint(arn) == before
    change = console.get(reverse("admin:events_event_change", args=[event.pk])).content.decode()
    assert f'href="{reverse("admin:events_event_preview", args=[event.pk])}" id="event-preview-link"' in change


def test_a_template_that_fails_on_this_event_is_shown_as_the_reason(console):
    topic = make_topic()
    # Written around the admin's template check: it fails only when rendered.
    MessageTemplate.objects.create(topic=topic, part="email_subject", source='{% include "no-such-part.txt" %}')
    event = make_event(topic, starts_at=STARTS)
    page = console.get(reverse("admin:events_event_preview", args=[event.pk]))
    assert page.status_code == 200
    assert page.context["preview"].error.startswith("rendering failed:")
    assert 'id="preview-error"' in page.content.decode()


def test_preview_needs_staff_with_the_view_right(django_user_model):
    event = make_event(make_topic(), starts_at=STARTS)
    url = reverse("admin:events_event_preview", args=[event.pk])
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    staff = django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(staff)
    assert client.get(url).status_code == 200
    assert client.get(reverse("admin:events_event_preview", args=[event.pk + 1000])).status_code == 404
