"""Thin Celery tasks: ids in, one service call."""

from celery import shared_task

from notifier import firing, services


@shared_task(name="notifier.plan_window")
def plan_window(hours: int | None = None) -> None:
    services.window_plan(hours=hours)


@shared_task(name="notifier.arm")
def arm() -> None:
    services.arm_pass()


@shared_task(name="notifier.fire")
def fire_notifications(notification_ids: list[int]) -> None:
    # Retries are scheduled by the fire service itself (bounded by each deadline),
    # so the task never uses Celery's retry; a crash is recovered by reconcile.
    firing.fire(notification_ids=notification_ids)
