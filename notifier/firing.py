"""Fire: claim, re-check, publish, record (docs/decisions/0001 and 0005).

Two transactions. The first claims ``armed → sending`` with a conditional UPDATE and
writes one DeliveryAttempt per claimed row, so a duplicate task finds nothing to do
and every try is on record. The second locks the events ``FOR SHARE`` and the rows
``FOR UPDATE`` while it publishes: a move or cancel of an event waits for the
publish, or lands first and is seen here, so a stale notification never goes out.

The rows go out in PublishBatch calls of ten messages of one topic, several calls at
once on a few threads to overlap SNS round trips, each sent as soon as it is rendered,
and are recorded with a few set-based statements: a burst costs the CPU of rendering,
not of round trips.
"""

import logging
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from config.json_logging import log_fields, worker_name
from delivery.errors import DeliveryError
from delivery.inbox_wake import inbox_wake_publish
from delivery.messages import OutgoingMessage, build_message
from delivery.models import DeliveryAttempt, Notification, NotificationState
from delivery.publishing import Reply, batches, publish_batch
from delivery.rendering import Renderer
from delivery.selectors import renderer_for_topic
from delivery.topics import topic_ensure_sns
from events.models import Event, Topic
from notifier import reasons
from notifier.enqueue import retries_enqueue
from notifier.records import FireResult, Outcome, close_lost_attempt, finish, finish_sent
from notifier.retrying import defer, handle_error
from notifier.scheduling import lag_ms, notification_key
from notifier.sql import fetch_all, int_array, literals, loaded

logger = logging.getLogger(__name__)

DB_RETRIES = 5
DB_RETRY_PAUSE_SECONDS = 0.5

# Locks in id order like every multi-row locker here; a row someone else holds is
# left alone (a claim wins it, a re-plan retires it, or reconcile hands it on). The
# attempts are written by the same statement: one round trip and no model instances
# for a claim of hundreds (issue 15).
_CLAIM_SQL = f"""
WITH claimable AS (
    SELECT id FROM delivery_notification
    WHERE id = ANY(%(ids)s::bigint[]) AND state = {literals(NotificationState.ARMED)}
    ORDER BY id
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE delivery_notification n
    SET state = {literals(NotificationState.SENDING)}, attempts = n.attempts + 1, updated_at = %(now)s
    FROM claimable WHERE n.id = claimable.id
    RETURNING n.id, n.attempts
), logged AS (
    INSERT INTO delivery_deliveryattempt (notification_id, number, started_at, finished_at, outcome, error,
                                          sns_message_id, worker)
    SELECT id, attempts, %(now)s, NULL, {literals(DeliveryAttempt.Outcome.IN_PROGRESS)}, '', '', %(worker)s
    FROM claimed
)
SELECT id, attempts FROM claimed
"""


def _fields(row: Notification, attempt: int, **more: object) -> dict[str, object]:
    """The log fields of a line about a row being fired (its event and topic are loaded)."""
    return log_fields(
        notification_id=row.pk, key=row.key, event_id=row.event_id, topic=row.event.topic.slug, attempt=attempt, **more
    )


def claim(*, notification_ids: list[int], now: datetime | None = None) -> dict[int, int]:
    """``armed → sending`` for the given ids; returns {id: attempt number} of rows won."""
    now = now or timezone.now()
    # The worker as its log lines name it, on each attempt.
    params = {"now": now, "ids": int_array(notification_ids), "worker": worker_name()[:200]}
    return dict(fetch_all(_CLAIM_SQL, params))  # one statement: the claim and its attempts commit together


def _stale_reason(notification: Notification, event: Event, now: datetime) -> tuple[str, str] | None:
    if event.status == Event.Status.CANCELLED:
        return NotificationState.CANCELLED, reasons.EVENT_CANCELLED
    current = notification_key(event.pk, event.starts_at, event.effective_lead_minutes)
    if notification.key != current:
        return NotificationState.SUPERSEDED, reasons.EVENT_MOVED
    if now >= notification.deadline and not settings.NOTIFIER_SEND_LATE:
        return NotificationState.EXPIRED, reasons.DEADLINE_PASSED
    return None


# What firing reads of a row and its event: the other columns (five more timestamps a
# row) cost their decoding on every row of a burst and are never looked at here. Rows
# are locked in id order like every multi-row locker here.
_ROW_COLUMNS = ("id", "key", "lead_minutes", "due_at", "deadline", "state", "attempts", "event_id")
_EVENT_COLUMNS = ("id", "topic_id", "title", "description", "starts_at", "lead_minutes", "status")
_LOCK_SQL = f"""
SELECT {", ".join(f"n.{column}" for column in _ROW_COLUMNS)}, {", ".join(f"e.{column}" for column in _EVENT_COLUMNS)}
FROM delivery_notification n JOIN events_event e ON e.id = n.event_id
WHERE n.id = ANY(%(ids)s::bigint[]) AND n.state = {literals(NotificationState.SENDING)}
ORDER BY n.id
FOR UPDATE OF n
"""
_EVENT_FIELD = Notification._meta.get_field("event")


def _lock(claimed: dict[int, int]) -> list[Notification]:
    """Lock claimed rows and their events (events first, each in id order, as every
    multi-row locker here takes them); returns the rows by topic then due time, the
    order they are published in.

    Only rows still on the attempt this worker claimed: if reconcile took one back and
    another worker claimed it since, that worker owns it now."""
    ids = int_array(claimed)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.id FROM events_event e WHERE e.id IN "
            "(SELECT event_id FROM delivery_notification WHERE id = ANY(%s::bigint[])) ORDER BY e.id FOR SHARE",
            [ids],
        )
    mine = []
    width = len(_ROW_COLUMNS)
    for values in fetch_all(_LOCK_SQL, {"ids": ids}):
        row = loaded(Notification, _ROW_COLUMNS, values[:width])
        if row.attempts == claimed[row.pk]:
            _EVENT_FIELD.set_cached_value(row, loaded(Event, _EVENT_COLUMNS, values[width:]))
            mine.append(row)
    # One instance per topic, not one per row (a burst is hundreds of rows of a few topics).
    topics = Topic.objects.in_bulk({row.event.topic_id for row in mine})
    for row in mine:
        row.event.topic = topics[row.event.topic_id]
    return sorted(mine, key=lambda row: (row.event.topic_id, row.due_at, row.pk))


def _fresh(notifications: list[Notification], result: FireResult) -> list[Notification]:
    """Finish the rows that must not go out any more; returns the others."""
    now = timezone.now()
    fresh = []
    for notification in notifications:
        stale = _stale_reason(notification, notification.event, now)
        if stale is None:
            fresh.append(notification)
            continue
        state, reason = stale
        outcome = Outcome.EXPIRED if state == NotificationState.EXPIRED else Outcome.SKIPPED_STALE
        finish(notification, outcome, reason, state=state, last_error=reason)
        result.skipped.append(notification.pk)
        fields = _fields(notification, notification.attempts, state=state)
        logger.info("not sent notification=%s state=%s: %s", notification.pk, state, reason, extra=fields)
    return fresh


def _messages(
    notifications: list[Notification], result: FireResult, display_zones: ExitStack
) -> Iterator[OutgoingMessage]:
    """Render each row's message as it is asked for (a topic's templates loaded once, its
    display zone entered once on ``display_zones``); a row that cannot be rendered, or
    whose topic SNS cannot provide, fails or retries here."""
    renderers: dict[int, Renderer] = {}
    topics_down: dict[int, DeliveryError] = {}
    for notification in notifications:
        topic = notification.event.topic
        try:
            if topic.pk in topics_down:
                raise topics_down[topic.pk]
            if topic.pk not in renderers:
                topic_ensure_sns(topic=topic)
                renderers[topic.pk] = display_zones.enter_context(renderer_for_topic(topic.pk).display_zone())
            message = build_message(notification, notification.event, topic, renderers[topic.pk])
        except DeliveryError as error:
            if topic.pk not in renderers:
                topics_down[topic.pk] = error
            handle_error(notification, error, result)
            continue
        yield message


_pool: tuple[int, ThreadPoolExecutor] | None = None


def _publisher_pool() -> ThreadPoolExecutor:
    """Threads that overlap SNS round trips (HTTP only: they never touch the database);
    made in the process that uses them, as threads do not survive a prefork fork."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(settings.NOTIFIER_FIRE_THREADS, thread_name_prefix="publish"))
    return _pool[1]


def _acknowledged(batch: list[OutgoingMessage]) -> dict[int, tuple[Reply, datetime]]:
    replies = publish_batch(batch)
    acked_at = timezone.now()
    return {pk: (reply, acked_at) for pk, reply in replies.items()}


def _sns_down(replies: dict[int, tuple[Reply, datetime]]) -> DeliveryError | None:
    """A transient error on every entry of a call: SNS itself is failing, not one message."""
    errors = [reply for reply, _ in replies.values() if isinstance(reply, DeliveryError)]
    if errors and len(errors) == len(replies) and not errors[0].permanent:
        return errors[0]
    return None


def _publish(
    messages: Iterator[OutgoingMessage],
    by_id: dict[int, Notification],
    result: FireResult,
    published: dict[int, tuple[str, datetime]],
) -> dict[int, tuple[Reply, datetime]]:
    """Publish the messages while they are rendered: the first PublishBatch goes out as
    soon as it is rendered, and each later one once the first has found SNS answering.
    If the first finds SNS failing, the rest are handed back untried (no attempt spent)
    rather than piled onto it. Returns each row's reply; what SNS accepted is also put in
    ``published`` even when rendering raises, so a retry of the transaction records it
    instead of publishing it again."""
    pool = _publisher_pool()
    outgoing = batches(messages)
    first = next(outgoing, None)
    if first is None:
        return {}
    calls = [pool.submit(_acknowledged, first)]
    held: list[list[OutgoingMessage]] = []  # rendered before the first call answered
    replies: dict[int, tuple[Reply, datetime]] = {}
    try:
        for batch in outgoing:  # each step renders up to a batch's messages
            sns_answering = len(calls) > 1 or (calls[0].done() and _sns_down(calls[0].result()) is None)
            if not sns_answering:
                held.append(batch)
                continue
            calls.extend(pool.submit(_acknowledged, waiting) for waiting in [*held, batch])
            held = []
        failing = _sns_down(calls[0].result()) if len(calls) == 1 else None
        if failing is not None:
            untried = [m for batch in held for m in batch if not defer(by_id[m.notification_id], failing, result)]
            held = list(batches(untried))
        calls.extend(pool.submit(_acknowledged, waiting) for waiting in held)
    finally:
        for call in calls:
            replies.update(call.result())
        published.update((pk, answer) for pk, answer in replies.items() if isinstance(answer[0], str))
    return replies


def _send(claimed: dict[int, int], published: dict[int, tuple[str, datetime]]) -> FireResult:
    """Check, publish and record the claimed rows in one transaction holding their locks.
    ``published`` (id -> SNS message id, ack time) outlives a lost database connection,
    so a row SNS already accepted is recorded on the retry, never published again."""
    result = FireResult()
    notifications = _lock(claimed)
    for lost in set(claimed) - {row.pk for row in notifications}:
        close_lost_attempt(lost, claimed[lost])
    unpublished = [row for row in notifications if row.pk not in published]
    by_id = {row.pk: row for row in unpublished}
    with ExitStack() as display_zones:  # entered once per topic, not per message (issue 15)
        replies = _publish(_messages(_fresh(unpublished, result), result, display_zones), by_id, result, published)
    for pk, (reply, _) in replies.items():
        if isinstance(reply, DeliveryError):
            handle_error(by_id[pk], reply, result)
    sent = [
        (row, published[row.pk][0], published[row.pk][1], lag_ms(row.due_at, published[row.pk][1]))
        for row in notifications
        if row.pk in published
    ]
    finish_sent(sent)
    result.sent = [row.pk for row, *_ in sent]
    if not logger.isEnabledFor(logging.INFO):  # a burst's fields are not built for nothing
        return result
    for row, message_id, _, lag in sent:
        fields = _fields(row, claimed[row.pk], lag_ms=lag, sns_message_id=message_id)
        logger.info("sent notification=%s event=%s lag_ms=%s sns_message_id=%s", row.pk, row.event_id, lag, message_id,
                    extra=fields)  # fmt: skip
    return result


def publish_claimed(*, claimed: dict[int, int]) -> FireResult:
    """Publish claimed rows ({id: attempt}). If the database connection drops, reconnect
    and go on from where it broke: what SNS already accepted is recorded, not re-published."""
    published: dict[int, tuple[str, datetime]] = {}
    for try_number in range(1, DB_RETRIES + 1):
        try:
            with transaction.atomic():
                result = _send(claimed, published)
            break
        except (OperationalError, InterfaceError) as exc:
            if try_number == DB_RETRIES:
                raise
            logger.warning(
                "database lost while firing notifications=%s published=%s (%s); reconnecting",
                list(claimed)[:50], list(published)[:50], exc,
            )  # fmt: skip
            connection.close()
            time.sleep(DB_RETRY_PAUSE_SECONDS * try_number)
    if result.sent:
        inbox_wake_publish()  # the in-app ones are in the inbox queue, or about to be
    if result.retrying:
        retries_enqueue(result.retrying)
    return result


def fire(*, notification_ids: list[int]) -> FireResult:
    claimed = claim(notification_ids=notification_ids)
    if not claimed:
        return FireResult()
    return publish_claimed(claimed=claimed)
