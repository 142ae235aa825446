"""One class per channel, one interface (DESIGN.md section 3): how its subscribers are
reached through SNS and what body its protocol gets in the one publish per notification."""

from typing import TYPE_CHECKING

from delivery.rendering import MessageFacts, Renderer

if TYPE_CHECKING:
    from subscriptions.models import Subscription


class ChannelAdapter:
    name: str
    # The SNS protocol of its subscriptions; None when SNS does not hold one per user.
    sns_protocol: str | None
    # Whether ``sns_endpoint`` creates an SNS resource (kept in ``sns_endpoint_arn``).
    owns_endpoint = False

    def bodies(self, facts: MessageFacts, renderer: Renderer) -> dict[str, str]:
        """The ``MessageStructure=json`` entries this channel's protocol reads; none
        when it reads the ``default`` entry, the JSON document (SNS falls back to it)."""
        return {}

    def sns_endpoint(self, subscription: "Subscription") -> str:
        """What to subscribe in SNS for this subscription (may create an SNS resource)."""
        return subscription.endpoint

    def release(self, *, endpoint_arn: str) -> None:
        """Free what ``sns_endpoint`` created, once the subscription is gone."""
