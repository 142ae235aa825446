"""Plan: turn events into Notification rows, set-based and idempotent.

This SQL is the one implementation of the lead rule: due = start - lead (the event's,
else its topic's), computed on ``timestamptz`` so a DST change cannot shift it, due at
once when planned after that, and nothing at or past the start (the deadline).

The same two statements serve the nightly window and a single event: first retire
active rows that no longer match their event (moved, lead changed, cancelled), then
insert one row per live event keyed by ``notification_key``. ``ON CONFLICT`` makes
re-planning a no-op; for a single event, a row retired earlier is revived when the
event comes back to the same time.
"""

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from config.json_logging import log_fields
from delivery.models import ACTIVE_STATES, NotificationState
from delivery.selectors import canary_notification_ids
from events.models import MAX_LEAD_MINUTES, Event
from notifier import reasons
from notifier.metrics import count_outcome
from notifier.scheduling import KEY_TIMESTAMP_SQL_FORMAT
from notifier.sql import literals
from notifier.wake import wake_lower

logger = logging.getLogger(__name__)

S = NotificationState
CANCELLED_EVENT = f"e.status = {literals(Event.Status.CANCELLED)}"

LEAD_SQL = "COALESCE(e.lead_minutes, t.default_lead_minutes)"
# Start minus lead, before the "due at once when planned late" clamp (the forecast reads it too).
DUE_SQL = f"e.starts_at - make_interval(mins => {LEAD_SQL})"
# Mirrors scheduling.notification_key(); a test keeps the two in step.
KEY_SQL = (
    "encode(sha256(convert_to(e.id::text || '|' || "
    f"to_char(e.starts_at AT TIME ZONE 'UTC', '{KEY_TIMESTAMP_SQL_FORMAT}') || '|' || "
    f"({LEAD_SQL})::text, 'UTF8')), 'hex')"
)

# Rows are locked in id order (as the fire claim locks them), so two multi-row
# lockers never deadlock; the window pass skips rows a fire is busy with (the fire
# re-checks the event itself), plan_event waits for them.
_RETIRE_SQL = f"""
WITH stale AS (
    SELECT n.id, {CANCELLED_EVENT} AS cancelled FROM delivery_notification n
    JOIN events_event e ON e.id = n.event_id JOIN events_topic t ON t.id = e.topic_id
    WHERE n.state IN ({literals(*ACTIVE_STATES)})
      AND ({CANCELLED_EVENT} OR n.key <> {KEY_SQL})
      AND {{event_filter}}
    ORDER BY n.id
    FOR UPDATE OF n {{skip_locked}}
)
UPDATE delivery_notification n
SET state = CASE WHEN stale.cancelled THEN {literals(S.CANCELLED)} ELSE {literals(S.SUPERSEDED)} END,
    last_error = CASE WHEN stale.cancelled THEN %(cancelled_reason)s ELSE %(moved_reason)s END,
    updated_at = %(now)s
FROM stale WHERE n.id = stale.id
RETURNING n.id, n.state, n.event_id, n.key
"""

_INSERT_SQL = f"""
INSERT INTO delivery_notification
    (event_id, key, lead_minutes, due_at, deadline, state, attempts,
     sns_message_id, last_error, created_at, updated_at)
SELECT e.id, {KEY_SQL}, {LEAD_SQL},
       GREATEST({DUE_SQL}, %(now)s),
       e.starts_at, {literals(S.PLANNED)}, 0, '', '', %(now)s, %(now)s
FROM events_event e JOIN events_topic t ON t.id = e.topic_id
WHERE e.status = {literals(Event.Status.SCHEDULED)} AND e.starts_at > %(now)s AND {{event_filter}}
"""

# Set-based passes: DO NOTHING takes no lock on existing rows, so planning never waits
# for (or deadlocks with) a fire that holds them.
_PLAN_SQL = _INSERT_SQL + "ON CONFLICT (key) DO NOTHING RETURNING id, event_id, key, due_at"

# One event, under its row lock: an event moved back to an earlier time has that
# time's key again, so its superseded or cancelled row is revived. DO UPDATE locks the
# conflicting row, which is why only plan_event uses it.
_REPLAN_SQL = (
    _INSERT_SQL
    + f"""ON CONFLICT (key) DO UPDATE
SET state = {literals(S.PLANNED)}, due_at = EXCLUDED.due_at, armed_at = NULL, next_attempt_at = NULL,
    last_error = '', updated_at = EXCLUDED.updated_at
WHERE delivery_notification.state IN ({literals(S.SUPERSEDED, S.CANCELLED)})
RETURNING id, event_id, key, due_at"""
)

# Due within the window: lead varies per event, so filter on due time, not start.
_WINDOW_FILTER = f"{DUE_SQL} < %(until)s"
_EVENT_FILTER = "e.id = %(event_id)s"
# Catch-up within the arm horizon; the start bound lets the (status, starts_at) index work.
_HORIZON_FILTER = f"e.starts_at < %(until)s + interval '{MAX_LEAD_MINUTES} minutes' AND {_WINDOW_FILTER}"


@dataclass(frozen=True)
class PlanResult:
    planned: list[int]
    retired: int
    skipped: bool = False  # another process held the plan lock


def _plan(
    event_filter: str,
    params: dict[str, object],
    *,
    single_event: bool,
    retire: bool = True,
    topic: str | None = None,
    row_level: int = logging.INFO,
) -> PlanResult:
    retired = 0
    with connection.cursor() as cursor:
        if retire:
            skip_locked = "" if single_event else "SKIP LOCKED"
            cursor.execute(
                _RETIRE_SQL.format(event_filter=event_filter, skip_locked=skip_locked),
                {**params, "cancelled_reason": reasons.EVENT_CANCELLED, "moved_reason": reasons.EVENT_MOVED},
            )
            retired_rows = cursor.fetchall()
            canary = canary_notification_ids([row[0] for row in retired_rows]) if retired_rows else set()
            retired = len(retired_rows)
            # Users' figures: an operator's cancel of a canary event is not counted.
            retired_states = Counter(state for pk, state, _, _ in retired_rows if pk not in canary)
            for state, amount in retired_states.items():
                transaction.on_commit(lambda state=state, amount=amount: count_outcome(state, amount))
            transaction.on_commit(lambda: _log_retired(retired_rows, topic, row_level))
        insert = _REPLAN_SQL if single_event else _PLAN_SQL
        cursor.execute(insert.format(event_filter=event_filter), params)
        planned_rows = cursor.fetchall()
    transaction.on_commit(lambda: _log_planned(planned_rows, topic, row_level))
    if planned_rows:
        first_arm = min(row[3] for row in planned_rows) - timedelta(seconds=settings.NOTIFIER_ARM_HORIZON_SECONDS)
        transaction.on_commit(lambda: wake_lower(first_arm))
    return PlanResult(planned=[row[0] for row in planned_rows], retired=retired)


# One line per notification (on commit: only what really happened), so that
# jq 'select(.notification_id==N)' finds where each one's story starts. The nightly
# window writes them at DEBUG: 100k lines would cost it seconds (~30 us each here).
def _log_planned(rows: list[tuple[int, int, str, datetime]], topic: str | None, level: int) -> None:
    if not logger.isEnabledFor(level):
        return
    for pk, event_id, key, due_at in rows:
        fields = log_fields(notification_id=pk, key=key, event_id=event_id, topic=topic, due_at=due_at.isoformat())
        logger.log(level, "planned notification=%s event=%s due_at=%s", pk, event_id, due_at.isoformat(), extra=fields)


def _log_retired(rows: list[tuple[int, str, int, str]], topic: str | None, level: int) -> None:
    if not logger.isEnabledFor(level):
        return
    for pk, state, event_id, key in rows:
        fields = log_fields(notification_id=pk, key=key, event_id=event_id, topic=topic, state=state)
        logger.log(level, "retired notification=%s event=%s state=%s", pk, event_id, state, extra=fields)


def plan_window(*, hours: int | None = None, now: datetime | None = None) -> PlanResult:
    """Plan every event due within the next ``hours``. No lock: the nightly run takes the
    plan lock around it (``services.window_plan``)."""
    now = now or timezone.now()
    hours = settings.NOTIFIER_PLAN_WINDOW_HOURS if hours is None else hours
    with transaction.atomic():
        window = {"now": now, "until": now + timedelta(hours=hours)}
        result = _plan(_WINDOW_FILTER, window, single_event=False, row_level=logging.DEBUG)
    logger.info("plan window hours=%s planned=%s retired=%s", hours, len(result.planned), result.retired)
    return result


def plan_event(*, event_id: int, now: datetime | None = None) -> PlanResult:
    """Re-plan one event after create, move, lead change or cancel."""
    now = now or timezone.now()
    with transaction.atomic():
        # Serialise concurrent re-plans of the same event; each sees the latest row.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT t.slug FROM events_event e JOIN events_topic t ON t.id = e.topic_id WHERE e.id = %s "
                "FOR UPDATE OF e",
                [event_id],
            )
            found = cursor.fetchone()
            if found is None:
                return PlanResult(planned=[], retired=0)
        result = _plan(_EVENT_FILTER, {"now": now, "event_id": event_id}, single_event=True, topic=found[0])
    logger.info("plan event=%s planned=%s retired=%s", event_id, result.planned, result.retired)
    return result


def plan_horizon(*, now: datetime | None = None) -> PlanResult:
    """Safety net run by every arm pass: an event due soon that has no row (its
    on-commit plan failed, or it was written around the services) gets one now.
    Stale rows are left to plan_event and the fire-time check."""
    now = now or timezone.now()
    until = now + timedelta(seconds=settings.NOTIFIER_ARM_HORIZON_SECONDS)
    with transaction.atomic():
        result = _plan(_HORIZON_FILTER, {"now": now, "until": until}, single_event=False, retire=False)
    if result.planned:
        logger.warning("plan catch-up found unplanned events: notifications=%s", result.planned)
    return result
