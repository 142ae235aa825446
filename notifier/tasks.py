"""Thin Celery tasks: ids in, one service call."""

from typing import Any

from celery import shared_task
from celery.signals import worker_process_init

from delivery.aws import sns_client
from notifier import firing, services, slo


@worker_process_init.connect
def warm_sns_client(**kwargs: Any) -> None:
    """Build the SNS client when a pool process starts, not on its first due notification
    (client set-up costs ~100 ms, which would land on that notification's lag)."""
    sns_client()


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


@shared_task(name="notifier.slo_check")
def slo_check() -> None:
    slo.slo_check()
