"""Fire: claim, re-check, publish, record (DESIGN.md 4.5).

Two transactions. The first claims ``armed → sending`` with a conditional UPDATE and
writes one DeliveryAttempt per claimed row, so a duplicate task finds nothing to do
and every try is on record. The second locks the events ``FOR SHARE`` and the rows
``FOR UPDATE`` while it publishes: a move or cancel of the event waits for the
publish, or lands first and is seen here, so a stale notification never goes out.
"""

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from delivery.aws import sns_client
from delivery.errors import DeliveryError, classify
from delivery.messages import build_message
from delivery.models import DeliveryAttempt, Notification, NotificationState
from delivery.topics import topic_ensure_sns
from events.models import Event
from notifier.records import FireResult, Outcome, close_lost_attempt, finish
from notifier.retrying import defer, enqueue_retries, handle_error
from notifier.scheduling import lag_ms, notification_key

logger = logging.getLogger(__name__)

DB_RETRIES = 5
DB_RETRY_PAUSE_SECONDS = 0.5

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


def _lock(notification_id: int, attempt: int) -> Notification | None:
    """Lock one claimed row and its event (event first, as plan_event takes them).

    Only while the row is still on the attempt this worker claimed: if reconcile took
    it back and another worker claimed it since, that worker owns it now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.id FROM events_event e JOIN delivery_notification n ON n.event_id = e.id "
            "WHERE n.id = %s FOR SHARE OF e",
            [notification_id],
        )
    return (
        Notification.objects.select_for_update(of=("self",))
        .select_related("event__topic")
        .filter(pk=notification_id, state=NotificationState.SENDING, attempts=attempt)
        .first()
    )


@dataclass
class _Row:
    """One claimed row on its way out; ``message_id`` is set once SNS accepted it."""

    notification_id: int
    attempt: int
    message_id: str | None = None


def _send_one(
    notification: Notification, row: _Row, failing: DeliveryError | None, result: FireResult
) -> DeliveryError | None:
    """Check, publish and record one locked row; returns the SNS failure, if any."""
    if row.message_id is None:  # not yet published (a retry after a DB error skips this)
        stale = _stale_reason(notification, notification.event, timezone.now())
        if stale is not None:
            state, reason = stale
            outcome = Outcome.EXPIRED if state == NotificationState.EXPIRED else Outcome.SKIPPED_STALE
            finish(notification, outcome, reason, state=state, last_error=reason)
            result.skipped.append(notification.pk)
            return failing
        if failing is not None and defer(notification, failing, result):
            return failing
        try:
            row.message_id = _publish(notification)
        except DeliveryError as error:
            handle_error(notification, error, result)
            return failing if error.permanent else error
    sent_at = timezone.now()
    lag = lag_ms(notification.due_at, sent_at)
    finish(
        notification, Outcome.SENT,
        state=NotificationState.SENT, sent_at=sent_at, sns_message_id=row.message_id, lag_ms=lag, last_error="",
    )  # fmt: skip
    result.sent.append(notification.pk)
    logger.info(
        "sent notification=%s event=%s lag_ms=%s sns_message_id=%s", notification.pk, notification.event_id, lag,
        row.message_id,
    )  # fmt: skip
    return failing


def _process(row: _Row, failing: DeliveryError | None, result: FireResult) -> DeliveryError | None:
    """One row in its own transaction. If the database connection drops, reconnect and
    go on from where it broke: a row SNS already accepted is recorded, not re-published."""
    for try_number in range(1, DB_RETRIES + 1):
        try:
            with transaction.atomic():
                notification = _lock(row.notification_id, row.attempt)
                if notification is None:
                    close_lost_attempt(row.notification_id, row.attempt)
                    return failing
                return _send_one(notification, row, failing, result)
        except (OperationalError, InterfaceError) as exc:
            result.forget(row.notification_id)  # what that transaction recorded is gone
            if try_number == DB_RETRIES:
                raise
            logger.warning(
                "database lost while firing notification=%s published=%s (%s); reconnecting",
                row.notification_id, row.message_id is not None, exc,
            )  # fmt: skip
            connection.close()
            time.sleep(DB_RETRY_PAUSE_SECONDS * try_number)
    return failing


def publish_claimed(*, claimed: dict[int, int]) -> FireResult:
    """Publish claimed rows ({id: attempt}) in due order, each in its own short
    transaction, so a failure on one never un-records the sends before it."""
    result = FireResult()
    failing: DeliveryError | None = None  # once SNS fails, spare it the rest of the batch
    ordered = Notification.objects.filter(pk__in=list(claimed)).order_by("due_at", "pk")
    for notification_id in ordered.values_list("pk", flat=True):
        failing = _process(_Row(notification_id, claimed[notification_id]), failing, result)
    if result.retrying:
        enqueue_retries(result.retrying)
    return result


def fire(*, notification_ids: list[int]) -> FireResult:
    claimed = claim(notification_ids=notification_ids)
    if not claimed:
        return FireResult()
    return publish_claimed(claimed=claimed)
