from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from events.models import Topic
from subscriptions.models import Subscription
from subscriptions.validation import normalize_endpoint


def _refuse_duplicate(
    *, user: AbstractBaseUser, topic: Topic, channel: str, endpoint: str, exclude: int | None
) -> None:
    duplicates = Subscription.objects.filter(user=user, topic=topic, channel=channel, endpoint=endpoint)
    if exclude is not None:
        duplicates = duplicates.exclude(pk=exclude)
    if duplicates.exists():
        raise ValidationError({"endpoint": "You already follow this topic on this channel and endpoint."})


def subscription_create(
    *, user: AbstractBaseUser, topic: Topic, channel: str, endpoint: str = "", active: bool = True
) -> Subscription:
    endpoint = normalize_endpoint(channel, endpoint)
    _refuse_duplicate(user=user, topic=topic, channel=channel, endpoint=endpoint, exclude=None)
    return Subscription.objects.create(user=user, topic=topic, channel=channel, endpoint=endpoint, active=active)


def subscription_update(*, subscription: Subscription, **fields: object) -> Subscription:
    for name in ("topic", "channel"):
        if name in fields and fields[name] != getattr(subscription, name):
            raise ValidationError({name: f"The {name} of a subscription cannot change; create a new one."})
    if "endpoint" in fields:
        subscription.endpoint = normalize_endpoint(subscription.channel, str(fields["endpoint"]))
        _refuse_duplicate(
            user=subscription.user,
            topic=subscription.topic,
            channel=subscription.channel,
            endpoint=subscription.endpoint,
            exclude=subscription.pk,
        )
    if "active" in fields:
        subscription.active = bool(fields["active"])
    subscription.save()
    return subscription


def subscription_delete(*, subscription: Subscription) -> None:
    subscription.delete()
