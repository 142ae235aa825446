from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.masking import scrub_contact_data
from delivery.errors import DeliveryError, classify
from delivery.sns_reconcile import Change, sns_sync
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
            outcome = sns_sync(topics=topics, dry_run=dry_run, report=self._report)
        except Exception as exc:
            raise CommandError(f"cannot read SNS: {classify(exc)}") from exc
        if dry_run:
            self.stdout.write(f"{outcome.changes} change(s) needed; dry run, nothing done")
            if outcome.failed:
                raise CommandError(f"{outcome.failed} topic(s) could not be checked; see above")
            return
        done = outcome.changes - outcome.failed
        self.stdout.write(
            f"{done} change(s) made, {outcome.failed} failed" if outcome.changes else "in step: 0 changes"
        )
        if outcome.failed:
            raise CommandError(f"{outcome.failed} of {outcome.changes} change(s) failed; see above")

    def _report(self, change: Change, error: DeliveryError | None) -> None:
        # Not a log line, so no logging filter: a change names its endpoint masked, and
        # an SNS error quoting one is masked here.
        self.stdout.write(scrub_contact_data(str(change)))
        if error is not None:
            self.stdout.write(f"  ! failed: {scrub_contact_data(str(error))}")
