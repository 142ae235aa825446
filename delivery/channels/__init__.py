"""The channel registry: ``ADAPTERS`` is the one list of channels.

``channels_register`` (run by ``DeliveryConfig.ready``) hands them to the registry in
``subscriptions.channels``, which the subscriptions app reads for model choices and
endpoint rules (it may not import delivery). Everything else about channels is derived
here from what is registered: SNS protocols, template parts, the subject, the inbox.
Adding a channel: docs/channels.md.
"""

from delivery.channels.base import ChannelAdapter
from delivery.channels.email import EmailChannel
from delivery.channels.in_app import InAppChannel
from delivery.channels.push import PushChannel
from delivery.channels.sms import SmsChannel
from delivery.channels.webhook import WebhookChannel
from delivery.rendering import TemplatePart
from subscriptions.channels import ChannelKind, channel_get, channel_kinds, channel_register

ADAPTERS: tuple[ChannelAdapter, ...] = (EmailChannel(), SmsChannel(), PushChannel(), WebhookChannel(), InAppChannel())


def channels_register() -> None:
    for adapter in ADAPTERS:
        channel_register(adapter)


def _adapter(kind: ChannelKind) -> ChannelAdapter:
    if not isinstance(kind, ChannelAdapter):  # the delivery side needs the whole interface
        raise TypeError(f"channel {kind.name!r} is registered without a delivery adapter: {kind!r}")
    return kind


def adapters() -> tuple[ChannelAdapter, ...]:
    """Every registered channel, in registration order."""
    return tuple(_adapter(kind) for kind in channel_kinds())


def adapter_for(channel: str) -> ChannelAdapter:
    kind = channel_get(channel)
    if kind is None:
        raise KeyError(f"unknown channel {channel!r}")
    return _adapter(kind)


def managed_protocols() -> frozenset[str]:
    """SNS protocols whose subscriptions on our topics mirror Subscription rows."""
    return frozenset(adapter.sns_protocol for adapter in adapters() if adapter.sns_protocol)


def protocol_less_channels() -> list[str]:
    """Channels with no SNS subscription per row: the inbox queue serves them."""
    return [adapter.name for adapter in adapters() if adapter.sns_protocol is None]


def inbox_adapter() -> ChannelAdapter:
    """The channel whose body the inbox rows carry (one row per user and notification)."""
    found = [adapter for adapter in adapters() if adapter.via_inbox]
    if len(found) != 1:  # two would each want their own body in the one row
        raise LookupError(f"exactly one channel must be delivered to the inbox, not {found}")
    return found[0]


def template_parts() -> tuple[TemplatePart, ...]:
    return tuple(part for adapter in adapters() for part in adapter.template_parts)


def template_part(name: str) -> TemplatePart | None:
    return next((part for part in template_parts() if part.name == name), None)


def template_part_choices() -> list[tuple[str, str]]:
    """The ``choices`` of ``MessageTemplate.part``: a callable, so a new part needs no migration."""
    return [(part.name, part.label) for part in template_parts()]
