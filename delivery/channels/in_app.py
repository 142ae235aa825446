from django.core.exceptions import ValidationError

from delivery.channels.base import ChannelAdapter
from delivery.html_clean import inbox_html_clean
from delivery.rendering import MessageFacts, Renderer, TemplatePart

# HTML, autoescaped: an event title cannot inject markup into the inbox; and cleaned after
# rendering (delivery/html_clean.py): the template's own markup cannot carry a script.
IN_APP_BODY = TemplatePart("in_app_body", html=True)


class InAppChannel(ChannelAdapter):
    """Served by the inbox queue, which SNS delivers to raw (the ``default`` body, the
    JSON document); the consumer renders the HTML body when it writes the inbox rows."""

    name = "in_app"
    label = "In App"
    sns_protocol = None
    template_parts = (IN_APP_BODY,)

    def normalize_endpoint(self, value: str) -> str:
        if value:
            raise ValidationError("In-app subscriptions take no endpoint; leave it empty.")
        return ""

    def inbox_body(self, facts: MessageFacts, renderer: Renderer) -> str:
        return inbox_html_clean(renderer.render(IN_APP_BODY, facts))
