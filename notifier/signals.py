import logging
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models.signals import post_migrate, post_save
from django.dispatch import receiver

from events.models import Event
from notifier.beat import beat_schedule_sync
from notifier.services import event_schedule

logger = logging.getLogger(__name__)


@receiver(post_save, sender=Event, dispatch_uid="notifier.event_saved")
def schedule_saved_event(sender: type[Event], instance: Event, **kwargs: Any) -> None:
    """Every create, move, lead change or cancel re-plans the event once committed.

    Robust: a failure here is logged, and the next arm pass plans the event anyway.
    """
    event_id = instance.pk
    transaction.on_commit(lambda: event_schedule(event_id=event_id), robust=True)


def sync_beat_after_migrate(sender: Any, **kwargs: Any) -> None:
    beat_schedule_sync()


def connect_post_migrate() -> None:
    # post_migrate is sent only for apps with models; the schedule lives in beat's tables.
    beat_app = apps.get_app_config("django_celery_beat")
    post_migrate.connect(sync_beat_after_migrate, sender=beat_app, dispatch_uid="notifier.beat_sync")
