from delivery.channels.base import ChannelAdapter


class WebhookChannel(ChannelAdapter):
    """An https endpoint receives the JSON document (the ``default`` body), signed by
    SNS (SignatureVersion 2, set on every topic), after it confirmed the subscription."""

    name = "webhook"
    sns_protocol = "https"
