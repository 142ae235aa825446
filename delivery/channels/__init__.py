"""The channel registry: one adapter per ``Subscription.channel`` value."""

from delivery.channels.base import ChannelAdapter
from delivery.channels.email import EmailChannel
from delivery.channels.in_app import InAppChannel
from delivery.channels.push import PushChannel
from delivery.channels.sms import SmsChannel
from delivery.channels.webhook import WebhookChannel

EMAIL = EmailChannel()
IN_APP = InAppChannel()

CHANNELS: dict[str, ChannelAdapter] = {
    adapter.name: adapter for adapter in (EMAIL, SmsChannel(), PushChannel(), WebhookChannel(), IN_APP)
}

# SNS protocols whose subscriptions on our topics mirror Subscription rows.
MANAGED_PROTOCOLS = frozenset(a.sns_protocol for a in CHANNELS.values() if a.sns_protocol)
