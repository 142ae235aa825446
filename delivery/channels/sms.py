import math
import re

from django.core.exceptions import ValidationError

from delivery.aws import sns_client
from delivery.channels.base import ChannelAdapter, sns_errors
from delivery.rendering import MessageFacts, Renderer, TemplatePart

SMS_BODY = TemplatePart("sms_body")
E164 = re.compile(r"^\+[1-9]\d{1,14}$")

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")  # each costs two septets
_GSM7 = _GSM7_BASIC | _GSM7_EXTENDED


def _is_gsm7(text: str) -> bool:
    return _GSM7.issuperset(text)  # set operations in C: every message of a burst is measured


def _length(text: str) -> int:
    """Septets in GSM-7, UTF-16 code units in UCS-2."""
    if _is_gsm7(text):
        return len(text) + sum(text.count(ch) for ch in _GSM7_EXTENDED)
    return len(text.encode("utf-16-le")) // 2


def _single_segment_limit(text: str) -> int:
    return 160 if _is_gsm7(text) else 70


def sms_segments(text: str) -> int:
    """How many SMS parts the text takes: GSM-7 when it can, UCS-2 otherwise."""
    length, single = _length(text), _single_segment_limit(text)
    if length <= single:
        return 1
    return math.ceil(length / (153 if single == 160 else 67))


class SmsChannel(ChannelAdapter):
    name = "sms"
    label = "Sms"
    sns_protocol = "sms"
    template_parts = (SMS_BODY,)

    def normalize_endpoint(self, value: str) -> str:
        compact = re.sub(r"[\s\-().]", "", value)  # people type spaces, dashes and brackets
        if not E164.match(compact):
            raise ValidationError("Enter the number in E.164 form, e.g. +447700900123.")
        return compact

    needs_proof = True

    @sns_errors
    def proof_send(self, *, endpoint: str, ref: str, code: str) -> None:
        # Transactional: a code is worth the higher price (and is not dropped for cost).
        sns_client().publish(
            PhoneNumber=endpoint,
            Message=f"Your notifier verification code is {code}. It expires soon; do not share it.",
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
        )

    def text(self, facts: MessageFacts, renderer: Renderer) -> str:
        """The SMS text, in one segment where possible: the event title gives way first
        (shortened with "..."), so the time, which is the point of the message, stays."""
        title = facts.title
        text = renderer.render(SMS_BODY, facts)
        for _ in range(8):  # each round recomputes: shortening may switch UCS-2 to GSM-7
            if sms_segments(text) == 1 or not title:
                break
            overflow = _length(text) - _single_segment_limit(text)
            title = title[: max(len(title) - overflow - 3, 0)].rstrip()
            event = {**facts.context["event"], "title": f"{title}..." if title else ""}
            text = renderer.render(SMS_BODY, facts, event=event)
        return text

    def bodies(self, facts: MessageFacts, renderer: Renderer) -> dict[str, str]:
        return {"sms": self.text(facts, renderer)}
