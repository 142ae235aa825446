"""What each channel's subscribers are sent: one publish, a body per protocol."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from delivery.channels.email import EMAIL_SUBJECT
from delivery.channels.push import PUSH_BODY
from delivery.channels.sms import SMS_BODY, sms_segments
from delivery.messages import build_message
from delivery.models import MessageTemplate, Notification
from notifier.firing import fire
from tests.aws import sns_published
from tests.factories import make_event, make_topic
from tests.integration.test_firing import armed_row

pytestmark = pytest.mark.django_db

STARTS = datetime(2026, 11, 21, 14, 30, tzinfo=UTC)


def message_for(*, title: str = "Arsenal v Spurs", description: str = "North London derby", topic=None):
    topic = topic or make_topic()
    event = make_event(topic, starts_at=STARTS, title=title)
    event.description = description
    notification = Notification(pk=7, event=event, key="k" * 64, lead_minutes=10, due_at=STARTS - timedelta(minutes=10),
                                deadline=STARTS)  # fmt: skip
    message = build_message(notification, event, topic)
    return message, json.loads(message.message)


def test_every_protocol_gets_its_body_with_the_start_time():
    message, bodies = message_for()
    # sqs, https and email-json subscribers read the default: the document is there once.
    assert set(bodies) == {"default", "email", "sms", "APNS", "APNS_SANDBOX", "GCM"}
    assert message.subject == "Arsenal v Spurs starts at 14:30 UTC"
    assert "Starts Sat 21 Nov 2026, 14:30 UTC, in 10 minutes." in bodies["email"]
    assert "North London derby" in bodies["email"]
    assert bodies["sms"] == "Arsenal v Spurs starts at 14:30 UTC (in 10 min)."
    apns = json.loads(bodies["APNS"])
    assert apns["aps"]["alert"] == {"title": "Arsenal v Spurs", "body": "Starts at 14:30 UTC, in 10 minutes."}
    gcm = json.loads(bodies["GCM"])["fcmV1Message"]["message"]
    assert gcm["notification"]["title"] == "Arsenal v Spurs"
    assert all(isinstance(value, str) for value in gcm["data"].values())  # FCM v1 requires strings
    document = json.loads(bodies["default"])
    for field in ("notification_id", "key", "event_id", "topic", "title", "starts_at", "due_at", "lead_minutes"):
        assert field in document
    assert datetime.fromisoformat(document["starts_at"]) == STARTS
    assert datetime.fromisoformat(document["due_at"]) == STARTS - timedelta(minutes=10)


def test_display_timezone_is_a_setting(settings):
    settings.NOTIFIER_DISPLAY_TIMEZONE = "Europe/Paris"
    _, bodies = message_for()
    assert bodies["sms"] == "Arsenal v Spurs starts at 15:30 CET (in 10 min)."
    assert json.loads(bodies["default"])["starts_at"].startswith("2026-11-21T14:30:00")  # machines get UTC


def test_text_is_not_html_escaped_but_the_in_app_body_is():
    from delivery.channels import inbox_adapter
    from delivery.messages import message_facts
    from delivery.selectors import renderer_for_topic

    title = 'Q&A <script>alert("x")</script>'
    _, bodies = message_for(title=title)
    assert title in bodies["sms"]
    assert "&amp;" not in bodies["email"] and "&lt;" not in bodies["email"]
    topic = make_topic()
    event = make_event(topic, starts_at=STARTS, title=title)
    notification = Notification(pk=1, event=event, key="k", lead_minutes=10, due_at=STARTS, deadline=STARTS)
    html = inbox_adapter().inbox_body(message_facts(notification, event, topic), renderer_for_topic(topic.pk))
    # The title's text, escaped (the cleaner writes a quote in text as itself: it cannot open a tag)
    assert "<script>" not in html and 'Q&amp;A &lt;script&gt;alert("x")&lt;/script&gt;' in html
    assert html.startswith("<p><strong>")  # the template's own markup stays


def test_sms_fits_one_segment_by_shortening_the_title():
    long_title = "Championship play-off final: Sunderland versus Sheffield United at Wembley Stadium, London, England"
    _, bodies = message_for(title=long_title * 2)
    assert sms_segments(bodies["sms"]) == 1 and len(bodies["sms"]) <= 160
    assert bodies["sms"].endswith("... starts at 14:30 UTC (in 10 min).")
    _, unicode_bodies = message_for(title="Чемпионат мира: финал, прямая трансляция из Москвы и Санкт-Петербурга")
    assert sms_segments(unicode_bodies["sms"]) == 1 and len(unicode_bodies["sms"]) <= 70
    assert "14:30 UTC" in unicode_bodies["sms"]


def test_topic_template_overrides_the_default():
    topic = make_topic()
    MessageTemplate.objects.create(
        topic=topic, part=SMS_BODY.name, source="KICK-OFF {{ starts_time_text }}: {{ event.title }}"
    )
    MessageTemplate.objects.create(topic=topic, part=EMAIL_SUBJECT.name, source="[{{ topic.name }}] {{ event.title }}")
    message, bodies = message_for(topic=topic)
    assert bodies["sms"] == "KICK-OFF 14:30 UTC: Arsenal v Spurs"
    assert message.subject == "[Kick-offs] Arsenal v Spurs"
    _, other = message_for()  # another topic keeps the defaults
    assert other["sms"].startswith("Arsenal v Spurs starts at")


def test_the_publish_carries_every_body_and_the_subject_through_sns():
    row = armed_row()
    fire(notification_ids=[row.pk])
    published = sns_published(row.event.topic.sns_topic_arn)
    assert len(published) == 1
    bodies, subject = published[0]
    assert subject == f"{row.event.title} starts at {row.event.starts_at:%H:%M} UTC"
    assert json.loads(bodies["default"])["notification_id"] == row.pk and "sms" in bodies and "GCM" in bodies


def test_a_template_failing_at_send_time_fails_the_notification_with_the_reason():
    row = armed_row()
    # Saved around the admin's check (which would refuse it): the fire path must still cope.
    MessageTemplate.objects.create(topic=row.event.topic, part=PUSH_BODY.name, source='{% include "gone.txt" %}')
    result = fire(notification_ids=[row.pk])
    assert result.failed == [row.pk]
    row.refresh_from_db()
    assert row.attempts == 1 and "rendering failed: TemplateDoesNotExist" in row.last_error
    assert sns_published(row.event.topic.sns_topic_arn) == []


def test_an_oversized_template_is_refused_in_the_admin_form_and_by_the_database():
    from django.db import IntegrityError, transaction

    from delivery.rendering import MAX_TEMPLATE_CHARS
    from tests.forms import admin_form

    topic = make_topic()
    form_class = admin_form(MessageTemplate)
    source = "{{ event.title }} " + "x" * MAX_TEMPLATE_CHARS
    form = form_class(data={"topic": topic.pk, "part": SMS_BODY.name, "source": source})
    assert not form.is_valid() and f"at most {MAX_TEMPLATE_CHARS} characters" in str(form.errors["source"])
    fits = form_class(data={"topic": topic.pk, "part": SMS_BODY.name, "source": source[:MAX_TEMPLATE_CHARS]})
    assert fits.is_valid(), fits.errors
    with pytest.raises(IntegrityError), transaction.atomic():  # around the form: the database refuses it too
        MessageTemplate.objects.create(topic=topic, part=EMAIL_SUBJECT.name, source=source)
    assert not MessageTemplate.objects.filter(topic=topic).exists()
