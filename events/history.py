"""The record of who changed an event, and how (issue 14, point 6).

The services call ``change_record`` inside the transaction of each change, after its
checks passed: a refused change writes nothing, and a made one cannot lose its row.
"""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from events.models import Event, EventChange

# Who a change is put down to when no person made it (a command passes its own name).
SYSTEM_ACTOR = "system"
# The fields a create records, in the order people read them.
CREATED_FIELDS = ("topic", "title", "description", "starts_at", "lead_minutes", "status")

Actor = AbstractBaseUser | AnonymousUser | str | None


def _json_value(value: object) -> object:
    """A value as the history's JSON keeps it: times in UTC ISO 8601, a topic by slug."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if hasattr(value, "slug"):
        return value.slug
    return value


def _action(changes: dict[str, list[object]]) -> EventChange.Action:
    if "status" in changes:
        return EventChange.Action.CANCELLED
    if "starts_at" in changes:
        return EventChange.Action.MOVED
    if "lead_minutes" in changes:
        return EventChange.Action.LEAD_CHANGED
    return EventChange.Action.EDITED


def _who(actor: Actor) -> tuple[AbstractBaseUser | None, str]:
    if isinstance(actor, str):
        return None, actor or SYSTEM_ACTOR
    if actor is None or not actor.is_authenticated:
        return None, SYSTEM_ACTOR
    return actor, actor.get_username()  # type: ignore[return-value]


def change_record(
    *, event: Event, before: dict[str, object], after: dict[str, object], actor: Actor, created: bool = False
) -> EventChange | None:
    """One EventChange for the fields whose value differs; None if none does."""
    changes = {
        name: [_json_value(before.get(name)), _json_value(after[name])]
        for name in after
        if created or before.get(name) != after[name]
    }
    if not changes:
        return None
    user, label = _who(actor)
    return EventChange.objects.create(
        event=event,
        actor=user,
        actor_label=label[:150],
        action=EventChange.Action.CREATED if created else _action(changes),
        changes=changes,
    )
