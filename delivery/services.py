"""Writes on a user's inbox (the consumer writes the rows; users read, mark and delete)."""

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from delivery.models import InboxMessage
from delivery.selectors import inbox_visible


def inbox_mark_read(*, message: InboxMessage) -> InboxMessage:
    """Idempotent: marking a read message again keeps its first read time."""
    if message.read_at is None:
        message.read_at = timezone.now()
        InboxMessage.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=message.read_at)
    return message


def inbox_mark_unread(*, message: InboxMessage) -> InboxMessage:
    message.read_at = None
    InboxMessage.objects.filter(pk=message.pk).update(read_at=None)
    return message


def inbox_mark_all_read(*, user: AbstractBaseUser) -> int:
    return inbox_visible(user=user).filter(read_at__isnull=True).update(read_at=timezone.now())


def inbox_delete(*, message: InboxMessage) -> None:
    InboxMessage.objects.filter(pk=message.pk).update(deleted_at=timezone.now())
