"""Thin Celery tasks: ids in, one service call. Services never import this module:
they send fire tasks by name (``notifier.enqueue``)."""

from typing import Any

from celery import shared_task
from celery.signals import worker_process_init

from delivery.aws import sns_client
from notifier import dashboard, services, slo_gate
from notifier.canary_receive import canary_receive
from notifier.enqueue import CANARY_RECEIVE_TASK_NAME, CONSOLE_REFRESH_TASK_NAME, FIRE_TASK_NAME
from notifier.firing import fire


@worker_process_init.connect
def warm_sns_client(**kwargs: Any) -> None:
    """Build the SNS client when a pool process starts, not on its first due notification
    (client set-up costs ~100 ms, which would land on that notification's lag)."""
    sns_client()


@shared_task(name="notifier.plan_window")
def plan_window_task(hours: int | None = None) -> None:
    services.window_plan(hours=hours)


@shared_task(name="notifier.arm")
def arm_task() -> None:
    services.horizon_arm_when_needed()


@shared_task(name=FIRE_TASK_NAME)
def fire_task(notification_ids: list[int]) -> None:
    # Retries are scheduled by the fire service itself (bounded by each deadline),
    # so the task never uses Celery's retry; a crash is recovered by reconcile.
    fire(notification_ids=notification_ids)


@shared_task(name="notifier.slo_check")
def slo_check_task() -> None:
    slo_gate.slo_check_when_needed()


@shared_task(name="notifier.canary")
def canary_task() -> None:
    services.canary_tick()


@shared_task(name=CANARY_RECEIVE_TASK_NAME)
def canary_receive_task() -> None:
    canary_receive()


@shared_task(name=CONSOLE_REFRESH_TASK_NAME)
def console_refresh_task() -> None:
    dashboard.slow_figures_refresh_if_watched()
