from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

from events.signals import event_changed
from notifier.beat import beat_schedule_sync
from notifier.beat_scheduler import schedule_changed_mark
from notifier.services import event_plan


@receiver(event_changed, dispatch_uid="notifier.event_changed")
def plan_changed_event(sender: object, event_id: int, **kwargs: Any) -> None:
    """Every create, move, lead change or cancel re-plans the event (sent after commit).

    A failure here is logged by the sender, and the arm pass's safety net (at least every
    NOTIFIER_RECONCILE_INTERVAL_SECONDS) plans the event anyway.
    """
    event_plan(event_id=event_id)


def sync_beat_after_migrate(sender: Any, **kwargs: Any) -> None:
    beat_schedule_sync()


def connect_post_migrate() -> None:
    # post_migrate is sent only for apps with models; the schedule lives in beat's tables.
    beat_app = apps.get_app_config("django_celery_beat")
    post_migrate.connect(sync_beat_after_migrate, sender=beat_app, dispatch_uid="notifier.beat_sync")


def _schedule_changed(sender: Any, **kwargs: Any) -> None:
    transaction.on_commit(schedule_changed_mark)


def connect_beat_schedule_changes() -> None:
    """Beat reads its schedule from the database only when told it changed
    (notifier.beat_scheduler): every save or delete of a schedule row tells it."""
    for model in (PeriodicTask, IntervalSchedule, CrontabSchedule, ClockedSchedule, SolarSchedule):
        for signal in (post_save, post_delete):
            signal.connect(_schedule_changed, sender=model, dispatch_uid=f"notifier.beat_changes.{signal}.{model}")
