from delivery.channels.base import ChannelAdapter
from delivery.rendering import MessageFacts, Renderer


class WebhookChannel(ChannelAdapter):
    """An https endpoint receives the JSON document, signed by SNS (SignatureVersion 2,
    set on every topic), after it confirmed the subscription."""

    name = "webhook"
    sns_protocol = "https"

    def bodies(self, facts: MessageFacts, renderer: Renderer, document: str) -> dict[str, str]:
        return {"https": document}
