"""Arm and reconcile: hand Celery only the next few minutes (docs/decisions/0002).

Rows are claimed with ``UPDATE ... WHERE state = ... FOR UPDATE SKIP LOCKED``, so two
arm passes never take the same row; their fire tasks are enqueued after the claim
commits, one per slot of NOTIFIER_FIRE_GROUP_MS (``notifier.enqueue``).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.json_logging import log_fields
from delivery.models import DeliveryAttempt, NotificationState
from delivery.selectors import canary_notification_ids
from notifier import reasons
from notifier.enqueue import fire_enqueue
from notifier.metrics import count_outcome
from notifier.scheduling import arm_cutoff
from notifier.slo import alert
from notifier.sql import fetch_all, literals

logger = logging.getLogger(__name__)

ARM_BATCH_LIMIT = 50_000

S = NotificationState
Attempt = DeliveryAttempt.Outcome

# Every statement below skips locked rows, so the pass never waits on a fire or a
# re-plan; what it skips it meets again at the next pass.
_EXPIRE_SQL = f"""
WITH overdue AS (
    SELECT id FROM delivery_notification
    WHERE state IN ({literals(S.PLANNED, S.ARMED)}) AND deadline <= %(now)s
    FOR UPDATE SKIP LOCKED
)
UPDATE delivery_notification n
SET state = {literals(S.EXPIRED)}, updated_at = %(now)s,
    last_error = %(reason)s || ' (due ' || to_char(n.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC)'
FROM overdue WHERE n.id = overdue.id
RETURNING n.id
"""

_ARM_SQL = f"""
WITH due AS (
    SELECT id FROM delivery_notification
    WHERE state = {literals(S.PLANNED)} AND due_at < %(cutoff)s {{extra}}
    ORDER BY due_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE delivery_notification n
SET state = {literals(S.ARMED)}, armed_at = %(now)s, next_attempt_at = GREATEST(n.due_at, %(now)s),
    updated_at = %(now)s
FROM due WHERE n.id = due.id
RETURNING n.id, n.next_attempt_at, n.deadline
"""

# The ETA task of an armed row should have run by now: it was lost.
_LOST_SQL = f"""
WITH lost AS (
    SELECT id FROM delivery_notification
    WHERE state = {literals(S.ARMED)} AND next_attempt_at < %(stale_before)s
    FOR UPDATE SKIP LOCKED
)
UPDATE delivery_notification n
SET next_attempt_at = %(now)s, updated_at = %(now)s
FROM lost WHERE n.id = lost.id
RETURNING n.id, n.next_attempt_at, n.deadline
"""

# A live publish holds its row lock, so SKIP LOCKED leaves it alone: what remains
# is a send whose worker died. Its outcome is unknown; re-arming may publish again,
# which consumers absorb through the notification id (and FIFO dedup id).
_STUCK_SQL = f"""
WITH stuck AS (
    SELECT id FROM delivery_notification
    WHERE state = {literals(S.SENDING)} AND updated_at < %(stuck_before)s
    FOR UPDATE SKIP LOCKED
)
UPDATE delivery_notification n
SET state = {literals(S.ARMED)}, next_attempt_at = %(now)s, updated_at = %(now)s, last_error = %(interrupted)s
FROM stuck WHERE n.id = stuck.id
RETURNING n.id, n.next_attempt_at, n.deadline
"""

_ABANDON_ATTEMPTS_SQL = f"""
UPDATE delivery_deliveryattempt
SET outcome = {literals(Attempt.ABANDONED)}, finished_at = %(now)s, error = %(abandoned)s
WHERE outcome = {literals(Attempt.IN_PROGRESS)} AND notification_id = ANY(%(ids)s)
"""


@dataclass
class ArmResult:
    armed: list[int] = field(default_factory=list)
    requeued_lost: list[int] = field(default_factory=list)
    recovered_stuck: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)


def arm(*, ids: list[int] | None = None, now: datetime | None = None) -> ArmResult:
    """Claim planned rows due within the horizon and enqueue their fire tasks."""
    now = now or timezone.now()
    params: dict[str, object] = {
        "now": now,
        "cutoff": arm_cutoff(now, settings.NOTIFIER_ARM_HORIZON_SECONDS),
        "limit": ARM_BATCH_LIMIT,
    }
    extra = ""
    if ids is not None:
        extra, params["ids"] = "AND id = ANY(%(ids)s)", ids
    result = ArmResult()
    with transaction.atomic():
        rows = fetch_all(_ARM_SQL.format(extra=extra), params)
        result.armed = [row[0] for row in rows]
        transaction.on_commit(lambda: _enqueue_and_log(armed=rows))
    return result


def _enqueue_and_log(**rows_by_step: list[tuple[int, datetime, datetime]]) -> None:
    """Enqueue the fire tasks (all in one pass: rows of a slot share a task), then one line
    per notification: its step between plan and fire, for following it in the logs."""
    fire_enqueue([row for rows in rows_by_step.values() for row in rows])
    for step, rows in rows_by_step.items():
        for pk, eta, _ in rows:
            fields = log_fields(notification_id=pk, eta=eta.isoformat())
            logger.info("%s notification=%s fire at %s", step, pk, eta.isoformat(), extra=fields)


def reconcile(*, now: datetime | None = None) -> ArmResult:
    """Expire what missed its deadline, re-enqueue lost tasks, recover stuck sends."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.NOTIFIER_RECONCILE_GRACE_SECONDS)
    params = {
        "now": now,
        "stale_before": now - grace,
        "stuck_before": now - timedelta(seconds=settings.NOTIFIER_SENDING_TIMEOUT_SECONDS),
        "reason": reasons.DEADLINE_PASSED,
        "interrupted": reasons.SEND_INTERRUPTED,
    }
    result = ArmResult()
    with transaction.atomic():
        if not settings.NOTIFIER_SEND_LATE:
            result.expired = [row[0] for row in fetch_all(_EXPIRE_SQL, params)]
        lost = fetch_all(_LOST_SQL, params)
        stuck = fetch_all(_STUCK_SQL, params)
        result.requeued_lost = [row[0] for row in lost]
        result.recovered_stuck = [row[0] for row in stuck]
        if stuck:
            with connection.cursor() as cursor:
                cursor.execute(
                    _ABANDON_ATTEMPTS_SQL,
                    {"now": now, "ids": result.recovered_stuck, "abandoned": reasons.ATTEMPT_ABANDONED},
                )
        transaction.on_commit(lambda: _enqueue_and_log(requeued_lost=lost, rearmed_stuck=stuck))
    if result.expired:
        count_outcome(str(S.EXPIRED), len(set(result.expired) - canary_notification_ids(result.expired)))
        alert(
            "notifications expired unsent",
            f"{len(result.expired)} notification(s) passed their deadline unsent: ids {result.expired[:50]}",
        )
    if result.requeued_lost or result.recovered_stuck:
        logger.warning(
            "reconcile re-enqueued lost=%s recovered_stuck=%s", result.requeued_lost[:50], result.recovered_stuck[:50]
        )
    return result


def arm_and_reconcile(*, now: datetime | None = None) -> ArmResult:
    """The periodic pass (NOTIFIER_ARM_INTERVAL_SECONDS): reconcile first, so overdue rows past their deadline expire
    instead of being armed."""
    fixed = reconcile(now=now)
    armed = arm(now=now)
    fixed.armed = armed.armed
    if armed.armed:
        logger.info("armed count=%s", len(armed.armed))
    return fixed
