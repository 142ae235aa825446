"""A hypothetical channel, defined here and registered for one test, is accepted
everywhere a channel is listed or checked, with no other edit (docs/channels.md)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

import subscriptions.channels
from delivery.channels import (
    ChannelAdapter,
    managed_protocols,
    protocol_less_channels,
)
from delivery.messages import build_message
from delivery.models import MessageTemplate, Notification
from delivery.rendering import MessageFacts, Renderer, TemplatePart
from subscriptions.channels import channel_register
from subscriptions.models import Preference, Subscription
from subscriptions.selectors import subscription_is_muted
from subscriptions.services import preference_update, subscription_create
from tests.clients import client_for
from tests.factories import make_event, make_topic
from tests.forms import admin_form, admin_form_field, values

STARTS = datetime(2026, 11, 21, 14, 30, tzinfo=UTC)


# --- a channel nobody else knows about -----------------------------------------------

CHAT_TEXT = TemplatePart("chat_text")


class ChatChannel(ChannelAdapter):
    """Hypothetical: a chat bot behind an AWS Lambda function (SNS protocol ``lambda``,
    which reads its own entry of the ``MessageStructure=json`` message)."""

    name = "chat"
    label = "Chat"
    sns_protocol = "lambda"
    template_parts = (CHAT_TEXT,)

    def normalize_endpoint(self, value: str) -> str:
        if not value.startswith("arn:aws:lambda:"):
            raise ValidationError("Enter the ARN of a Lambda function.")
        return value

    def bodies(self, facts: MessageFacts, renderer: Renderer) -> dict[str, str]:
        return {"lambda": renderer.render(CHAT_TEXT, facts)}


LAMBDA_ARN = "arn:aws:lambda:us-east-1:000000000000:function:chat"


@pytest.fixture
def chat(monkeypatch):
    """Registered as delivery's ready() registers ADAPTERS, for this test only: the
    registry is swapped for a copy, which monkeypatch puts back afterwards."""
    monkeypatch.setattr(subscriptions.channels, "_KINDS", dict(subscriptions.channels._KINDS))
    adapter = ChatChannel()
    channel_register(adapter)
    return adapter


@pytest.mark.django_db
def test_an_extra_adapter_is_accepted_everywhere(chat, plain_user):
    topic = make_topic()
    # Model choices, and the admin form built from them.
    Subscription._meta.get_field("channel").validate("chat", None)
    Preference._meta.get_field("muted_channels").base_field.validate("chat", None)
    assert "chat" in values(admin_form_field(Subscription, "channel").choices)

    # Endpoint validation, through the subscription service.
    with pytest.raises(ValidationError) as refused:
        subscription_create(user=plain_user, topic=topic, channel="chat", endpoint="https://chat.example.com")
    assert refused.value.message_dict == {"endpoint": ["Enter the ARN of a Lambda function."]}
    with pytest.raises(ValidationError) as no_platform:
        subscription_create(user=plain_user, topic=topic, channel="chat", endpoint=LAMBDA_ARN, platform="gcm")
    assert "platform" in no_platform.value.message_dict
    with pytest.raises(ValidationError, match="only in_app is possible"):
        subscription_create(user=plain_user, topic=make_topic(fifo=True), channel="chat", endpoint=LAMBDA_ARN)
    stored = subscription_create(user=plain_user, topic=topic, channel="chat", endpoint=f"  {LAMBDA_ARN} ")
    assert stored.endpoint == LAMBDA_ARN

    # The API: the serializer's choices, the filter, and the preferences' muted channels.
    api = client_for(plain_user)
    created = api.post("/api/v1/subscriptions/", {"topic": make_topic().slug, "channel": "chat",
                                                  "endpoint": LAMBDA_ARN}, format="json")  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.json()["channel"] == "chat"
    listed = api.get("/api/v1/subscriptions/?channel=chat")
    assert listed.status_code == 200 and listed.json()["count"] == 2
    muted = api.put("/api/v1/preferences/", {"muted_topics": [], "muted_channels": ["chat"]}, format="json")
    assert muted.status_code == 200 and muted.json()["muted_channels"] == ["chat"]
    assert subscription_is_muted(stored)
    preference_update(user=plain_user, muted_channels=[])
    assert not subscription_is_muted(stored)

    # Template parts: a topic's own chat text is offered and checked in the admin.
    form_class = admin_form(MessageTemplate)
    broken = form_class(data={"topic": topic.pk, "part": "chat_text", "source": "{% if %}"})
    assert not broken.is_valid() and "Template error" in str(broken.errors["source"])
    source = "{{ event.title }}, {{ starts_time_text }}"
    form = form_class(data={"topic": topic.pk, "part": "chat_text", "source": source})
    assert form.is_valid(), form.errors
    form.save()

    # Message building: the chat body travels in the one publish, next to the others.
    event = make_event(topic, starts_at=STARTS, title="Arsenal v Spurs")
    notification = Notification(pk=7, event=event, key="k" * 64, lead_minutes=10, due_at=STARTS - timedelta(minutes=10),
                                deadline=STARTS)  # fmt: skip
    message = build_message(notification, event, topic)
    bodies = json.loads(message.message)
    assert bodies["lambda"] == "Arsenal v Spurs, 14:30 UTC"
    assert {"default", "email", "sms", "APNS", "GCM"} <= set(bodies)
    assert message.subject == "Arsenal v Spurs starts at 14:30 UTC"  # still email's alone
    assert "lambda" in managed_protocols() and "chat" not in protocol_less_channels()
