from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from config.announce import announce_on_commit
from config.crypto import blind_index
from events.models import CANARY_TOPIC_SLUG, Topic
from subscriptions.channels import channel_get, channel_kinds
from subscriptions.models import Preference, PushPlatform, Subscription
from subscriptions.selectors import endpoint_is_proven
from subscriptions.signals import preferences_changed, subscription_changed
from subscriptions.validation import normalize_endpoint


def _refuse_duplicate(
    *, user: AbstractBaseUser, topic: Topic, channel: str, endpoint: str, exclude: int | None
) -> None:
    duplicates = Subscription.objects.filter(
        user=user, topic=topic, channel=channel, endpoint_digest=blind_index(endpoint)
    )
    if exclude is not None:
        duplicates = duplicates.exclude(pk=exclude)
    if duplicates.exists():
        raise ValidationError({"endpoint": "You already follow this topic on this channel and endpoint."})


def _checked_platform(channel: str, platform: str) -> str:
    kind = channel_get(channel)
    if kind is None or not kind.takes_platform:
        if platform:
            raise ValidationError({"platform": "Only push subscriptions have a platform."})
        return ""
    platform = platform or settings.NOTIFIER_PUSH_DEFAULT_PLATFORM
    if platform not in PushPlatform.values:
        raise ValidationError({"platform": f"Choose one of {', '.join(PushPlatform.values)}."})
    return platform


def _refuse_fifo_channel(topic: Topic, channel: str) -> None:
    kind = channel_get(channel)
    if topic.fifo and (kind is None or not kind.reaches_fifo_topics):
        possible = ", ".join(k.name for k in channel_kinds() if k.reaches_fifo_topics)
        raise ValidationError(
            {"channel": f"This topic is FIFO: SNS FIFO topics deliver only to queues, so only {possible} is possible."}
        )


def subscription_clean(*, topic: Topic, channel: str, endpoint: str, platform: str) -> tuple[str, str]:
    """The endpoint and platform in canonical form, or ValidationError with field errors."""
    if topic.slug == CANARY_TOPIC_SLUG:
        # The engine's own probe: a subscriber would get its synthetic notifications.
        raise ValidationError({"topic": "This topic is the engine's internal canary; it cannot be subscribed to."})
    _refuse_fifo_channel(topic, channel)
    return normalize_endpoint(channel, endpoint), _checked_platform(channel, platform)


def _refuse_over_cap(user: AbstractBaseUser) -> None:
    """At most NOTIFIER_MAX_SUBSCRIPTIONS_PER_USER rows per user, active or not. Call it in
    the transaction that creates the row: it locks the user's row, so two creates at once
    count one after the other instead of both passing at cap - 1."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
    cap = settings.NOTIFIER_MAX_SUBSCRIPTIONS_PER_USER
    if Subscription.objects.filter(user=user).count() >= cap:
        raise ValidationError(f"An account may have at most {cap} subscriptions; delete one first.")


def subscription_create(
    *, user: AbstractBaseUser, topic: Topic, channel: str, endpoint: str = "", platform: str = "", active: bool = True
) -> Subscription:
    endpoint, platform = subscription_clean(topic=topic, channel=channel, endpoint=endpoint, platform=platform)
    # Until its user proves the endpoint (subscriptions/verification.py) the row stays out
    # of SNS; the reply is the same whoever else follows that address.
    proven = endpoint_is_proven(user_id=user.pk, channel=channel, endpoint=endpoint)
    status = Subscription.Status.UNSYNCED if proven else Subscription.Status.PENDING_VERIFICATION
    with transaction.atomic():
        _refuse_over_cap(user)
        _refuse_duplicate(user=user, topic=topic, channel=channel, endpoint=endpoint, exclude=None)
        subscription = Subscription.objects.create(
            user=user, topic=topic, channel=channel, endpoint=endpoint, platform=platform, active=active, status=status
        )
    announce_on_commit(subscription_changed, Subscription, subscription_id=subscription.pk)
    return subscription


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
    if "platform" in fields:
        subscription.platform = _checked_platform(subscription.channel, str(fields["platform"] or ""))
    if "active" in fields:
        subscription.active = bool(fields["active"])
        if subscription.active:
            subscription.inactive_reason = ""
    # Only what users edit: the SNS state columns belong to the sync, which may have
    # written them after this instance was loaded. (The model's save adds endpoint_digest.)
    subscription.save(update_fields=["endpoint", "platform", "active", "inactive_reason", "updated_at"])
    announce_on_commit(subscription_changed, Subscription, subscription_id=subscription.pk)
    return subscription


def subscription_deactivate(*, subscription_ids: Iterable[int], reason: str) -> int:
    """Turn these subscriptions off on the engine's own finding (an endpoint SNS disabled,
    a number that opted out) and say why; their SNS subscriptions are released after
    commit. Returns how many were active."""
    with transaction.atomic():
        ids = list(
            Subscription.objects.select_for_update()
            .filter(pk__in=list(subscription_ids), active=True)
            .values_list("pk", flat=True)
        )
        Subscription.objects.filter(pk__in=ids).update(active=False, inactive_reason=reason[:200])
        for subscription_id in ids:
            announce_on_commit(subscription_changed, Subscription, subscription_id=subscription_id)
    return len(ids)


def subscription_resync(*, subscription_ids: Iterable[int]) -> None:
    """Mirror these subscriptions in SNS again (the admin's action): nothing is written here."""
    for subscription_id in subscription_ids:
        announce_on_commit(subscription_changed, Subscription, subscription_id=subscription_id)


def subscription_delete(*, subscription: Subscription) -> None:
    # Its SNS subscription is released by delivery's pre_delete receiver, which also
    # covers rows deleted by a cascade (a user deleted), where no service runs.
    subscription.delete()


def preference_get(*, user: AbstractBaseUser) -> Preference:
    preference, _ = Preference.objects.get_or_create(user=user)
    return preference


def preference_update(
    *, user: AbstractBaseUser, muted_topics: Iterable[Topic] | None = None, muted_channels: Iterable[str] | None = None
) -> Preference:
    """Mute or unmute topics and channels; SNS filter policies follow after commit."""
    with transaction.atomic():
        preference, _ = Preference.objects.select_for_update().get_or_create(user=user)
        if muted_channels is not None:
            channels = sorted(set(muted_channels))
            unknown = [c for c in channels if channel_get(c) is None]
            if unknown:
                raise ValidationError({"muted_channels": f"Unknown channel(s): {', '.join(unknown)}."})
            preference.muted_channels = channels
        preference.save()  # also when only the topics change: updated_at records the change
        if muted_topics is not None:
            preference.muted_topics.set(list(muted_topics))
        announce_on_commit(preferences_changed, Preference, user_id=user.pk)
    return preference
