from typing import Any

from django.core.management.base import BaseCommand

from notifier.beat import beat_schedule_sync


class Command(BaseCommand):
    help = "Create or update the beat schedule (nightly plan cron, arm interval) from settings."

    def handle(self, *args: Any, **options: Any) -> None:
        beat_schedule_sync()
        self.stdout.write("beat schedule in step with NOTIFIER_PLAN_CRON and NOTIFIER_ARM_INTERVAL_SECONDS")
