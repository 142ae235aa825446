from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from delivery.errors import classify
from delivery.sns_reconcile import sns_reconcile
from events.models import Topic


class Command(BaseCommand):
    help = "Reconcile SNS with the subscriptions both ways: create missing, fix changed, remove orphans."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
        parser.add_argument("--topic", action="append", default=None, help="only this topic slug (repeatable)")

    def handle(self, *args: Any, dry_run: bool, topic: list[str] | None, **options: Any) -> None:
        topics = None
        if topic:
            topics = list(Topic.objects.filter(slug__in=topic).order_by("slug"))
            missing = sorted(set(topic) - {t.slug for t in topics})
            if missing:
                raise CommandError(f"unknown topic(s): {', '.join(missing)}")
        try:
            changes = sns_reconcile(topics=topics)
        except Exception as exc:
            raise CommandError(f"cannot read SNS: {classify(exc)}") from exc
        failed = sum(change.sign == "!" for change in changes)
        for change in changes:
            self.stdout.write(str(change))
            error = None if dry_run else change.run()
            if error is not None:
                failed += 1
                self.stdout.write(f"  ! failed: {error}")
        if dry_run:
            self.stdout.write(f"{len(changes)} change(s) needed; dry run, nothing done")
            if failed:
                raise CommandError(f"{failed} topic(s) could not be checked; see above")
            return
        self.stdout.write(
            f"{len(changes) - failed} change(s) made, {failed} failed" if changes else "in step: 0 changes"
        )
        if failed:
            raise CommandError(f"{failed} of {len(changes)} change(s) failed; see above")
