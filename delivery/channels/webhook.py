from django.core.validators import URLValidator

from delivery.channels.base import ChannelAdapter
from delivery.channels.url_guard import webhook_url_check

# SNS signs what it posts, but only TLS keeps the notification private on its way.
_https_url = URLValidator(schemes=["https"], message="Enter an https:// URL.")


class WebhookChannel(ChannelAdapter):
    """An https endpoint receives the JSON document (the ``default`` body), signed by
    SNS (SignatureVersion 2, set on every topic), after it confirmed the subscription.
    Only public hosts qualify (``url_guard``), checked on save and before each subscribe."""

    name = "webhook"
    label = "Webhook"
    sns_protocol = "https"

    def normalize_endpoint(self, value: str) -> str:
        _https_url(value)
        webhook_url_check(value)
        return value

    def subscribe_check(self, endpoint: str) -> None:
        webhook_url_check(endpoint)
