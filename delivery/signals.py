from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from delivery.topics import topic_ensure_sns_quietly
from events.models import Topic


@receiver(post_save, sender=Topic, dispatch_uid="delivery.topic_created")
def provision_sns_topic(sender: type[Topic], instance: Topic, created: bool, **kwargs: Any) -> None:
    if created or not instance.sns_topic_arn:
        transaction.on_commit(lambda: topic_ensure_sns_quietly(topic_id=instance.pk))
