"""Mirror ``Subscription`` rows in SNS (docs/decisions/0004).

Rows sharing a target (same topic, channel and endpoint: two users with one address)
share one SNS subscription, since SNS keeps one per (topic, protocol, endpoint). So it
is removed only when no active row wants it, and muted only when every row wanting it
is muted. Only rows whose user proved the endpoint (``subscription_proven``,
docs/decisions/0008) count: an unproven row gets no SNS subscription, never keeps one
alive and never unmutes one. Muting is a filter policy that no message of the topic
matches, so nobody has to confirm an email address again when they unmute.

Writes to the row go through ``QuerySet.update``: only the SNS columns, never what a
user edited since the row was read.
"""

import json
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from delivery.aws import sns_client
from delivery.channels import adapter_for
from delivery.errors import DeliveryError, classify
from delivery.queues import inbox_attach
from delivery.topics import topic_ensure_sns
from events.models import Topic
from subscriptions.models import Subscription
from subscriptions.selectors import subscription_is_muted, subscription_proven

logger = logging.getLogger(__name__)

# What ListSubscriptionsByTopic shows instead of an ARN until the endpoint confirms.
PENDING = "PendingConfirmation"
NO_FILTER = "{}"


def muted_policy(topic: Topic) -> str:
    """Matches no message of this topic: every message carries its own topic slug."""
    return json.dumps({"topic": [{"anything-but": [topic.slug]}]}, separators=(",", ":"))


def normalized_policy(policy: str | None) -> str:
    return json.dumps(json.loads(policy), separators=(",", ":"), sort_keys=True) if policy else NO_FILTER


@dataclass(frozen=True)
class Target:
    topic_id: int
    channel: str
    # The endpoint's digest: rows are matched by it (the endpoint column is encrypted).
    endpoint_digest: str

    @classmethod
    def of(cls, subscription: Subscription) -> "Target":
        return cls(subscription.topic_id, subscription.channel, subscription.endpoint_digest)

    def active_rows(self) -> list[Subscription]:
        """The rows that want this target's SNS subscription: active and proven."""
        return list(
            Subscription.objects.filter(
                subscription_proven(), topic_id=self.topic_id, channel=self.channel,
                endpoint_digest=self.endpoint_digest, active=True,
            ).select_related("topic")
        )  # fmt: skip


def desired_policy(rows: list[Subscription]) -> str:
    if rows and all(subscription_is_muted(row) for row in rows):
        return muted_policy(rows[0].topic)  # one key: already in normalized form
    return NO_FILTER


def _record(rows: list[Subscription], **fields: str) -> None:
    Subscription.objects.filter(pk__in=[row.pk for row in rows]).update(**fields)


def sns_unsubscribe(arn: str) -> None:
    if arn and arn.startswith("arn:"):
        try:
            sns_client().unsubscribe(SubscriptionArn=arn)
        except sns_client().exceptions.NotFoundException:
            pass  # already gone: the goal is reached


def target_subscribe(rows: list[Subscription]) -> str:
    """Subscribe (idempotent in SNS), apply the filter policy, record ARN and status;
    returns the subscription ARN (or SNS's "pending confirmation")."""
    if not rows:
        return ""
    first = rows[0]
    adapter = adapter_for(first.channel)
    try:
        adapter.subscribe_check(first.endpoint)
    except ValidationError as exc:
        _target_refused(rows, _without_endpoint("; ".join(exc.messages), first.endpoint))
        return
    topic_arn = topic_ensure_sns(topic=first.topic)
    endpoint = adapter.sns_endpoint(first)
    endpoint_arn = endpoint if adapter.owns_endpoint else ""
    sns = sns_client()
    arn = sns.subscribe(
        TopicArn=topic_arn, Protocol=adapter.sns_protocol, Endpoint=endpoint,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]  # fmt: skip
    status = Subscription.Status.PENDING_CONFIRMATION
    if arn.startswith("arn:"):  # SNS may answer "pending confirmation" instead of an ARN
        attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        policy = desired_policy(rows)
        if normalized_policy(attributes.get("FilterPolicy")) != policy:
            sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="FilterPolicy", AttributeValue=policy)
        if attributes.get("PendingConfirmation", "false").lower() != "true":
            status = Subscription.Status.CONFIRMED
    _record(rows, sns_subscription_arn=arn, sns_endpoint_arn=endpoint_arn, status=status, sync_error="")
    # A row whose endpoint changed still points at its old target: let that go.
    for row in rows:
        old_arn = row.sns_subscription_arn if row.sns_subscription_arn != arn else ""
        old_endpoint = row.sns_endpoint_arn if row.sns_endpoint_arn != endpoint_arn else ""
        arn_release(channel=row.channel, subscription_arn=old_arn, endpoint_arn=old_endpoint)
    return arn


def _without_endpoint(text: str, endpoint: str) -> str:
    """``sync_error`` is stored in clear: keep the endpoint, and a webhook's host, out of it
    (docs/decisions/0010). SNS and the URL guard may quote either in their messages."""
    for secret in (endpoint, urlsplit(endpoint).hostname if "://" in endpoint else ""):
        if secret:
            text = text.replace(secret, "[endpoint]" if secret == endpoint else "[host]")
    return text


def _target_refused(rows: list[Subscription], reason: str) -> None:
    """The endpoint may no longer be reached (a webhook host that resolves privately now):
    nothing is subscribed, a subscription made earlier is removed, the rows say why."""
    logger.warning("sns subscribe refused subscriptions=%s reason=%s", [row.pk for row in rows], reason)
    _record(rows, sns_subscription_arn="", status=Subscription.Status.UNSYNCED,
            sync_error=f"Not subscribed: {reason}"[:2000])  # fmt: skip
    for arn in {row.sns_subscription_arn for row in rows}:
        sns_unsubscribe(arn)


def _still_used(**arn: str) -> bool:
    return Subscription.objects.filter(active=True, **arn).exists()


def arn_release(*, channel: str, subscription_arn: str, endpoint_arn: str, target: Target | None = None) -> None:
    """A row stopped using these. Unsubscribe, unless other active rows still hold the
    subscription (or share the row's target): then re-apply their filter policy, which
    may differ without the row that left. Delete a push endpoint no active row uses."""
    if subscription_arn:
        holders = list(
            Subscription.objects.filter(subscription_proven(), active=True, sns_subscription_arn=subscription_arn)
        )
        rows = Target.of(holders[0]).active_rows() if holders else (target.active_rows() if target else [])
        # The row's own target may be another endpoint than the ARN's (its endpoint
        # changed): then re-subscribing that target does not keep this ARN.
        if not rows or target_subscribe(rows) != subscription_arn:
            sns_unsubscribe(subscription_arn)
    if endpoint_arn and not _still_used(sns_endpoint_arn=endpoint_arn):
        adapter_for(channel).release(endpoint_arn=endpoint_arn)


def subscription_sync(*, subscription_id: int) -> Subscription | None:
    """Bring SNS in line with one row (and the rows sharing its target). Never raises on
    an SNS failure: the reason is kept in ``sync_error`` and ``sync_sns`` retries it."""
    subscription = Subscription.objects.select_related("topic").filter(pk=subscription_id).first()
    if subscription is None:
        return None
    adapter = adapter_for(subscription.channel)
    try:
        if adapter.sns_protocol is None:  # in-app: the inbox queue on the topic serves it
            topic_arn = topic_ensure_sns(topic=subscription.topic)
            if subscription.active:  # topics made before the inbox existed get it now
                inbox_attach(topic_arn=topic_arn, fifo=subscription.topic.fifo)
            status = Subscription.Status.CONFIRMED if subscription.active else Subscription.Status.UNSYNCED
            _record([subscription], status=status, sync_error="")
        elif subscription.active and Subscription.objects.filter(subscription_proven(), pk=subscription.pk).exists():
            target_subscribe(Target.of(subscription).active_rows())
        else:  # inactive, or its user has not proven the endpoint: it holds nothing in SNS
            status = Subscription.Status.PENDING_VERIFICATION if subscription.active else Subscription.Status.UNSYNCED
            _record([subscription], sns_subscription_arn="", sns_endpoint_arn="", status=status, sync_error="")
            arn_release(
                channel=subscription.channel, subscription_arn=subscription.sns_subscription_arn,
                endpoint_arn=subscription.sns_endpoint_arn, target=Target.of(subscription),
            )  # fmt: skip
    except Exception as exc:
        _sync_failed(subscription, classify(exc))
    subscription.refresh_from_db()
    return subscription


def _sync_failed(subscription: Subscription, error: DeliveryError) -> None:
    reason = _without_endpoint(str(error), subscription.endpoint)
    logger.warning("sns subscription sync failed subscription=%s error=%s", subscription.pk, reason)
    _record([subscription], sync_error=reason[:2000])


def subscription_released(*, target: Target, subscription_arn: str, endpoint_arn: str) -> None:
    """After a row was deleted; quiet on failure (``sync_sns`` removes what is left)."""
    try:
        arn_release(channel=target.channel, subscription_arn=subscription_arn, endpoint_arn=endpoint_arn,
                    target=target)  # fmt: skip
    except Exception as exc:
        logger.warning("sns unsubscribe failed arn=%s error=%s; sync_sns will remove it", subscription_arn, exc)
