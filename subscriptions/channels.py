"""What subscriptions needs to know about a channel, and the registry of channels.

The channels themselves are the delivery app's adapters (``delivery/channels/``):
subscriptions sits below delivery and may not import it, so delivery registers its
adapters here when it starts (``DeliveryConfig.ready``). Model choices, endpoint
validation and the in-app special cases all read this registry, which is why a new
channel is one adapter module and one line in ``delivery/channels/__init__.py``.
"""

from typing import Protocol


class ChannelKind(Protocol):
    """One channel as subscriptions sees it; a delivery adapter satisfies it."""

    @property
    def name(self) -> str:
        """The value stored in ``Subscription.channel`` and sent by the API."""

    @property
    def label(self) -> str:
        """Shown in the admin and the API schema."""

    @property
    def takes_platform(self) -> bool:
        """Whether its subscriptions name a device platform (push)."""

    @property
    def reaches_fifo_topics(self) -> bool:
        """Whether it can subscribe to a FIFO topic: SNS FIFO topics deliver only to queues."""

    @property
    def via_inbox(self) -> bool:
        """Delivered to the in-app inbox by the queue consumer, not by an SNS subscription per user."""

    def normalize_endpoint(self, value: str) -> str:
        """The endpoint in canonical form; raises ``ValidationError`` with the reason."""

    @property
    def needs_proof(self) -> bool:
        """Whether a user must prove they hold the endpoint before it is subscribed in SNS
        (email, SMS: someone else's address or number; docs/decisions/0008)."""

    def proof_open(self, *, endpoint: str) -> str:
        """Start a proof; returns what ``proof_ready``/``proof_send``/``proof_close`` need."""

    def proof_ready(self, *, ref: str) -> bool:
        """Whether the one-time code can be sent now (email: once the SNS link is confirmed)."""

    def proof_send(self, *, endpoint: str, ref: str, code: str) -> None:
        """Send the one-time code to the endpoint (the code is never stored in clear)."""

    def proof_close(self, *, ref: str) -> None:
        """Free what ``proof_open`` created."""


# Registration order is the order of choices in forms, the API schema and the admin.
_KINDS: dict[str, ChannelKind] = {}


def channel_register(kind: ChannelKind) -> None:
    """Add a channel; registering the same object again is a no-op (``ready`` may rerun)."""
    present = _KINDS.get(kind.name)
    if present is not None and present is not kind:
        raise ValueError(f"channel {kind.name!r} is already registered by {present!r}")
    _KINDS[kind.name] = kind


def channel_get(name: str) -> ChannelKind | None:
    return _KINDS.get(name)


def channel_kinds() -> tuple[ChannelKind, ...]:
    return tuple(_KINDS.values())


def channel_choices() -> list[tuple[str, str]]:
    """The ``choices`` of every channel field: a callable, so adding a channel needs no migration."""
    return [(kind.name, kind.label) for kind in _KINDS.values()]
