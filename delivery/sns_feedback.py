"""What SNS tells the engine about its endpoints (docs/decisions/0011): push platform
events posted to ``POST /sns/feedback/``, and the numbers that opted out of SMS.

Every posted message is verified (``delivery.sns_signature``) and must come from one of
the engine's own topics before anything is done; a rejection changes nothing. A
subscription confirmation is answered through ``ConfirmSubscription`` with its token,
never by fetching the ``SubscribeURL`` the message names.
"""

import functools
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta

from django.conf import settings

from delivery.aws import sns_client
from delivery.aws_encryption import topic_encryption_attributes
from delivery.sns_signature import SnsMessageRejected, fetch_certificate, verify_sns_message
from events.models import Topic
from subscriptions.models import Subscription
from subscriptions.selectors import subscription_ids_with_endpoints
from subscriptions.services import subscription_deactivate

logger = logging.getLogger(__name__)

# Tests replace it to sign messages with their own key; production fetches from SNS.
certificate_fetcher: Callable[[str], bytes] = fetch_certificate

PLATFORM_EVENT_ATTRIBUTES = ("EventEndpointDeleted", "EventEndpointUpdated", "EventDeliveryFailure")
SMS_OPTED_OUT_REASON = "opted out of SMS"


class FeedbackRejected(Exception):
    """A posted message the engine does not act on (answered 403); nothing changed."""


def feedback_topic_name() -> str:
    return f"{settings.NOTIFIER_SNS_TOPIC_PREFIX}platform-feedback"


def feedback_topic_ensure() -> str:
    """The engine's feedback topic (created idempotently, encrypted as its topics are)."""
    return _feedback_topic_arn(feedback_topic_name(), sns_client().meta.endpoint_url)


@functools.cache
def _feedback_topic_arn(name: str, endpoint: str) -> str:
    # CreateTopic is idempotent; once per process and SNS endpoint, not once per request.
    return sns_client().create_topic(Name=name, Attributes=topic_encryption_attributes())["TopicArn"]


def _own_topic_arns() -> set[str]:
    stored = Topic.objects.exclude(sns_topic_arn="").values_list("sns_topic_arn", flat=True)
    return {feedback_topic_ensure(), *stored}


def _parsed(body: bytes, message_type: str | None) -> dict:
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FeedbackRejected("the body is not JSON") from exc
    if not isinstance(message, dict):
        raise FeedbackRejected("the body is not a JSON object")
    if message_type is not None and message_type != message.get("Type"):
        raise FeedbackRejected("x-amz-sns-message-type does not match the message's Type")
    return message


def _platform_event_reason(event: dict) -> str | None:
    """Why a push subscription stops, or None when the event leaves it as it is."""
    kind = event.get("EventType")
    if kind == "EndpointDeleted":
        return "push endpoint deleted by the platform"
    if kind == "EndpointUpdated":
        attributes = event.get("Attributes") if isinstance(event.get("Attributes"), dict) else event
        enabled = str(attributes.get("Enabled", "true")).lower()
        return "push endpoint disabled by the platform" if enabled == "false" else None
    if kind == "DeliveryFailure":
        failure = str(event.get("FailureType") or "unknown")[:80]
        return f"push delivery failed: {failure}"
    return None


def _platform_event_apply(raw: str) -> int:
    try:
        event = json.loads(raw)
    except ValueError as exc:
        raise FeedbackRejected("the notification's Message is not a platform event") from exc
    if not isinstance(event, dict) or not isinstance(event.get("EndpointArn"), str):
        raise FeedbackRejected("the notification's Message is not a platform event")
    reason = _platform_event_reason(event)
    if reason is None:
        return 0
    ids = Subscription.objects.filter(sns_endpoint_arn=event["EndpointArn"]).values_list("pk", flat=True)
    stopped = subscription_deactivate(subscription_ids=ids, reason=reason)
    logger.info("sns feedback %s: %d subscription(s) made inactive", event["EventType"], stopped)
    return stopped


def feedback_receive(*, body: bytes, message_type: str | None) -> str:
    """Verify one posted SNS message and act on it; returns what was done. Raises
    ``FeedbackRejected`` (403, nothing changed) for anything not genuine, fresh and ours."""
    message = _parsed(body, message_type)
    try:
        verify_sns_message(
            message,
            fetch=certificate_fetcher,
            max_age=timedelta(seconds=settings.NOTIFIER_SNS_MESSAGE_MAX_AGE_SECONDS),
        )
    except SnsMessageRejected as exc:
        raise FeedbackRejected(str(exc)) from exc
    topic_arn = message["TopicArn"]
    kind = message["Type"]
    if kind == "Notification":
        if topic_arn != feedback_topic_ensure():
            raise FeedbackRejected("the notification is not from the engine's feedback topic")
        return f"{_platform_event_apply(message['Message'])} subscription(s) made inactive"
    if topic_arn not in _own_topic_arns():
        raise FeedbackRejected("the topic is not one of the engine's")
    if kind == "SubscriptionConfirmation":
        sns_client().confirm_subscription(TopicArn=topic_arn, Token=message["Token"], AuthenticateOnUnsubscribe="true")
        logger.info("sns feedback: subscription to %s confirmed", topic_arn)
        return "confirmed"
    return "ignored"  # UnsubscribeConfirmation: nothing to do


def feedback_changes() -> list[tuple[str, Callable[[], object]]]:
    """What ``sync_sns`` must do so SNS reports to the engine: the platform applications
    send their endpoint events to the feedback topic, and NOTIFIER_SNS_FEEDBACK_URL (when
    set) is subscribed to it. Each is (what, apply); nothing is done here but making the
    feedback topic, and that only once something is to report to it."""
    if not settings.NOTIFIER_PUSH_PLATFORM_ARNS and not settings.NOTIFIER_SNS_FEEDBACK_URL:
        return []
    topic_arn = feedback_topic_ensure()
    changes: list[tuple[str, Callable[[], object]]] = []
    for arn in sorted(set(settings.NOTIFIER_PUSH_PLATFORM_ARNS.values())):
        attributes = sns_client().get_platform_application_attributes(PlatformApplicationArn=arn)["Attributes"]
        wanted = {name: topic_arn for name in PLATFORM_EVENT_ATTRIBUTES if attributes.get(name) != topic_arn}
        if wanted:
            apply = functools.partial(
                sns_client().set_platform_application_attributes, PlatformApplicationArn=arn, Attributes=wanted
            )
            changes.append(
                (f"platform application {arn.rsplit('/', 1)[-1]}: endpoint events to the feedback topic", apply)
            )
    url = settings.NOTIFIER_SNS_FEEDBACK_URL
    if url:
        pages = sns_client().get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
        if url not in {sub["Endpoint"] for page in pages for sub in page.get("Subscriptions", [])}:
            apply = functools.partial(sns_client().subscribe, TopicArn=topic_arn, Protocol="https", Endpoint=url)
            changes.append(("feedback URL subscribed to the feedback topic", apply))
    return changes


def _opted_out_pages() -> Iterator[list[str]]:
    token = ""
    while True:
        reply = sns_client().list_phone_numbers_opted_out(**({"nextToken": token} if token else {}))
        yield list(reply.get("phoneNumbers", []))
        token = reply.get("nextToken", "")
        if not token:
            return


def sms_opt_outs_sweep(*, pages: Iterable[list[str]] | None = None) -> int:
    """Deactivate the active SMS subscriptions of numbers that opted out with SNS (they
    replied STOP); returns how many. The numbers are never logged."""
    stopped = 0
    for numbers in _opted_out_pages() if pages is None else pages:
        ids = subscription_ids_with_endpoints("sms", numbers)
        stopped += subscription_deactivate(subscription_ids=ids, reason=SMS_OPTED_OUT_REASON)
    if stopped:
        logger.info("sms opt-outs: %d subscription(s) made inactive", stopped)
    return stopped
