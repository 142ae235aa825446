from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from delivery.models import InboxMessage, MessageTemplate
from delivery.rendering import Renderer


def inbox_visible(*, user: AbstractBaseUser) -> QuerySet[InboxMessage]:
    """A user's inbox: their rows, less the ones they deleted."""
    return InboxMessage.objects.filter(user=user, deleted_at__isnull=True)


def renderer_for_topic(topic_id: int) -> Renderer:
    """A renderer with the topic's own templates (``MessageTemplate``) over the default files."""
    return Renderer(dict(MessageTemplate.objects.filter(topic_id=topic_id).values_list("part", "source")))


def failure_reason_sql(column: str = '"delivery_notification"."last_error"') -> str:
    """A notification's ``last_error`` as a reason that groups: the text before any " ("
    (where the reconcile pass appends the due time), numbers as ``#`` (ids, counts, account
    numbers), at most 120 characters. The console groups failures by it and links to the
    admin list filtered on it, so both use this one expression."""
    return rf"left(regexp_replace(split_part({column}, ' (', 1), '[0-9]+', '#', 'g'), 120)"
