"""A channel is added in one place (docs/channels.md): ``delivery.channels.ADAPTERS``.
Every list of channels or template parts elsewhere is derived from the registry; these
tests hold them together. tests/integration/test_extra_channel.py shows that an adapter
nobody else knows about is accepted everywhere without another edit."""

from datetime import UTC, datetime, timedelta

import pytest

from delivery.channels import (
    ADAPTERS,
    adapters,
    inbox_adapter,
    managed_protocols,
    protocol_less_channels,
    template_part_choices,
    template_parts,
)
from delivery.models import MessageTemplate
from delivery.rendering import MessageFacts, Renderer
from subscriptions.api import PreferenceSerializer, SubscriptionSerializer
from subscriptions.channels import channel_choices, channel_kinds, channel_register
from subscriptions.models import Preference, Subscription
from subscriptions.selectors import inbox_channel_names
from tests.forms import admin_form_field, values

PUBLIC_CHANNELS = ["email", "sms", "push", "webhook", "in_app"]  # the API contract: never change
STORED_PARTS = ["email_subject", "email_body", "sms_body", "push_title", "push_body", "in_app_body"]
STARTS = datetime(2026, 11, 21, 14, 30, tzinfo=UTC)


def sample_facts() -> MessageFacts:
    return MessageFacts(
        notification_id=1, key="k", event_id=1, title="Match", description="", topic_slug="t", topic_name="T",
        starts_at=STARTS, due_at=STARTS - timedelta(minutes=10), lead_minutes=10,
    )  # fmt: skip


def test_the_registry_is_the_adapters_and_the_public_channels():
    names = [adapter.name for adapter in ADAPTERS]
    assert names == PUBLIC_CHANNELS
    assert [kind.name for kind in channel_kinds()] == names
    assert [adapter.name for adapter in adapters()] == names
    assert channel_choices() == [(adapter.name, adapter.label) for adapter in ADAPTERS]


def test_every_list_of_channels_is_the_registry():
    names = [kind.name for kind in channel_kinds()]
    channel_field = Subscription._meta.get_field("channel")
    assert values(channel_field.choices) == names
    assert all(len(name) <= channel_field.max_length for name in names)
    assert values(Preference._meta.get_field("muted_channels").base_field.choices) == names
    assert values(SubscriptionSerializer().fields["channel"].choices.items()) == names
    assert values(PreferenceSerializer().fields["muted_channels"].child.choices.items()) == names
    assert values(admin_form_field(Subscription, "channel").choices) == names


def test_every_list_of_template_parts_is_the_adapters_parts():
    parts = [part.name for adapter in ADAPTERS for part in adapter.template_parts]
    assert parts == STORED_PARTS  # rows in MessageTemplate.part hold these values
    assert [part.name for part in template_parts()] == parts
    part_field = MessageTemplate._meta.get_field("part")
    assert values(part_field.choices) == values(template_part_choices()) == parts
    assert all(len(name) <= part_field.max_length for name in parts)
    assert values(admin_form_field(MessageTemplate, "part").choices) == parts
    for part in template_parts():  # each has its default file, which renders
        assert Renderer({}).render(part, sample_facts())
    assert [part.name for part in template_parts() if part.html] == ["in_app_body"]


def test_the_special_cases_come_from_the_adapters():
    assert managed_protocols() == {"email", "sms", "application", "https"}
    assert protocol_less_channels() == inbox_channel_names() == ["in_app"]
    assert inbox_adapter().name == "in_app"
    assert [kind.name for kind in channel_kinds() if kind.reaches_fifo_topics] == ["in_app"]
    assert [kind.name for kind in channel_kinds() if kind.takes_platform] == ["push"]
    renderer, facts = Renderer({}), sample_facts()
    # Exactly one channel gives the SNS Subject of the one publish.
    assert [a.name for a in adapters() if a.subject(facts, renderer) is not None] == ["email"]


def test_a_second_channel_of_the_same_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        channel_register(type(ADAPTERS[0])())
    channel_register(ADAPTERS[0])  # the same adapter again: DeliveryConfig.ready may run twice
