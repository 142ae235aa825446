"""Mobile push: an SNS application endpoint per device token, on the platform
application configured for the device's platform (NOTIFIER_PUSH_PLATFORM_ARNS)."""

import functools
import json
import logging
import os
import re
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError

from delivery.aws import sns_client
from delivery.channels.base import ChannelAdapter
from delivery.errors import DeliveryError, classify
from delivery.rendering import MessageFacts, Renderer, TemplatePart

if TYPE_CHECKING:
    from subscriptions.models import Subscription

logger = logging.getLogger(__name__)

PUSH_TITLE = TemplatePart("push_title")
PUSH_BODY = TemplatePart("push_body")
TOKEN_MAX_CHARS = 2048

_SNS_PLATFORM = {"gcm": "GCM", "apns": "APNS", "apns_sandbox": "APNS_SANDBOX"}
# CreatePlatformEndpoint names the existing endpoint when a token is already registered.
_EXISTING_ENDPOINT = re.compile(r"Endpoint (arn:\S+) already exists")


@functools.cache
def _emulator_platform_arn(platform: str, pid: int) -> str:
    name = f"{settings.NOTIFIER_SNS_TOPIC_PREFIX}{platform}"
    response = sns_client().create_platform_application(
        Name=name, Platform=_SNS_PLATFORM[platform], Attributes={"PlatformCredential": "emulator-placeholder"}
    )
    logger.warning("push platform %s not configured; created %s on the local emulator", platform, name)
    return response["PlatformApplicationArn"]


def platform_application_arn(platform: str) -> str:
    """The configured ARN; against a local emulator (AWS_ENDPOINT_URL set) one is made,
    since real platform credentials cannot exist there. Raises a permanent DeliveryError."""
    arn = settings.NOTIFIER_PUSH_PLATFORM_ARNS.get(platform)
    if arn:
        return arn
    if os.environ.get("AWS_ENDPOINT_URL"):
        try:
            return _emulator_platform_arn(platform, os.getpid())
        except Exception as exc:
            raise classify(exc) from exc
    raise DeliveryError(
        f"no SNS platform application configured for push platform {platform!r}: "
        f"set NOTIFIER_PUSH_PLATFORM_ARNS={platform}=arn:aws:sns:...",
        permanent=True,
    )


def _payloads(title: str, body: str, facts: MessageFacts) -> dict[str, str]:
    data = {"notification_id": str(facts.notification_id), "key": facts.key, "event_id": str(facts.event_id),
            "topic": facts.topic_slug, "starts_at": facts.starts_at.isoformat()}  # fmt: skip
    apns = json.dumps({"aps": {"alert": {"title": title, "body": body}, "sound": "default"}, **data})
    # FCM HTTP v1 through SNS: data values must be strings.
    gcm = json.dumps(
        {
            "fcmV1Message": {
                "message": {
                    "notification": {"title": title, "body": body},
                    "data": data,
                    "android": {"priority": "high"},
                }
            }
        }
    )
    return {"APNS": apns, "APNS_SANDBOX": apns, "GCM": gcm}


class PushChannel(ChannelAdapter):
    name = "push"
    label = "Push"
    sns_protocol = "application"
    owns_endpoint = True
    takes_platform = True
    template_parts = (PUSH_TITLE, PUSH_BODY)

    def normalize_endpoint(self, value: str) -> str:
        if not value or len(value) > TOKEN_MAX_CHARS:
            raise ValidationError(f"Enter the device token (1-{TOKEN_MAX_CHARS} characters).")
        return value

    def bodies(self, facts: MessageFacts, renderer: Renderer) -> dict[str, str]:
        return _payloads(renderer.render(PUSH_TITLE, facts), renderer.render(PUSH_BODY, facts), facts)

    def sns_endpoint(self, subscription: "Subscription") -> str:
        """The device's application endpoint, created or re-enabled (SNS disables an
        endpoint after the platform rejects its token; a re-registered token revives it)."""
        application = platform_application_arn(subscription.platform or settings.NOTIFIER_PUSH_DEFAULT_PLATFORM)
        sns = sns_client()
        try:
            try:
                arn = sns.create_platform_endpoint(
                    PlatformApplicationArn=application, Token=subscription.endpoint,
                    CustomUserData=f"user:{subscription.user_id}",
                )["EndpointArn"]  # fmt: skip
            except sns.exceptions.InvalidParameterException as exc:
                match = _EXISTING_ENDPOINT.search(str(exc))
                if match is None:
                    raise
                arn = match.group(1)
            attributes = sns.get_endpoint_attributes(EndpointArn=arn)["Attributes"]
            if attributes.get("Enabled", "true").lower() != "true" or attributes.get("Token") != subscription.endpoint:
                sns.set_endpoint_attributes(
                    EndpointArn=arn, Attributes={"Token": subscription.endpoint, "Enabled": "true"}
                )
        except Exception as exc:
            raise classify(exc) from exc
        return arn

    def release(self, *, endpoint_arn: str) -> None:
        if endpoint_arn:
            try:
                sns_client().delete_endpoint(EndpointArn=endpoint_arn)
            except Exception as exc:
                raise classify(exc) from exc
