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
