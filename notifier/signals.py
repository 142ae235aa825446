from typing import Any

from django.apps import apps
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from events.signals import event_changed
from notifier.beat import beat_schedule_sync
from notifier.services import event_plan


@receiver(event_changed, dispatch_uid="notifier.event_changed")
def plan_changed_event(sender: object, event_id: int, **kwargs: Any) -> None:
    """Every create, move, lead change or cancel re-plans the event (sent after commit).

    A failure here is logged by the sender, and the next arm pass plans the event anyway.
    """
    event_plan(event_id=event_id)


def sync_beat_after_migrate(sender: Any, **kwargs: Any) -> None:
    beat_schedule_sync()


def connect_post_migrate() -> None:
    # post_migrate is sent only for apps with models; the schedule lives in beat's tables.
    beat_app = apps.get_app_config("django_celery_beat")
    post_migrate.connect(sync_beat_after_migrate, sender=beat_app, dispatch_uid="notifier.beat_sync")
