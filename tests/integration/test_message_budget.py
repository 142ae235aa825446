"""The longest event the API accepts still fits one SNS publish (issue 12, point 5):
``MAX_DESCRIPTION_CHARS`` is derived from SNS's 256 KiB budget, checked here against the
real message builder and the default templates, with the characters that escape worst."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from delivery.messages import SNS_MAX_MESSAGE_BYTES, build_message
from delivery.models import Notification
from events.models import MAX_DESCRIPTION_CHARS, Event
from events.services import event_create
from tests.factories import make_topic

pytestmark = pytest.mark.django_db

# Outside the BMP: JSON escapes it as two \uXXXX (12 bytes), twice nested 14; a control
# character and a quote escape to fewer bytes, plain ASCII to one.
WORST = ["\U0001f600", "\x01", '"', "a", "é"]


@pytest.mark.parametrize("char", WORST)
def test_a_maximal_event_fits_one_sns_message_with_the_default_templates(char):
    topic = make_topic()
    topic.name = char * Event._meta.get_field("title").max_length
    topic.save()
    title_chars = Event._meta.get_field("title").max_length
    # Through the service: it accepts exactly this much.
    event = event_create(topic=topic, title=char * title_chars, description=char * MAX_DESCRIPTION_CHARS,
                         starts_at=timezone.now() + timedelta(days=1))  # fmt: skip
    notification = Notification(pk=2**31 - 1, event=event, key="k" * 64, lead_minutes=10080,
                                due_at=event.starts_at - timedelta(days=7), deadline=event.starts_at)  # fmt: skip
    message = build_message(notification, event, topic)  # raises when over SNS's limit
    assert message.size <= SNS_MAX_MESSAGE_BYTES
    bodies = json.loads(message.message)
    assert json.loads(bodies["default"])["description"] == char * MAX_DESCRIPTION_CHARS
    assert char * MAX_DESCRIPTION_CHARS in bodies["email"]


def test_the_description_budget_is_not_slack():
    """Twice the maximum would not fit: the bound is what protects the send, not luck."""
    topic = make_topic()
    event = Event(topic=topic, title="t", description="\U0001f600" * (2 * MAX_DESCRIPTION_CHARS),
                  starts_at=timezone.now() + timedelta(days=1), pk=1)  # fmt: skip
    notification = Notification(pk=1, event=event, key="k" * 64, lead_minutes=10, due_at=event.starts_at,
                                deadline=event.starts_at)  # fmt: skip
    with pytest.raises(Exception, match="over SNS's limit"):
        build_message(notification, event, topic)
