from delivery.channels.base import ChannelAdapter
from delivery.rendering import MessageFacts, Part, Renderer


class InAppChannel(ChannelAdapter):
    """Served by the inbox queue, which SNS delivers to raw (the ``default`` body, the
    JSON document); the consumer renders the HTML body when it writes the inbox rows."""

    name = "in_app"
    sns_protocol = None

    def inbox_body(self, facts: MessageFacts, renderer: Renderer) -> str:
        return renderer.render(Part.IN_APP_BODY, facts)
