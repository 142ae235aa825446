import re
import unicodedata

from django.core.validators import EmailValidator

from delivery.channels.base import ChannelAdapter
from delivery.rendering import MessageFacts, Renderer, TemplatePart

EMAIL_SUBJECT = TemplatePart("email_subject")
EMAIL_BODY = TemplatePart("email_body")
_valid_email = EmailValidator(message="Enter a valid email address.")

# SNS: the subject is ASCII, one line, under 100 characters.
SUBJECT_MAX_CHARS = 99


def sns_subject(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    # Whitespace becomes one space; other control characters would make SNS refuse the publish.
    line = re.sub(r"\s+", " ", ascii_text)
    line = "".join(ch for ch in line if not unicodedata.category(ch).startswith("C")).strip()
    if len(line) > SUBJECT_MAX_CHARS:
        line = line[: SUBJECT_MAX_CHARS - 3].rstrip() + "..."
    return line or "Notification"


class EmailChannel(ChannelAdapter):
    name = "email"
    label = "Email"
    sns_protocol = "email"
    template_parts = (EMAIL_SUBJECT, EMAIL_BODY)

    def normalize_endpoint(self, value: str) -> str:
        _valid_email(value)
        return value.lower()

    def subject(self, facts: MessageFacts, renderer: Renderer) -> str:
        return sns_subject(renderer.render(EMAIL_SUBJECT, facts))

    def bodies(self, facts: MessageFacts, renderer: Renderer) -> dict[str, str]:
        return {"email": renderer.render(EMAIL_BODY, facts)}  # email-json reads the default
