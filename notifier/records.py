"""What one fire attempt writes to the ledger: its outcome, on the row and its attempt."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from delivery.models import TERMINAL_STATES, DeliveryAttempt, Notification, NotificationState
from events.models import CANARY_TOPIC_SLUG
from notifier.metrics import count_outcome, observe_lags
from notifier.sql import int_array, literals, text_array, timestamptz_array

Outcome = DeliveryAttempt.Outcome


@dataclass
class FireResult:
    sent: list[int] = field(default_factory=list)
    retrying: list[tuple[int, float]] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # stale, cancelled or expired


def is_canary(notification: Notification) -> bool:
    """The engine's own probe, left out of users' figures (the fire path has loaded the topic)."""
    return notification.event.topic.slug == CANARY_TOPIC_SLUG


def finish(notification: Notification, outcome: str, error: str = "", **fields: object) -> None:
    now = timezone.now()
    changed = Notification.objects.filter(pk=notification.pk, state=NotificationState.SENDING).update(
        updated_at=now, **fields
    )
    state = fields.get("state")
    if changed and state in TERMINAL_STATES and not is_canary(notification):
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


S = NotificationState

_SENT_SQL = f"""
UPDATE delivery_notification n
SET state = {literals(S.SENT)}, sent_at = v.sent_at, sns_message_id = v.message_id, lag_ms = v.lag_ms, last_error = '',
    updated_at = v.sent_at
FROM unnest(%(ids)s::bigint[], %(message_ids)s::text[], %(sent_at)s::timestamptz[], %(lags)s::integer[])
    AS v(id, message_id, sent_at, lag_ms)
WHERE n.id = v.id AND n.state = {literals(S.SENDING)}
RETURNING n.id
"""

_SENT_ATTEMPTS_SQL = f"""
UPDATE delivery_deliveryattempt a
SET outcome = {literals(Outcome.SENT)}, finished_at = v.sent_at, error = '', sns_message_id = v.message_id
FROM unnest(%(ids)s::bigint[], %(numbers)s::integer[], %(message_ids)s::text[], %(sent_at)s::timestamptz[])
    AS v(id, number, message_id, sent_at)
WHERE a.notification_id = v.id AND a.number = v.number
"""


def finish_sent(sent: list[tuple[Notification, str, datetime, int]]) -> None:
    """Record rows SNS accepted, given as (row, SNS message id, acknowledged at, lag in
    ms): two statements for all of them instead of two per row."""
    if not sent:
        return
    params = {
        "ids": int_array(row.pk for row, *_ in sent),
        "numbers": int_array(row.attempts for row, *_ in sent),
        "message_ids": text_array(message_id for _, message_id, _, _ in sent),
        "sent_at": timestamptz_array(acked_at for _, _, acked_at, _ in sent),
        "lags": int_array(lag for *_, lag in sent),
    }
    with connection.cursor() as cursor:
        cursor.execute(_SENT_SQL, params)
        changed = {pk for (pk,) in cursor.fetchall()}
        cursor.execute(_SENT_ATTEMPTS_SQL, params)
    lags = [lag for row, *_, lag in sent if row.pk in changed and not is_canary(row)]
    if lags:
        # Counted once committed, each row once (only rows this call moved to sent).
        transaction.on_commit(lambda: (count_outcome(str(NotificationState.SENT), len(lags)), observe_lags(lags)))
