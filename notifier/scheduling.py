"""Pure time math of the schedule: no database, no clock of its own.

The lead/due/deadline rule itself runs in SQL (``notifier/planning.py``), where the
rows are written; what is here serves the fire and arm paths.
"""

import hashlib
from datetime import datetime, timedelta

from config.utc import to_utc, utc_iso

# to_char() format that yields exactly what utc_iso() does, for set-based planning.
KEY_TIMESTAMP_SQL_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def notification_key(event_id: int, starts_at: datetime, lead_minutes: int) -> str:
    """Identity of one notification: a move or a lead change gives a new key.

    The plan writes it in SQL (``planning.KEY_SQL``); the fire path recomputes it here
    to see whether a row went stale. A test keeps the two in step, row by row.
    """
    material = f"{event_id}|{utc_iso(starts_at)}|{lead_minutes}"
    return hashlib.sha256(material.encode()).hexdigest()


def arm_cutoff(now: datetime, horizon_seconds: int) -> datetime:
    """Rows due before this instant are handed to Celery as ETA tasks now."""
    return to_utc(now) + timedelta(seconds=horizon_seconds)


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
