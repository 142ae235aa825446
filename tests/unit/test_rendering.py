"""What each channel's subscribers are sent, the pure parts: SMS segments, SNS-safe email
subjects, template checks (the rendered messages are in tests/integration/test_rendering.py)."""

import pytest
from django.core.exceptions import ValidationError

from delivery.channels.email import EMAIL_BODY, sns_subject
from delivery.channels.sms import SMS_BODY, sms_segments
from delivery.rendering import template_check


def test_sms_segment_counting():
    assert sms_segments("a" * 160) == 1 and sms_segments("a" * 161) == 2
    assert sms_segments("€" * 80) == 1 and sms_segments("€" * 81) == 2  # extension chars count twice
    assert sms_segments("é" * 70) == 1  # é is in GSM-7
    assert sms_segments("ł" * 70) == 1 and sms_segments("ł" * 71) == 2  # UCS-2


def test_email_subject_is_sns_safe():
    assert sns_subject("Café\nopening — today") == "Cafe opening today"
    assert len(sns_subject("x" * 300)) == 99 and sns_subject("x" * 300).endswith("...")
    assert sns_subject("日本") == "Notification"
    assert sns_subject("bad\x00\x07\x1b[1mtitle\x7f") == "bad[1mtitle"  # control characters would fail the publish


def test_broken_templates_are_refused_with_the_reason():
    with pytest.raises(ValidationError, match="Template error"):
        template_check(SMS_BODY, "{% if %}")
    with pytest.raises(ValidationError, match="Template error"):
        template_check(EMAIL_BODY, "{% load nonexistent %}")
    template_check(SMS_BODY, "{{ event.title }} at {{ starts_time_text }}")  # a good one passes


def test_what_one_part_sets_does_not_reach_the_next_part():
    """Every part renders from the message's one facts dict (issue 15); a variable one
    part's template sets must not be written into it and reach the next part."""
    from datetime import UTC, datetime

    from delivery.channels.email import EMAIL_SUBJECT
    from delivery.rendering import MessageFacts, Renderer

    starts = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    facts = MessageFacts(
        notification_id=1, key="k", event_id=1, title="Launch", description="", topic_slug="t", topic_name="T",
        starts_at=starts, due_at=starts, lead_minutes=10,
    )  # fmt: skip
    renderer = Renderer({EMAIL_SUBJECT.name: "{% cycle 'x' 'y' as leaked silent %}{{ event.title }}",
                         SMS_BODY.name: "[{{ leaked }}] {{ event.title }}"})  # fmt: skip
    with renderer.display_zone():
        assert renderer.render(EMAIL_SUBJECT, facts) == "Launch"
        assert renderer.render(SMS_BODY, facts) == "[] Launch"
        assert renderer.render(SMS_BODY, facts, event={"title": "Launc…"}) == "[] Launc…"  # extra: this part only
        assert renderer.render(SMS_BODY, facts) == "[] Launch"
