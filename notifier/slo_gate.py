"""The beat's minute SLO check, skipped while an idle engine has nothing it could report
(issue 15, docs/decisions/0019)."""

import json
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from notifier.metrics import outcome_counts
from notifier.redis_client import redis_client
from notifier.slo import slo_check
from notifier.wake import quiet

# The outcome counters and time of the last check that read the ledger.
LAST_FULL_CHECK_KEY = "notifier:slo:last_full_check"
# An idle engine's check reads the ledger at least this often all the same.
QUIET_CHECK_SECONDS = 600


def _outcomes_counted() -> str:
    return json.dumps(sorted(outcome_counts().items()))


def slo_check_due(now: datetime) -> bool:
    """False while nothing can have changed what the check reports: no outcome counted
    since the last check that read the ledger, nothing live that could be overdue
    (``notifier.wake.quiet``), no canary to judge, and that check is less than
    QUIET_CHECK_SECONDS old. Beat asks too, so that no worker is woken to skip."""
    if settings.NOTIFIER_CANARY_INTERVAL_SECONDS or not quiet(now):
        return True
    last = redis_client().get(LAST_FULL_CHECK_KEY)
    if last is None:
        return True
    last_counted, last_at = json.loads(last)
    return last_counted != _outcomes_counted() or now.timestamp() - last_at >= QUIET_CHECK_SECONDS


def slo_check_when_needed(*, now: datetime | None = None) -> list[str] | None:
    """The beat's minute check, skipped (None) while ``slo_check_due`` says nothing can
    have changed; the skipped minutes are covered by the next check's window."""
    now = now or timezone.now()
    if not slo_check_due(now):
        return None
    counted = _outcomes_counted()
    raised = slo_check(now=now)
    redis_client().set(LAST_FULL_CHECK_KEY, json.dumps([counted, now.timestamp()]))
    return raised
