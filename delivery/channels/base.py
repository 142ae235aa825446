"""One class per channel, one interface (docs/channels.md): what a valid endpoint is,
which template parts its message has, how its subscribers are reached through SNS and
what body its protocol gets in the one publish per notification.

An adapter satisfies ``subscriptions.channels.ChannelKind``: the subscriptions app reads
name, label, endpoint rules and the in-app special cases from it through the registry.
"""

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from delivery.errors import classify
from delivery.rendering import MessageFacts, Renderer, TemplatePart

if TYPE_CHECKING:
    from subscriptions.models import Subscription


P = ParamSpec("P")
R = TypeVar("R")


def sns_errors(method: Callable[P, R]) -> Callable[P, R]:
    """SNS failures leave as ``DeliveryError``: the API answers them with a 503, not a 500."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            raise classify(exc) from exc

    return wrapper


class ChannelAdapter:
    name: str
    label: str
    # The SNS protocol of its subscriptions; None when SNS does not hold one per user
    # (the inbox queue, subscribed to every topic, serves the channel instead).
    sns_protocol: str | None
    # Whether ``sns_endpoint`` creates an SNS resource (kept in ``sns_endpoint_arn``).
    owns_endpoint = False
    # Whether its subscriptions name a device platform (``Subscription.platform``).
    takes_platform = False
    # The parts of its message a topic may override (``MessageTemplate.part``).
    template_parts: tuple[TemplatePart, ...] = ()

    @property
    def via_inbox(self) -> bool:
        """No SNS subscription per user means the inbox queue delivers it."""
        return self.sns_protocol is None

    @property
    def reaches_fifo_topics(self) -> bool:
        """SNS FIFO topics deliver only to SQS queues; of ours, that is the inbox queue."""
        return self.via_inbox

    def normalize_endpoint(self, value: str) -> str:
        """The endpoint in canonical form; raises ``ValidationError`` with the reason."""
        raise NotImplementedError

    def subscribe_check(self, endpoint: str) -> None:
        """Checked again right before each SNS subscribe, for rules whose answer may have
        changed since the endpoint was saved (a host name may resolve elsewhere now);
        raises ``ValidationError`` with the reason. Most channels have none."""

    def bodies(self, facts: MessageFacts, renderer: Renderer) -> dict[str, str]:
        """The ``MessageStructure=json`` entries this channel's protocol reads; none
        when it reads the ``default`` entry, the JSON document (SNS falls back to it)."""
        return {}

    def subject(self, facts: MessageFacts, renderer: Renderer) -> str | None:
        """The SNS ``Subject`` of the publish, if this channel provides it (one does: email)."""
        return None

    def inbox_body(self, facts: MessageFacts, renderer: Renderer) -> str:
        """The HTML body of the inbox rows; only a channel the inbox delivers has one."""
        raise NotImplementedError(f"channel {self.name} is not delivered to the inbox")

    def sns_endpoint(self, subscription: "Subscription") -> str:
        """What to subscribe in SNS for this subscription (may create an SNS resource)."""
        return subscription.endpoint

    def release(self, *, endpoint_arn: str) -> None:
        """Free what ``sns_endpoint`` created, once the subscription is gone."""

    # Endpoint ownership (docs/decisions/0008): channels reaching a person's address or
    # number override these; device tokens, webhook URLs and the inbox need no proof.
    needs_proof = False

    def proof_open(self, *, endpoint: str) -> str:
        return ""

    def proof_ready(self, *, ref: str) -> bool:
        return True

    def proof_send(self, *, endpoint: str, ref: str, code: str) -> None:
        raise NotImplementedError(f"channel {self.name} needs no proof")

    def proof_close(self, *, ref: str) -> None:
        """Nothing to free by default."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
