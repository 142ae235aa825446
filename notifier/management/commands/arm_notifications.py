from typing import Any

from django.core.management.base import BaseCommand

from notifier.services import horizon_arm


class Command(BaseCommand):
    help = "Run one arm + reconcile pass: enqueue fire tasks for notifications due within the horizon."

    def handle(self, *args: Any, **options: Any) -> None:
        result = horizon_arm()
        self.stdout.write(
            f"armed {len(result.armed)}, re-enqueued lost {len(result.requeued_lost)}, "
            f"recovered stuck {len(result.recovered_stuck)}, expired {len(result.expired)}"
        )
