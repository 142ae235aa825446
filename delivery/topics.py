"""Each Topic has one SNS topic, created idempotently (CreateTopic returns the existing one),
signing with SHA256 (SignatureVersion 2) for webhooks, and the inbox queue subscribed
(the canary's topic has the engine's canary queue instead)."""

import logging

from django.conf import settings

from delivery.aws import sns_client
from delivery.aws_encryption import topic_encryption_changes
from delivery.errors import DeliveryError, classify
from delivery.queues import canary_queue_attach, inbox_attach
from events.models import CANARY_TOPIC_SLUG, Topic

logger = logging.getLogger(__name__)


def sns_topic_name(topic: Topic) -> str:
    name = f"{settings.NOTIFIER_SNS_TOPIC_PREFIX}{topic.slug}"
    return f"{name}.fifo" if topic.fifo else name


def sns_topic_encrypt(arn: str, current: dict[str, str] | None = None) -> dict[str, str]:
    """Bring a topic's server-side encryption in step with the setting; returns what was set.
    ``current``: its attributes, when the caller has read them already."""
    if current is None:
        current = sns_client().get_topic_attributes(TopicArn=arn)["Attributes"]
    changes = topic_encryption_changes(current)
    for name, value in changes.items():
        sns_client().set_topic_attributes(TopicArn=arn, AttributeName=name, AttributeValue=value)
    return changes


def topic_ensure_sns(*, topic: Topic, verify: bool = False) -> str:
    """Return the topic's SNS ARN, creating the SNS topic if needed. Raises DeliveryError.

    ``verify`` asks SNS even when an ARN is stored (CreateTopic is idempotent), for
    when the SNS side may have been reset, as a local emulator is between runs.
    """
    if topic.sns_topic_arn and not verify:
        return topic.sns_topic_arn
    attributes = {"FifoTopic": "true", "ContentBasedDeduplication": "false"} if topic.fifo else {}
    try:
        arn = sns_client().create_topic(Name=sns_topic_name(topic), Attributes=attributes)["TopicArn"]
        # Set apart from CreateTopic, which fails on AWS when an existing topic's attributes differ.
        sns_client().set_topic_attributes(TopicArn=arn, AttributeName="SignatureVersion", AttributeValue="2")
        sns_topic_encrypt(arn)
        if topic.slug == CANARY_TOPIC_SLUG:  # the engine's own probe: nobody's inbox
            canary_queue_attach(topic_arn=arn)
        else:
            inbox_attach(topic_arn=arn, fifo=topic.fifo)
    except Exception as exc:
        raise classify(exc) from exc
    if arn != topic.sns_topic_arn:
        Topic.objects.filter(pk=topic.pk).update(sns_topic_arn=arn)
        topic.sns_topic_arn = arn
        logger.info("sns topic ready topic=%s arn=%s", topic.slug, arn)
    return arn


def topic_ensure_sns_quietly(*, topic_id: int) -> None:
    """When a topic is saved: make its SNS topic now if it has none; if SNS is down, the
    fire path (or the next save) creates it later."""
    topic = Topic.objects.filter(pk=topic_id).first()
    if topic is None:
        return
    try:
        topic_ensure_sns(topic=topic)
    except DeliveryError as exc:
        logger.warning("sns topic not created yet topic=%s error=%s", topic.slug, exc)
