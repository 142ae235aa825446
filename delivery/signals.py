"""SNS follows the data: topics get an SNS topic, subscriptions an SNS subscription,
preferences a filter policy. Each runs after commit, so a rolled-back save changes
nothing in SNS; a failure is recorded and repaired by ``sync_sns``."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from delivery.channels import protocol_less_channels
from delivery.sns_subscriptions import Target, subscription_released, subscription_sync
from delivery.topics import topic_ensure_sns_quietly
from events.models import Topic
from subscriptions.models import Subscription
from subscriptions.signals import preferences_changed


@receiver(post_save, sender=Topic, dispatch_uid="delivery.topic_created")
def provision_sns_topic(sender: type[Topic], instance: Topic, created: bool, **kwargs: Any) -> None:
    if created or not instance.sns_topic_arn:
        transaction.on_commit(lambda: topic_ensure_sns_quietly(topic_id=instance.pk))


@receiver(post_save, sender=Subscription, dispatch_uid="delivery.subscription_saved")
def sync_subscription(sender: type[Subscription], instance: Subscription, **kwargs: Any) -> None:
    subscription_id = instance.pk
    transaction.on_commit(lambda: subscription_sync(subscription_id=subscription_id))


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
