"""Reads about subscriptions that other apps rely on (who gets what)."""

from django.db.models import Exists, OuterRef, Q

from subscriptions.models import Channel, Preference, Subscription


def _mutes(topic_id: int, channel: str) -> Q:
    """A preference that mutes this topic or this channel."""
    return Q(muted_topics=topic_id) | Q(muted_channels__contains=[channel])


def subscription_is_muted(subscription: Subscription) -> bool:
    return Preference.objects.filter(_mutes(subscription.topic_id, subscription.channel),
                                     user_id=subscription.user_id).exists()  # fmt: skip


def in_app_recipient_ids(topic_id: int) -> list[int]:
    """Users with an active in-app subscription to the topic who muted neither it nor in-app."""
    muting = Preference.objects.filter(_mutes(topic_id, Channel.IN_APP), user_id=OuterRef("user_id"))
    return list(
        Subscription.objects.filter(topic_id=topic_id, channel=Channel.IN_APP, active=True)
        .exclude(Exists(muting))
        .values_list("user_id", flat=True)
        .distinct()
    )


Mutes = tuple[set[int], set[str]]  # (muted topic ids, muted channels)


def muted_by(mutes: Mutes, subscription: Subscription) -> bool:
    """``subscription_is_muted`` against mutes already read (``user_mutes``)."""
    topics, channels = mutes
    return subscription.topic_id in topics or subscription.channel in channels


def user_mutes(user_id: int) -> Mutes:
    """(muted topic ids, muted channels) of one user, in one query."""
    preference = Preference.objects.filter(user_id=user_id).prefetch_related("muted_topics").first()
    if preference is None:
        return set(), set()
    return {topic.pk for topic in preference.muted_topics.all()}, set(preference.muted_channels)
