"""Fire: claim, re-check, publish, record (DESIGN.md 4.5).

Two transactions. The first claims ``armed → sending`` with a conditional UPDATE and
writes one DeliveryAttempt per claimed row, so a duplicate task finds nothing to do
and every try is on record. The second locks the events ``FOR SHARE`` and the rows
``FOR UPDATE`` while it publishes: a move or cancel of the event waits for the
publish, or lands first and is seen here, so a stale notification never goes out.
"""

import logging
import os
import random
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from delivery.aws import sns_client
from delivery.errors import DeliveryError, classify
from delivery.messages import build_message
from delivery.models import DeliveryAttempt, Notification, NotificationState
from delivery.topics import topic_ensure_sns
from events.models import Event
from notifier.scheduling import lag_ms, notification_key, retry_delay_seconds

logger = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 1.0
RETRY_CAP_SECONDS = 60.0
Outcome = DeliveryAttempt.Outcome

# Locks in id order like every multi-row locker here; a row someone else holds is
# left alone (a claim wins it, a re-plan retires it, or reconcile hands it on).
_CLAIM_SQL = """
WITH claimable AS (
    SELECT id FROM delivery_notification
    WHERE id = ANY(%(ids)s) AND state = 'armed'
    ORDER BY id
    FOR UPDATE SKIP LOCKED
)
UPDATE delivery_notification n
SET state = 'sending', attempts = n.attempts + 1, updated_at = %(now)s
FROM claimable WHERE n.id = claimable.id
RETURNING n.id, n.attempts
"""


@dataclass
class FireResult:
    sent: list[int] = field(default_factory=list)
    retrying: list[tuple[int, float]] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # stale, cancelled or expired


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(*, notification_ids: list[int], now: datetime | None = None) -> dict[int, int]:
    """``armed → sending`` for the given ids; returns {id: attempt number} of rows won."""
    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, {"now": now, "ids": list(notification_ids)})
            claimed = dict(cursor.fetchall())
        worker = _worker_name()
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(notification_id=pk, number=number, started_at=now, worker=worker)
            for pk, number in claimed.items()
        )
    return claimed


def _finish(notification: Notification, outcome: str, error: str = "", **fields: object) -> None:
    now = timezone.now()
    Notification.objects.filter(pk=notification.pk, state=NotificationState.SENDING).update(updated_at=now, **fields)
    DeliveryAttempt.objects.filter(notification_id=notification.pk, number=notification.attempts).update(
        outcome=outcome, finished_at=now, error=error[:2000], sns_message_id=fields.get("sns_message_id", "")
    )


def _stale_reason(notification: Notification, event: Event, now: datetime) -> tuple[str, str] | None:
    if event.status == Event.Status.CANCELLED:
        return NotificationState.CANCELLED, "event cancelled"
    current = notification_key(event.pk, event.starts_at, event.effective_lead_minutes)
    if notification.key != current:
        return NotificationState.SUPERSEDED, "event moved or lead changed; replaced by a new notification"
    if now >= notification.deadline and not settings.NOTIFIER_SEND_LATE:
        return NotificationState.EXPIRED, "deadline passed before it could be sent"
    return None


def _publish(notification: Notification) -> str:
    event = notification.event
    topic_ensure_sns(topic=event.topic)
    message = build_message(notification, event, event.topic)
    try:
        return sns_client().publish(**message.publish_kwargs())["MessageId"]
    except SoftTimeLimitExceeded:
        raise  # the task is out of time: stop the batch, reconcile re-arms what is left
    except Exception as exc:
        raise classify(exc) from exc


def _retry_delay(notification: Notification, attempt: int) -> float | None:
    return retry_delay_seconds(
        attempt,
        base=RETRY_BASE_SECONDS,
        cap=RETRY_CAP_SECONDS,
        deadline=notification.deadline,
        now=timezone.now(),
        rand=random.random(),
    )


def _handle_error(notification: Notification, error: DeliveryError, result: FireResult) -> None:
    now = timezone.now()
    reason = str(error)
    delay = None
    if not error.permanent and notification.attempts < settings.NOTIFIER_MAX_ATTEMPTS:
        delay = _retry_delay(notification, notification.attempts)
    outcome = Outcome.PERMANENT_ERROR if error.permanent else Outcome.TRANSIENT_ERROR
    if delay is None:
        why = "permanent error" if error.permanent else "retries exhausted before the deadline"
        _finish(notification, outcome, reason, state=NotificationState.FAILED, last_error=f"{why}: {reason}")
        result.failed.append(notification.pk)
        logger.error(
            "ALERT notification failed id=%s key=%s attempts=%s reason=%s",
            notification.pk,
            notification.key,
            notification.attempts,
            reason,
        )
        return
    _finish(
        notification,
        outcome,
        reason,
        state=NotificationState.ARMED,
        next_attempt_at=now + timedelta(seconds=delay),
        last_error=reason,
    )
    result.retrying.append((notification.pk, delay))
    logger.warning(
        "notification retry id=%s attempt=%s in=%.1fs reason=%s", notification.pk, notification.attempts, delay, reason
    )


def _defer(notification: Notification, failing: DeliveryError, result: FireResult) -> bool:
    """SNS just failed for an earlier row of this batch: hand this one back untried, its
    claim undone so it spends no attempt. False when no retry fits before the deadline."""
    delay = _retry_delay(notification, max(notification.attempts - 1, 1))
    if delay is None:
        return False
    now = timezone.now()
    Notification.objects.filter(pk=notification.pk, state=NotificationState.SENDING).update(
        state=NotificationState.ARMED,
        attempts=F("attempts") - 1,
        next_attempt_at=now + timedelta(seconds=delay),
        last_error=f"deferred, SNS failing: {failing}",
        updated_at=now,
    )
    DeliveryAttempt.objects.filter(notification_id=notification.pk, number=notification.attempts).delete()
    result.retrying.append((notification.pk, delay))
    return True


def _close_retired_attempt(notification_id: int) -> None:
    """The row was retired (event moved or cancelled) between its claim and its publish."""
    DeliveryAttempt.objects.filter(notification_id=notification_id, outcome=Outcome.IN_PROGRESS).update(
        outcome=Outcome.SKIPPED_STALE, finished_at=timezone.now(), error="retired before publishing"
    )


def _lock(notification_id: int) -> Notification | None:
    """Lock one claimed row and its event (event first, as plan_event takes them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.id FROM events_event e JOIN delivery_notification n ON n.event_id = e.id "
            "WHERE n.id = %s FOR SHARE OF e",
            [notification_id],
        )
    return (
        Notification.objects.select_for_update(of=("self",))
        .select_related("event__topic")
        .filter(pk=notification_id, state=NotificationState.SENDING)
        .first()
    )


def _send_one(notification: Notification, failing: DeliveryError | None, result: FireResult) -> DeliveryError | None:
    """Check, publish and record one locked row; returns the SNS failure, if any."""
    stale = _stale_reason(notification, notification.event, timezone.now())
    if stale is not None:
        state, reason = stale
        outcome = Outcome.EXPIRED if state == NotificationState.EXPIRED else Outcome.SKIPPED_STALE
        _finish(notification, outcome, reason, state=state, last_error=reason)
        result.skipped.append(notification.pk)
        return failing
    if failing is not None and _defer(notification, failing, result):
        return failing
    try:
        message_id = _publish(notification)
    except DeliveryError as error:
        _handle_error(notification, error, result)
        return failing if error.permanent else error
    sent_at = timezone.now()
    lag = lag_ms(notification.due_at, sent_at)
    _finish(
        notification, Outcome.SENT,
        state=NotificationState.SENT, sent_at=sent_at, sns_message_id=message_id, lag_ms=lag, last_error="",
    )  # fmt: skip
    result.sent.append(notification.pk)
    logger.info(
        "sent notification=%s event=%s lag_ms=%s sns_message_id=%s", notification.pk, notification.event_id, lag,
        message_id,
    )  # fmt: skip
    return failing


def publish_claimed(*, notification_ids: list[int]) -> FireResult:
    """Publish claimed rows in due order, each in its own short transaction, so a
    failure on one never un-records the sends before it."""
    result = FireResult()
    failing: DeliveryError | None = None  # once SNS fails, spare it the rest of the batch
    ordered = Notification.objects.filter(pk__in=notification_ids).order_by("due_at", "pk")
    for notification_id in ordered.values_list("pk", flat=True):
        with transaction.atomic():
            notification = _lock(notification_id)
            if notification is None:
                _close_retired_attempt(notification_id)
            else:
                failing = _send_one(notification, failing, result)
    if result.retrying:
        _enqueue_retries(result.retrying)
    return result


def _enqueue_retries(retries: list[tuple[int, float]]) -> None:
    from notifier.tasks import fire_notifications

    for pk, delay in retries:
        fire_notifications.apply_async(args=[[pk]], countdown=delay)


def fire(*, notification_ids: list[int]) -> FireResult:
    claimed = claim(notification_ids=notification_ids)
    if not claimed:
        return FireResult()
    return publish_claimed(notification_ids=list(claimed))
