"""``sync_sns``: find where SNS and the ``Subscription`` rows disagree, both ways, and
repair it. Idempotent: a second run finds nothing to do.

Per topic: the SNS topic and its inbox-queue subscription exist (the canary queue's
instead on the canary topic), and its server-side
encryption matches ``NOTIFIER_KMS_KEY_ID`` (so do the inbox queues'); every active target
(topic, channel, endpoint) has its SNS subscription with the right filter policy and
its rows record the ARN and confirmation status; every SNS subscription of a managed
protocol (email, sms, application, https) that no active row wants is an orphan and is
removed. SQS subscriptions other than the inbox's are left alone: they belong to
whoever added them.
"""

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from config.masking import mask_endpoint
from delivery.aws import sns_client, sqs_client
from delivery.aws_encryption import (
    QUEUE_ENCRYPTION_NAMES,
    encryption_label,
    queue_encryption_changes,
    topic_encryption_changes,
)
from delivery.channels import adapter_for, managed_protocols, protocol_less_channels
from delivery.errors import DeliveryError, classify
from delivery.queues import (
    canary_queue_attach,
    canary_queue_name,
    inbox_attach,
    inbox_queue_name,
    inbox_queue_names,
    queue_attributes,
    queue_encrypt,
)
from delivery.sns_feedback import feedback_changes
from delivery.sns_subscriptions import (
    PENDING,
    Target,
    desired_policy,
    normalized_policy,
    sns_unsubscribe,
    subscription_sync,
    target_subscribe,
)
from delivery.topics import sns_topic_encrypt, topic_ensure_sns
from events.models import CANARY_TOPIC_SLUG, Topic
from subscriptions.models import Subscription
from subscriptions.selectors import subscription_proven

Status = Subscription.Status


@dataclass
class Change:
    sign: str  # "+" create, "-" remove, "~" adjust, "!" could not check
    what: str
    apply: Callable[[], object] | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{self.sign} {self.what}"

    def run(self) -> DeliveryError | None:
        """Apply it; returns the failure, classified, instead of raising."""
        if self.apply is None:
            return None
        try:
            self.apply()
        except Exception as exc:
            return classify(exc)
        return None


def _sns_subscriptions(topic_arn: str) -> Iterator[dict[str, str]]:
    for page in sns_client().get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        yield from page["Subscriptions"]


def _topic_attributes(arn: str) -> dict[str, str] | None:
    """The SNS topic's attributes; None when it does not exist."""
    if not arn:
        return None
    try:
        return sns_client().get_topic_attributes(TopicArn=arn)["Attributes"]
    except sns_client().exceptions.NotFoundException:
        return None


def _rows_by_target(topic: Topic) -> dict[Target, list[Subscription]]:
    groups: dict[Target, list[Subscription]] = defaultdict(list)
    rows = topic.subscriptions.filter(subscription_proven(), active=True).exclude(channel__in=protocol_less_channels())
    rows = rows.select_related("topic").order_by("pk")
    for row in rows:
        groups[Target.of(row)].append(row)
    return groups


def _sns_endpoint(rows: list[Subscription]) -> str:
    """What SNS lists as the endpoint: the platform endpoint ARN for push."""
    return rows[0].sns_endpoint_arn if adapter_for(rows[0].channel).owns_endpoint else rows[0].endpoint


def _shown(endpoint: str) -> str:
    """An SNS-listed endpoint as a change names it: masked (the text reaches logs and
    ``sync_sns`` output), but a push platform endpoint's ARN, which is no contact data, whole."""
    return endpoint if endpoint.startswith("arn:") else mask_endpoint(endpoint)


def _target_changes(topic: Topic, rows: list[Subscription], existing: dict[str, str]) -> Change | None:
    first, ids = rows[0], ", ".join(str(row.pk) for row in rows)
    label = f"{first.channel} {mask_endpoint(first.endpoint)} on {topic.slug} (subscription {ids})"
    repair = lambda: target_subscribe(Target.of(first).active_rows())  # noqa: E731
    endpoint = _sns_endpoint(rows)
    arn = existing.get(endpoint) if endpoint else None
    if arn is None:
        return Change("+", f"subscribe {label}", repair)
    reasons = []
    if arn == PENDING:
        if any(row.status != Status.PENDING_CONFIRMATION for row in rows):
            reasons.append("status is pending confirmation")
    else:
        attributes = sns_client().get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        if normalized_policy(attributes.get("FilterPolicy")) != desired_policy(rows):
            reasons.append("filter policy (mute) differs")
        pending = attributes.get("PendingConfirmation", "false").lower() == "true"
        wanted_status = Status.PENDING_CONFIRMATION if pending else Status.CONFIRMED
        if any(row.status != wanted_status or row.sns_subscription_arn != arn or row.sync_error for row in rows):
            reasons.append(f"record ARN and status {wanted_status}")
    return Change("~", f"{label}: {'; '.join(reasons)}", repair) if reasons else None


def _topic_changes(topic: Topic) -> list[Change]:
    current = _topic_attributes(topic.sns_topic_arn)
    if current is None:
        create = Change("+", f"SNS topic for {topic.slug}", lambda: topic_ensure_sns(topic=topic, verify=True))
        later = [Change("+", f"subscribe {rows[0].channel} {mask_endpoint(rows[0].endpoint)} on {topic.slug}",
                        lambda target=target: target_subscribe(target.active_rows()))
                 for target, rows in _rows_by_target(topic).items()]  # fmt: skip
        return [create, *later]
    changes: list[Change] = []
    if topic_encryption_changes(current):
        arn = topic.sns_topic_arn
        changes.append(Change("~", f"SNS topic {topic.slug}: server-side encryption to {encryption_label()}",
                              lambda: sns_topic_encrypt(arn)))  # fmt: skip
    listed = list(_sns_subscriptions(topic.sns_topic_arn))
    inbox = inbox_queue_name(fifo=topic.fifo)
    if topic.slug != CANARY_TOPIC_SLUG and not any(
        s["Protocol"] == "sqs" and s["Endpoint"].endswith(f":{inbox}") for s in listed
    ):
        arn = topic.sns_topic_arn
        changes.append(Change("+", f"inbox queue {inbox} on {topic.slug}",
                              lambda: inbox_attach(topic_arn=arn, fifo=topic.fifo)))  # fmt: skip
    canary = canary_queue_name()
    if topic.slug == CANARY_TOPIC_SLUG and not any(
        s["Protocol"] == "sqs" and s["Endpoint"].endswith(f":{canary}") for s in listed
    ):
        arn = topic.sns_topic_arn
        changes.append(Change("+", f"canary queue {canary} on {topic.slug}",
                              lambda: canary_queue_attach(topic_arn=arn)))  # fmt: skip
    protocols = managed_protocols()
    managed = {
        s["Endpoint"]: s["SubscriptionArn"] if s["SubscriptionArn"].startswith("arn:") else PENDING
        for s in listed
        if s["Protocol"] in protocols
    }
    wanted = set()
    for rows in _rows_by_target(topic).values():
        wanted.add(_sns_endpoint(rows))
        change = _target_changes(topic, rows, managed)
        if change is not None:
            changes.append(change)
    for endpoint, arn in managed.items():
        if endpoint in wanted:
            continue
        if arn == PENDING:
            changes.append(
                Change("-", f"orphan {_shown(endpoint)} on {topic.slug} is unconfirmed: SNS drops it in 3 days")
            )
        else:
            changes.append(Change("-", f"unsubscribe orphan {_shown(endpoint)} on {topic.slug} ({arn})",
                                  lambda arn=arn: _unsubscribe_orphan(arn)))  # fmt: skip
    return changes


def _unsubscribe_orphan(arn: str) -> None:
    # Changes are applied after all were found: a row may have taken this ARN since.
    if not Subscription.objects.filter(subscription_proven(), active=True, sns_subscription_arn=arn).exists():
        sns_unsubscribe(arn)


def _queue_changes() -> list[Change]:
    """The inbox queues (and their dead-letter queues) whose encryption is off the setting.
    A queue not there yet is made, encrypted, when a topic or the consumer first needs it."""
    changes = []
    for name in inbox_queue_names():
        try:
            url = sqs_client().get_queue_url(QueueName=name)["QueueUrl"]
        except sqs_client().exceptions.QueueDoesNotExist:
            continue
        if queue_encryption_changes(queue_attributes(url, *QUEUE_ENCRYPTION_NAMES)):
            changes.append(Change("~", f"SQS queue {name}: server-side encryption to {encryption_label()}",
                                  lambda url=url: queue_encrypt(url)))  # fmt: skip
    return changes


def _row_changes() -> list[Change]:
    """Rows whose own record is off: in-app status, inactive rows still holding an ARN,
    and unproven rows not recorded as pending verification (or holding an ARN)."""
    changes = []
    queue_served = protocol_less_channels()  # in-app: the inbox queue serves it, no SNS subscription per row
    inbox_rows_off = Subscription.objects.filter(channel__in=queue_served).exclude(active=True, status=Status.CONFIRMED)
    inbox_rows_off = inbox_rows_off.exclude(active=False, status=Status.UNSYNCED)
    inactive_held = Subscription.objects.filter(active=False).exclude(sns_subscription_arn="", sns_endpoint_arn="")
    unproven_off = Subscription.objects.filter(active=True).exclude(subscription_proven())
    unproven_off = unproven_off.exclude(
        status=Status.PENDING_VERIFICATION, sns_subscription_arn="", sns_endpoint_arn=""
    )
    for row in (inbox_rows_off | inactive_held | unproven_off).order_by("pk"):
        changes.append(Change("~", f"subscription {row.pk} ({row.channel}): record its SNS state",
                              lambda pk=row.pk: subscription_sync(subscription_id=pk)))  # fmt: skip
    return changes


def _feedback_changes() -> list[Change]:
    return [Change("~", what, apply) for what, apply in feedback_changes()]


def sns_reconcile(*, topics: list[Topic] | None = None) -> list[Change]:
    """The changes needed; nothing is done until each ``apply`` is called."""
    changes = []
    for topic in topics if topics is not None else Topic.objects.order_by("slug"):
        try:
            changes.extend(_topic_changes(topic))
        except Exception as exc:  # one topic SNS refuses to show must not hide the others
            changes.append(Change("!", f"cannot check {topic.slug}: {classify(exc)}"))
    try:
        changes.extend(_queue_changes())
    except Exception as exc:
        changes.append(Change("!", f"cannot check the inbox queues: {classify(exc)}"))
    try:
        changes.extend(_feedback_changes())
    except Exception as exc:
        changes.append(Change("!", f"cannot check the feedback topic: {classify(exc)}"))
    return changes + _row_changes()


@dataclass(frozen=True)
class SyncOutcome:
    changes: int
    failed: int  # topics that could not be checked, and changes that failed to apply


def sns_sync(
    *,
    report: Callable[[Change, DeliveryError | None], None],
    topics: list[Topic] | None = None,
    dry_run: bool = False,
) -> SyncOutcome:
    """Reconcile, then apply each change (unless ``dry_run``) and tell ``report`` about it
    and its failure: the periodic task logs them, ``manage.py sync_sns`` prints them."""
    changes = sns_reconcile(topics=topics)
    failed = 0
    for change in changes:
        error = None if dry_run else change.run()
        failed += change.sign == "!" or error is not None
        report(change, error)
    return SyncOutcome(changes=len(changes), failed=failed)
