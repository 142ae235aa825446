from datetime import datetime, timedelta

from django.utils import timezone

from config.crypto import blind_index
from events.models import Event, Topic
from events.services import event_create, topic_create
from subscriptions.models import EndpointVerification
from tests.ids import unique_slug


def make_topic(*, lead: int = 10, fifo: bool = False) -> Topic:
    return topic_create(slug=unique_slug(), name="Kick-offs", default_lead_minutes=lead, fifo=fifo)


def make_event(topic: Topic, *, starts_in: timedelta | None = None, starts_at: datetime | None = None,
               lead: int | None = None, title: str = "Match") -> Event:  # fmt: skip
    """Through the service, as the API and admin create events; an event that has already
    started cannot be made there, so that row (for planning and expiry tests) is written
    directly and nothing announces it."""
    starts_at = starts_at or timezone.now() + (starts_in or timedelta(hours=2))
    if starts_at > timezone.now():
        return event_create(topic=topic, title=title, starts_at=starts_at, lead_minutes=lead)
    return Event.objects.create(topic=topic, title=title, starts_at=starts_at, lead_minutes=lead)


def prove_endpoints(user, *pairs: tuple[str, str]) -> None:
    """Record that ``user`` proved each (channel, endpoint), as a matching code does
    (subscriptions/verification.py); endpoints in canonical form."""
    for channel, endpoint in pairs:
        EndpointVerification.objects.update_or_create(
            user=user, channel=channel, endpoint_digest=blind_index(endpoint),
            defaults={"endpoint": endpoint, "verified_at": timezone.now()},
        )  # fmt: skip
