import re
import unicodedata
import uuid

from django.conf import settings
from django.core.validators import EmailValidator

from delivery.aws import sns_client
from delivery.aws_encryption import topic_encryption_attributes
from delivery.channels.base import ChannelAdapter, sns_errors
from delivery.rendering import MessageFacts, Renderer, TemplatePart

EMAIL_SUBJECT = TemplatePart("email_subject")
EMAIL_BODY = TemplatePart("email_body")
_valid_email = EmailValidator(message="Enter a valid email address.")

# SNS: the subject is ASCII, one line, under 100 characters.
SUBJECT_MAX_CHARS = 99
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def sns_subject(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    # Whitespace becomes one space; other control characters would make SNS refuse the publish.
    line = re.sub(r"\s+", " ", ascii_text)
    line = _ASCII_CONTROL.sub("", line).strip()  # category C of ASCII: what is left of it
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

    # Email proof with SNS alone (docs/decisions/0008): a topic of its own per verification;
    # SNS mails its confirmation link, and once the link is followed the code is published
    # to that topic, so only someone reading the mailbox learns it. Following the link
    # alone proves nothing for the requester: the code must come back through the API.
    needs_proof = True

    @sns_errors
    def proof_open(self, *, endpoint: str) -> str:
        sns = sns_client()
        name = f"{settings.NOTIFIER_SNS_TOPIC_PREFIX}verify-{uuid.uuid4().hex}"
        # The display name is the sender name of SNS's confirmation mail: say what it is for.
        attributes = {"DisplayName": "Notifier address check", **topic_encryption_attributes()}
        topic_arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        return sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=endpoint,
                             ReturnSubscriptionArn=True)["SubscriptionArn"]  # fmt: skip

    def proof_ready(self, *, ref: str) -> bool:
        try:
            attributes = sns_client().get_subscription_attributes(SubscriptionArn=ref)["Attributes"]
        except sns_client().exceptions.NotFoundException:
            return False  # unconfirmed for 3 days: SNS dropped it; a new request starts again
        return attributes.get("PendingConfirmation", "true").lower() == "false"

    @sns_errors
    def proof_send(self, *, endpoint: str, ref: str, code: str) -> None:
        sns_client().publish(
            TopicArn=ref.rsplit(":", 1)[0],
            Subject="Your verification code",
            Message=f"Your notifier verification code is {code}. Enter it where you asked for it; "
            "if you did not, ignore this message.",
        )

    @sns_errors
    def proof_close(self, *, ref: str) -> None:
        if ref.startswith("arn:"):
            sns_client().delete_topic(TopicArn=ref.rsplit(":", 1)[0])  # its subscription goes with it

    def subject(self, facts: MessageFacts, renderer: Renderer) -> str:
        return sns_subject(renderer.render(EMAIL_SUBJECT, facts))

    def bodies(self, facts: MessageFacts, renderer: Renderer) -> dict[str, str]:
        return {"email": renderer.render(EMAIL_BODY, facts)}  # email-json reads the default
