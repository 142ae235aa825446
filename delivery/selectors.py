from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from delivery.models import InboxMessage, MessageTemplate, Notification
from delivery.rendering import Renderer
from events.models import CANARY_TOPIC_SLUG


def inbox_visible(*, user: AbstractBaseUser) -> QuerySet[InboxMessage]:
    """A user's inbox: their rows, less the ones they deleted."""
    return InboxMessage.objects.filter(user=user, deleted_at__isnull=True)


def renderer_for_topic(topic_id: int) -> Renderer:
    """A renderer with the topic's own templates (``MessageTemplate``) over the default files."""
    return Renderer(dict(MessageTemplate.objects.filter(topic_id=topic_id).values_list("part", "source")))


def users_only_sql(notification_alias: str = "") -> str:
    """The canary's notifications (issue 14) are the engine's own and never count in users'
    figures: a condition on delivery_notification's ``event_id`` (under its alias in the
    query, if any) for raw SQL. The subquery is small (one event per canary run) and
    Postgres runs it once, hashed."""
    column = f"{notification_alias}.event_id" if notification_alias else "event_id"
    return (
        f"{column} NOT IN (SELECT ce.id FROM events_event ce JOIN events_topic ct ON ct.id = ce.topic_id "
        f"WHERE ct.slug = '{CANARY_TOPIC_SLUG}')"
    )


USERS_ONLY_SQL = users_only_sql()


def users_notifications() -> QuerySet[Notification]:
    """The ledger without the canary's rows."""
    return Notification.objects.exclude(event__topic__slug=CANARY_TOPIC_SLUG)


def canary_notification_ids(ids: list[int]) -> set[int]:
    """Which of these ledger rows are the canary's."""
    return set(
        Notification.objects.filter(pk__in=ids, event__topic__slug=CANARY_TOPIC_SLUG).values_list("pk", flat=True)
    )


def failure_reason_sql(column: str = '"delivery_notification"."last_error"') -> str:
    """A notification's ``last_error`` as a reason that groups: the text before any " ("
    (where the reconcile pass appends the due time), numbers as ``#`` (ids, counts, account
    numbers), at most 120 characters. The console groups failures by it and links to the
    admin list filtered on it, so both use this one expression."""
    return rf"left(regexp_replace(split_part({column}, ' (', 1), '[0-9]+', '#', 'g'), 120)"
