"""The exact bytes SNS is handed for one notification, pinned: the fire path renders them
faster than it did (issue 15) and must not render them differently. The expected values
were captured from the engine before that work; a change here is a change subscribers see."""

import hashlib
from datetime import UTC, datetime, timedelta

from delivery.messages import build_message
from delivery.models import Notification
from delivery.rendering import Renderer
from events.models import Event, Topic

STARTS = datetime(2026, 11, 21, 14, 30, tzinfo=UTC)

PINNED_MESSAGE = (
    "600657362683af75a39fbf593317492308a2f81071357e57e8909126b86cb7b8",
    'Cafe <b>& co</b> "Spurs" v Arsenal starts at 14:30 UTC',
)
PINNED_ZONED = (
    "33b864a806b3bfe34314f020bbd68632d57374328d02947879e0a4653c451c09",
    'Cafe <b>& co</b> "Spurs" v Arsenal starts at 09:30 EST',
)
PINNED_OVERRIDE = (
    "514a3c42f52db0030beafba87b5ada3d610cc5f8ceb7b0986628304d7d237ca5",
    "Football & more: Cafe <b>& co</b> ...",
)


def _message(renderer: Renderer, *, title: str = 'Café <b>& co</b> — "Spurs" v Arsenal') -> tuple[str, str | None]:
    topic = Topic(pk=3, slug="football", name="Football & more", sns_topic_arn="arn:aws:sns:us-east-1:0:football")
    event = Event(pk=42, topic=topic, title=title, description="North London derby\nline two", starts_at=STARTS)
    notification = Notification(pk=7, event=event, key="k" * 64, lead_minutes=10, due_at=STARTS - timedelta(minutes=10),
                                deadline=STARTS)  # fmt: skip
    message = build_message(notification, event, topic, renderer)
    return message.message, message.subject


def _pinned(renderer: Renderer) -> tuple[str, str | None]:
    """The body's SHA-256 (the whole body would be a 2 KB literal) and the subject; on a
    mismatch, print ``_message(renderer)[0]`` to see what changed."""
    body, subject = _message(renderer)
    return hashlib.sha256(body.encode()).hexdigest(), subject


def test_the_default_templates_render_the_same_bytes():
    assert _pinned(Renderer({})) == PINNED_MESSAGE


def test_a_topic_override_renders_the_same_bytes():
    overrides = {
        "sms_body": "{{ event.title|upper }} {{ starts_at|date:'D j M H:i T' }} {{ lead_minutes }}m",
        "email_subject": "{{ topic.name }}: {{ event.title|truncatechars:20 }}",
        "push_title": "{% if lead_minutes > 5 %}Soon{% else %}Now{% endif %}: {{ event.title }}",
    }
    assert _pinned(Renderer(overrides)) == PINNED_OVERRIDE


def test_the_display_timezone_renders_the_same_bytes(settings):
    settings.NOTIFIER_DISPLAY_TIMEZONE = "America/New_York"
    overrides = {"sms_body": "{{ starts_at|date:'D j M H:i T' }} {% now 'T' %} {{ starts_at_text }}"}
    assert _pinned(Renderer(overrides)) == PINNED_ZONED
