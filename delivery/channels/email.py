import re
import unicodedata

from delivery.channels.base import ChannelAdapter
from delivery.rendering import MessageFacts, Part, Renderer

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
    sns_protocol = "email"

    def subject(self, facts: MessageFacts, renderer: Renderer) -> str:
        return sns_subject(renderer.render(Part.EMAIL_SUBJECT, facts))

    def bodies(self, facts: MessageFacts, renderer: Renderer) -> dict[str, str]:
        return {"email": renderer.render(Part.EMAIL_BODY, facts)}  # email-json reads the default
