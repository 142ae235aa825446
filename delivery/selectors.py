from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from delivery.models import InboxMessage


def inbox_visible(*, user: AbstractBaseUser) -> QuerySet[InboxMessage]:
    """A user's inbox: their rows, less the ones they deleted."""
    return InboxMessage.objects.filter(user=user, deleted_at__isnull=True)
