"""What one fire attempt writes to the ledger: its outcome, on the row and its attempt."""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from delivery.models import TERMINAL_STATES, DeliveryAttempt, Notification, NotificationState
from notifier.metrics import count_outcome

Outcome = DeliveryAttempt.Outcome


@dataclass
class FireResult:
    sent: list[int] = field(default_factory=list)
    retrying: list[tuple[int, float]] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # stale, cancelled or expired

    def forget(self, notification_id: int) -> None:
        self.sent = [pk for pk in self.sent if pk != notification_id]
        self.failed = [pk for pk in self.failed if pk != notification_id]
        self.skipped = [pk for pk in self.skipped if pk != notification_id]
        self.retrying = [(pk, delay) for pk, delay in self.retrying if pk != notification_id]


def finish(notification: Notification, outcome: str, error: str = "", **fields: object) -> None:
    now = timezone.now()
    changed = Notification.objects.filter(pk=notification.pk, state=NotificationState.SENDING).update(
        updated_at=now, **fields
    )
    state = fields.get("state")
    if changed and state in TERMINAL_STATES:
        transaction.on_commit(lambda: count_outcome(str(state)))
    DeliveryAttempt.objects.filter(notification_id=notification.pk, number=notification.attempts).update(
        outcome=outcome, finished_at=now, error=error[:2000], sns_message_id=fields.get("sns_message_id", "")
    )


def close_lost_attempt(notification_id: int, attempt: int) -> None:
    """The row left this attempt between claim and publish: retired (event moved or
    cancelled) or re-armed by reconcile."""
    DeliveryAttempt.objects.filter(notification_id=notification_id, number=attempt, outcome=Outcome.IN_PROGRESS).update(
        outcome=Outcome.SKIPPED_STALE, finished_at=timezone.now(), error="row left this attempt before publishing"
    )
