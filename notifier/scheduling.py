"""Pure time math of the schedule: no database, no clock of its own.

Everything is computed in UTC, so a DST change in any local zone cannot shift a
due time: 10 minutes before an instant is the same instant whatever the zone.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# An ETA task must stay on the broker at least this long past the farthest due time
# before Redis would re-deliver it (it also covers a slow fire batch).
VISIBILITY_MARGIN_SECONDS = 600


def require_aware(value: datetime, name: str = "datetime") -> datetime:
    """Refuse naive datetimes: a wall clock without an offset is ambiguous."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


def to_utc(value: datetime) -> datetime:
    return require_aware(value).astimezone(UTC)


def utc_iso(value: datetime) -> str:
    """Canonical UTC ISO-8601 with microseconds, as the notification key uses it.

    The same text is produced in SQL by ``KEY_TIMESTAMP_SQL_FORMAT``.
    """
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# to_char() format that yields exactly what utc_iso() does, for set-based planning.
KEY_TIMESTAMP_SQL_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def notification_key(event_id: int, starts_at: datetime, lead_minutes: int) -> str:
    """Identity of one notification: a move or a lead change gives a new key."""
    material = f"{event_id}|{utc_iso(starts_at)}|{lead_minutes}"
    return hashlib.sha256(material.encode()).hexdigest()


def nominal_due_at(starts_at: datetime, lead_minutes: int) -> datetime:
    return to_utc(starts_at) - timedelta(minutes=lead_minutes)


@dataclass(frozen=True)
class PlannedTimes:
    due_at: datetime
    deadline: datetime
    late: bool  # planned after its nominal due time: it is due at once


def plan_times(starts_at: datetime, lead_minutes: int, now: datetime) -> PlannedTimes | None:
    """When to notify for an event starting at ``starts_at``, seen at ``now``.

    Past the deadline (the event's start) nothing is planned; past the nominal due
    time but before the deadline the notification is due now ("starts in 4 minutes").
    """
    if lead_minutes < 0:
        raise ValueError("lead_minutes must not be negative")
    deadline = to_utc(starts_at)
    now = to_utc(now)
    if now >= deadline:
        return None
    due = nominal_due_at(starts_at, lead_minutes)
    if due < now:
        return PlannedTimes(due_at=now, deadline=deadline, late=True)
    return PlannedTimes(due_at=due, deadline=deadline, late=False)


def arm_cutoff(now: datetime, horizon_seconds: int) -> datetime:
    """Rows due before this instant are handed to Celery as ETA tasks now."""
    return to_utc(now) + timedelta(seconds=horizon_seconds)


def visibility_timeout_seconds(horizon_seconds: int) -> int:
    """Broker visibility timeout derived from the arm horizon (DESIGN.md 4.3)."""
    return int(horizon_seconds) + VISIBILITY_MARGIN_SECONDS


def lag_ms(due_at: datetime, sent_at: datetime) -> int:
    """How late a send was acknowledged; negative would mean early."""
    return round((to_utc(sent_at) - to_utc(due_at)).total_seconds() * 1000)


def retry_delay_seconds(
    attempt: int, *, base: float, cap: float, deadline: datetime, now: datetime, rand: float
) -> float | None:
    """Exponential backoff with full jitter, or None when it would pass the deadline.

    ``rand`` is a number in [0, 1) supplied by the caller so this stays pure.
    """
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    delay = ceiling * rand
    if to_utc(now) + timedelta(seconds=delay) >= to_utc(deadline):
        return None
    return delay
