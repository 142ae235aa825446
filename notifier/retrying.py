"""The retry policy of a failed publish: exponential backoff with full jitter, never
past the deadline; permanent errors and exhausted retries fail with an alert."""

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from config.json_logging import log_fields
from delivery.errors import DeliveryError
from delivery.models import DeliveryAttempt, Notification, NotificationState
from notifier.records import FireResult, Outcome, finish
from notifier.scheduling import retry_delay_seconds

logger = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 1.0
RETRY_CAP_SECONDS = 60.0


def _retry_delay(notification: Notification, attempt: int) -> float | None:
    return retry_delay_seconds(
        attempt,
        base=RETRY_BASE_SECONDS,
        cap=RETRY_CAP_SECONDS,
        deadline=notification.deadline,
        now=timezone.now(),
        rand=random.random(),
    )


def handle_error(notification: Notification, error: DeliveryError, result: FireResult) -> None:
    now = timezone.now()
    reason = str(error)
    delay = None
    if not error.permanent and notification.attempts < settings.NOTIFIER_MAX_ATTEMPTS:
        delay = _retry_delay(notification, notification.attempts)
    outcome = Outcome.PERMANENT_ERROR if error.permanent else Outcome.TRANSIENT_ERROR
    if delay is None:
        why = "permanent error" if error.permanent else "retries exhausted before the deadline"
        finish(notification, outcome, reason, state=NotificationState.FAILED, last_error=f"{why}: {reason}")
        result.failed.append(notification.pk)
        logger.error(
            "ALERT notification failed id=%s key=%s attempts=%s reason=%s",
            notification.pk,
            notification.key,
            notification.attempts,
            reason,
            extra=_fields(notification),
        )
        return
    finish(
        notification,
        outcome,
        reason,
        state=NotificationState.ARMED,
        next_attempt_at=now + timedelta(seconds=delay),
        last_error=reason,
    )
    result.retrying.append((notification.pk, delay))
    logger.warning(
        "notification retry id=%s attempt=%s in=%.1fs reason=%s",
        notification.pk,
        notification.attempts,
        delay,
        reason,
        extra=_fields(notification),
    )


def _fields(notification: Notification) -> dict[str, object]:
    return log_fields(
        notification_id=notification.pk,
        key=notification.key,
        event_id=notification.event_id,
        topic=notification.event.topic.slug,
        attempt=notification.attempts,
    )


def defer(notification: Notification, failing: DeliveryError, result: FireResult) -> bool:
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
