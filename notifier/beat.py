"""The beat schedule, kept in django-celery-beat's tables and synced from settings.

Runs after every ``migrate`` and from ``manage.py sync_beat_schedule``; idempotent.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from delivery.tasks import sms_opt_outs_task, sync_sns_task
from notifier.dashboard import SLOW_REFRESH_SECONDS
from notifier.tasks import arm_task, canary_task, console_refresh_task, plan_window_task, slo_check_task

PLAN_TASK_NAME = "notifier: nightly plan"
ARM_TASK_NAME = "notifier: arm and reconcile"
SLO_TASK_NAME = "notifier: lag SLO check"
SNS_SYNC_TASK_NAME = "delivery: sync SNS subscriptions"
SMS_OPT_OUT_TASK_NAME = "delivery: SMS opt-outs"
CANARY_TASK_NAME = "notifier: canary"
CONSOLE_TASK_NAME = "notifier: console figures"


def parse_cron(expression: str) -> dict[str, str]:
    fields = expression.split()
    if len(fields) != 5:
        raise ImproperlyConfigured(f"NOTIFIER_PLAN_CRON needs 5 fields (m h dom mon dow), got {expression!r}")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    return {
        "minute": minute,
        "hour": hour,
        "day_of_month": day_of_month,
        "month_of_year": month_of_year,
        "day_of_week": day_of_week,
    }


def _every(name: str, task: str, seconds: int) -> None:
    interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name=name,
        # A run that waited longer than one interval is superseded by the next one.
        defaults={"task": task, "interval": interval, "crontab": None, "enabled": True, "expire_seconds": seconds},
    )


def beat_schedule_sync() -> None:
    crontab, _ = CrontabSchedule.objects.get_or_create(timezone="UTC", **parse_cron(settings.NOTIFIER_PLAN_CRON))
    PeriodicTask.objects.update_or_create(
        name=PLAN_TASK_NAME,
        defaults={"task": plan_window_task.name, "crontab": crontab, "interval": None, "enabled": True},
    )
    _every(ARM_TASK_NAME, arm_task.name, settings.NOTIFIER_ARM_INTERVAL_SECONDS)
    _every(SLO_TASK_NAME, slo_check_task.name, settings.NOTIFIER_SLO_CHECK_INTERVAL_SECONDS)
    _every(SNS_SYNC_TASK_NAME, sync_sns_task.name, settings.NOTIFIER_SNS_SYNC_INTERVAL_SECONDS)
    _every(CONSOLE_TASK_NAME, console_refresh_task.name, SLOW_REFRESH_SECONDS)
    if settings.NOTIFIER_SMS_OPT_OUT_SWEEP_SECONDS > 0:
        _every(SMS_OPT_OUT_TASK_NAME, sms_opt_outs_task.name, settings.NOTIFIER_SMS_OPT_OUT_SWEEP_SECONDS)
    else:
        PeriodicTask.objects.filter(name=SMS_OPT_OUT_TASK_NAME).delete()
    if settings.NOTIFIER_CANARY_INTERVAL_SECONDS > 0:
        _every(CANARY_TASK_NAME, canary_task.name, settings.NOTIFIER_CANARY_INTERVAL_SECONDS)
    else:
        PeriodicTask.objects.filter(name=CANARY_TASK_NAME).delete()
