"""The beat's minute SLO check, skipped while an idle engine has nothing it could report
(issue 15, docs/decisions/0019)."""

import json
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from notifier.metrics import COUNTERS_KEY
from notifier.redis_client import redis_client
from notifier.slo import slo_check
from notifier.wake import quiet

# The outcome counters and time of the last check that read the ledger.
LAST_FULL_CHECK_KEY = "notifier:slo:last_full_check"
# An idle engine's check reads the ledger at least this often all the same.
QUIET_CHECK_SECONDS = 600


def slo_check_when_needed(*, now: datetime | None = None) -> list[str] | None:
    """The beat's minute check, skipped (None) while nothing can have changed what it
    reports: no outcome counted since the last check, nothing live that could be overdue
    (``notifier.wake.quiet``), no canary to judge, and a check read the ledger within
    QUIET_CHECK_SECONDS. The skipped minutes are covered by the next check's window."""
    now = now or timezone.now()
    client = redis_client()
    counted = json.dumps(sorted((name.decode(), int(value)) for name, value in client.hgetall(COUNTERS_KEY).items()))
    last = client.get(LAST_FULL_CHECK_KEY)
    if last is not None and settings.NOTIFIER_CANARY_INTERVAL_SECONDS == 0 and quiet(now):
        last_counted, last_at = json.loads(last)
        if last_counted == counted and now.timestamp() - last_at < QUIET_CHECK_SECONDS:
            return None
    raised = slo_check(now=now)
    client.set(LAST_FULL_CHECK_KEY, json.dumps([counted, now.timestamp()]))
    return raised
