from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from notifier.services import window_plan

MAX_HOURS = 24 * 14


class Command(BaseCommand):
    help = "Plan notifications for events due in the next N hours (the nightly plan; lock-guarded)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours", type=int, default=None, help="window in hours (default NOTIFIER_PLAN_WINDOW_HOURS)"
        )

    def handle(self, *args: Any, hours: int | None, **options: Any) -> None:
        if hours is not None and not 1 <= hours <= MAX_HOURS:
            raise CommandError(f"--hours must be between 1 and {MAX_HOURS}, got {hours}")
        result = window_plan(hours=hours)
        if result.skipped:
            self.stdout.write("skipped: another process holds the plan lock")
            return
        self.stdout.write(f"planned {len(result.planned)} notification(s), retired {result.retired} stale one(s)")
