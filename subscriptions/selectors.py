"""Reads about subscriptions that other apps rely on (who gets what)."""

from collections.abc import Iterable
from contextlib import suppress
from functools import reduce
from operator import or_

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet

from config.crypto import blind_index
from subscriptions.channels import channel_kinds
from subscriptions.models import EndpointVerification, Preference, Subscription
from subscriptions.validation import normalize_endpoint


def _mutes(topic_id: int, channel: str) -> Q:
    """A preference that mutes this topic or this channel."""
    return Q(muted_topics=topic_id) | Q(muted_channels__contains=[channel])


def subscription_is_muted(subscription: Subscription) -> bool:
    return Preference.objects.filter(_mutes(subscription.topic_id, subscription.channel),
                                     user_id=subscription.user_id).exists()  # fmt: skip


def proof_channel_names() -> list[str]:
    """Channels whose endpoint a user must prove to hold (email, SMS: docs/decisions/0008)."""
    return [kind.name for kind in channel_kinds() if kind.needs_proof]


def subscription_proven() -> Q:
    """Subscription rows that may reach SNS: their channel needs no proof, or their user
    proved the endpoint. Everything that decides what SNS holds filters with this."""
    verified = EndpointVerification.objects.filter(
        user_id=OuterRef("user_id"), channel=OuterRef("channel"), endpoint_digest=OuterRef("endpoint_digest"),
        verified_at__isnull=False,
    )  # fmt: skip
    return ~Q(channel__in=proof_channel_names()) | Exists(verified)


def endpoint_is_proven(*, user_id: int, channel: str, endpoint: str) -> bool:
    if channel not in proof_channel_names():
        return True
    return EndpointVerification.objects.filter(
        user_id=user_id, channel=channel, endpoint_digest=blind_index(endpoint), verified_at__isnull=False
    ).exists()


def inbox_channel_names() -> list[str]:
    """The channels delivered to the in-app inbox (by its queue consumer, not by SNS per user)."""
    return [kind.name for kind in channel_kinds() if kind.via_inbox]


def inbox_recipient_ids(topic_id: int) -> list[int]:
    """Users with an active inbox-channel subscription to the topic who muted neither it nor that channel."""
    unmuted = [
        Q(channel=channel) & ~Exists(Preference.objects.filter(_mutes(topic_id, channel), user_id=OuterRef("user_id")))
        for channel in inbox_channel_names()
    ]
    if not unmuted:
        return []
    return list(
        Subscription.objects.filter(reduce(or_, unmuted), topic_id=topic_id, active=True)
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


def verification_list(*, user_id: int) -> QuerySet[EndpointVerification]:
    """A user's own proofs, never anyone else's."""
    # Not by endpoint: the column holds ciphertext, whose order means nothing.
    return EndpointVerification.objects.filter(user_id=user_id).order_by("channel", "created_at", "pk")


def endpoint_digests(channel: str, value: str) -> set[str]:
    """The digests a stored endpoint equal to ``value`` may have: of the value as given
    (stripped) and of its canonical form when the channel accepts it. Both, because
    some checks of a valid form can fail later (a webhook host that stopped resolving)
    while the row still holds that exact value."""
    candidates = {(value or "").strip()}
    with suppress(ValidationError):
        candidates.add(normalize_endpoint(channel, value))
    return {blind_index(candidate) for candidate in candidates if candidate}


def subscription_ids_with_endpoints(channel: str, endpoints: Iterable[str]) -> list[int]:
    """Ids of the subscriptions on this channel whose endpoint is one of these: the one
    way to find rows by endpoint values, since the column is encrypted and only the
    digest of the stored (canonical) form can be compared (docs/decisions/0010)."""
    digests = {digest for endpoint in endpoints for digest in endpoint_digests(channel, endpoint)}
    if not digests:
        return []
    return list(
        Subscription.objects.filter(channel=channel, endpoint_digest__in=digests)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
