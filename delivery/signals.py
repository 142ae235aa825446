"""SNS follows the data: topics get an SNS topic, subscriptions an SNS subscription,
preferences a filter policy. The services announce their changes after commit (the
apps' domain signals), so a rolled-back save changes nothing in SNS; a failure is
recorded and repaired by ``sync_sns``."""

from typing import Any

from django.db import transaction
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from delivery.channels import protocol_less_channels
from delivery.sns_subscriptions import Target, subscription_released, subscription_sync
from delivery.topics import topic_ensure_sns_quietly
from events.signals import topic_saved
from subscriptions.models import Subscription
from subscriptions.signals import preferences_changed, subscription_changed


@receiver(topic_saved, dispatch_uid="delivery.topic_saved")
def provision_sns_topic(sender: object, topic_id: int, **kwargs: Any) -> None:
    topic_ensure_sns_quietly(topic_id=topic_id)


@receiver(subscription_changed, dispatch_uid="delivery.subscription_changed")
def sync_subscription(sender: object, subscription_id: int, **kwargs: Any) -> None:
    subscription_sync(subscription_id=subscription_id)


# pre_delete rather than a service's signal: a user's deletion cascades to their
# subscriptions without passing through any service.
@receiver(pre_delete, sender=Subscription, dispatch_uid="delivery.subscription_deleted")
def release_subscription(sender: type[Subscription], instance: Subscription, **kwargs: Any) -> None:
    # Read the ARNs from the table: the sync stored them after this instance was loaded.
    stored = Subscription.objects.filter(pk=instance.pk).values("sns_subscription_arn", "sns_endpoint_arn").first()
    if stored is None:
        return
    target = Target.of(instance)
    arns = {"subscription_arn": stored["sns_subscription_arn"], "endpoint_arn": stored["sns_endpoint_arn"]}
    transaction.on_commit(lambda: subscription_released(target=target, **arns))


@receiver(preferences_changed, dispatch_uid="delivery.preferences_changed")
def apply_preferences(sender: object, user_id: int, **kwargs: Any) -> None:
    # In-app mutes are applied by the inbox consumer; the other channels by filter policies.
    rows = Subscription.objects.filter(user_id=user_id, active=True).exclude(channel__in=protocol_less_channels())
    for subscription_id in rows.values_list("pk", flat=True):
        subscription_sync(subscription_id=subscription_id)
