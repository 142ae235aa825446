"""What on-call may do to a notification that did not go out: "retry now" a failed one,
"send anyway" an expired one (issue 14, point 4).

Neither publishes here. Each moves its rows back to ``armed`` with a conditional UPDATE
on their state and hands them to the normal fire task on commit (``notifier.enqueue``),
so the publish, its ``DeliveryAttempt`` and its stale checks are the fire path's own. A
double click, or two operators at once, change a row once: the second UPDATE finds it
``armed`` (or ``sent``) and leaves it alone, so one fire task is enqueued and the fire
claim (``armed → sending``) publishes once. A row already ``sent`` is never touched.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from delivery.models import Notification, NotificationState
from events.models import Event
from notifier.enqueue import fire_enqueue
from notifier.planning import KEY_SQL
from notifier.scheduling import notification_key
from notifier.sql import fetch_all, literals
from notifier.wake import wake_lower

S = NotificationState

# How long a "send anyway" row may wait for a worker. The operator's action stands in
# for the deadline the row missed: it becomes now + this window, so the fire path's
# deadline check, the task's ``expires`` and reconcile's expiry all let it through once,
# and only once: if no worker sends it within the window (workers down again), reconcile
# expires it again, and it takes a new "send anyway" to try once more.
SEND_ANYWAY_WINDOW_SECONDS = 300

# Only rows that are still their event's current send: a cancelled event's rows stay as
# they are (sending would announce what was called off), and so do a moved event's old
# ones (the event's current row is the one to send). The fire path checks both again.
_CURRENT = f"""
    AND e.id = n.event_id AND t.id = e.topic_id
    AND e.status = {literals(Event.Status.SCHEDULED)} AND n.key = {KEY_SQL}
"""

_RETRY_SQL = f"""
UPDATE delivery_notification n
SET state = {literals(S.ARMED)}, armed_at = %(now)s, next_attempt_at = %(now)s, updated_at = %(now)s
FROM events_event e, events_topic t
WHERE n.id = ANY(%(ids)s) AND n.state = {literals(S.FAILED)} AND n.deadline > %(now)s {_CURRENT}
RETURNING n.id, n.next_attempt_at, n.deadline
"""

_SEND_ANYWAY_SQL = f"""
UPDATE delivery_notification n
SET state = {literals(S.ARMED)}, armed_at = %(now)s, next_attempt_at = %(now)s, deadline = %(deadline)s,
    updated_at = %(now)s
FROM events_event e, events_topic t
WHERE n.id = ANY(%(ids)s) AND n.state = {literals(S.EXPIRED)} {_CURRENT}
RETURNING n.id, n.next_attempt_at, n.deadline
"""


@dataclass
class ActionResult:
    done: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # id -> why it was left unchanged


def _event_gone(row: Notification) -> str | None:
    event = row.event
    if event.status == Event.Status.CANCELLED:
        return "its event is cancelled"
    if row.key != notification_key(event.pk, event.starts_at, event.effective_lead_minutes):
        return "its event moved: the event's current notification is the one to send"
    return None


def _why_not_retried(row: Notification, now: datetime) -> str:
    if row.state != S.FAILED:
        return f"it is {row.state}, not failed"
    if row.deadline <= now:
        return f"its deadline passed at {row.deadline:%Y-%m-%d %H:%M:%S} UTC"
    return _event_gone(row) or "it changed meanwhile"


def _why_not_sent_anyway(row: Notification, now: datetime) -> str:
    if row.state != S.EXPIRED:
        return f"it is {row.state}, not expired"
    return _event_gone(row) or "it changed meanwhile"


def _rearm(
    sql: str, ids: list[int], params: dict[str, object], why_not: Callable[[Notification, datetime], str]
) -> ActionResult:
    ids = sorted(set(ids))
    now: datetime = params["now"]  # type: ignore[assignment]
    with transaction.atomic():
        rows = fetch_all(sql, {**params, "ids": ids})
        transaction.on_commit(lambda: fire_enqueue(rows))
        if rows:  # live again: the arm pass must look for a lost task after the grace
            lost_check = now + timedelta(seconds=settings.NOTIFIER_RECONCILE_GRACE_SECONDS)
            transaction.on_commit(lambda: wake_lower(lost_check))
    done = sorted(row[0] for row in rows)
    left = Notification.objects.select_related("event__topic").filter(pk__in=set(ids) - set(done)).order_by("pk")
    refused = {row.pk: why_not(row, now) for row in left}
    refused.update({pk: "no such notification" for pk in set(ids) - set(done) - set(refused)})
    return ActionResult(done=done, refused=refused)


def notifications_retry_now(*, notification_ids: list[int], now: datetime | None = None) -> ActionResult:
    """``failed`` rows whose deadline has not passed go back to ``armed``, due now; any
    other row is refused and left as it is."""
    now = now or timezone.now()
    return _rearm(_RETRY_SQL, notification_ids, {"now": now}, _why_not_retried)


def notifications_send_anyway(*, notification_ids: list[int], now: datetime | None = None) -> ActionResult:
    """``expired`` rows of scheduled events go back to ``armed``, due now, with a deadline
    of now + SEND_ANYWAY_WINDOW_SECONDS; any other row is refused and left as it is."""
    now = now or timezone.now()
    params = {"now": now, "deadline": now + timedelta(seconds=SEND_ANYWAY_WINDOW_SECONDS)}
    return _rearm(_SEND_ANYWAY_SQL, notification_ids, params, _why_not_sent_anyway)


def send_anyway_candidates(*, notification_ids: list[int]) -> tuple[list[Notification], dict[Notification, str]]:
    """What a confirmation page lists: the rows "send anyway" would send, and the others
    with why not."""
    rows = Notification.objects.select_related("event__topic").filter(pk__in=notification_ids).order_by("pk")
    eligible, others = [], {}
    now = timezone.now()
    for row in rows:
        why_not = _why_not_sent_anyway(row, now) if row.state != S.EXPIRED else _event_gone(row)
        if why_not is None:
            eligible.append(row)
        else:
            others[row] = why_not
    return eligible, others
