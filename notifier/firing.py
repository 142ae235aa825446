"""Fire: claim, re-check, publish, record (DESIGN.md 4.5).

The claim is one transaction: ``armed → sending`` with a conditional UPDATE and one
DeliveryAttempt per claimed row, so a duplicate task finds nothing to do and every
try is on record. Then the claimed rows go out in chunks of one PublishBatch (ten
rows of one topic), several chunks at once on a few threads to overlap SNS round
trips. Each chunk is a transaction that locks its events ``FOR SHARE`` and its rows
``FOR UPDATE`` while it publishes: a move or cancel of an event waits for the
publish, or lands first and is seen here, so a stale notification never goes out.
"""

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from delivery.errors import DeliveryError
from delivery.messages import build_message
from delivery.models import DeliveryAttempt, Notification, NotificationState
from delivery.publishing import BATCH_MAX_ENTRIES, Reply, batches, publish_batch
from delivery.rendering import Renderer
from delivery.topics import topic_ensure_sns
from events.models import Event
from notifier.records import FireResult, Outcome, close_lost_attempt, finish, finish_sent
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


def _lock(claimed: dict[int, int]) -> list[Notification]:
    """Lock claimed rows and their events (events first, in id order, as plan_event
    takes them), in due order.

    Only rows still on the attempt this worker claimed: if reconcile took one back and
    another worker claimed it since, that worker owns it now."""
    ids = list(claimed)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.id FROM events_event e WHERE e.id IN "
            "(SELECT event_id FROM delivery_notification WHERE id = ANY(%s)) ORDER BY e.id FOR SHARE",
            [ids],
        )
    rows = (
        Notification.objects.select_for_update(of=("self",))
        .select_related("event__topic")
        .filter(pk__in=ids, state=NotificationState.SENDING)
        .order_by("due_at", "pk")
    )
    return [row for row in rows if row.attempts == claimed[row.pk]]


class _Circuit:
    """Once SNS fails with a transient error, the rest of the batch is handed back
    untried instead of hammering it; shared by the threads publishing one batch."""

    def __init__(self) -> None:
        self._error: DeliveryError | None = None
        self._lock = threading.Lock()

    @property
    def error(self) -> DeliveryError | None:
        return self._error

    def trip(self, error: DeliveryError) -> None:
        with self._lock:
            self._error = self._error or error


@dataclass
class _Chunk:
    """Claimed rows ({id: attempt}) of one topic that go out in one PublishBatch.
    ``published`` outlives a lost database connection, so a row SNS already accepted is
    recorded on the retry, never published again."""

    topic_id: int
    claimed: dict[int, int]
    published: dict[int, str] = field(default_factory=dict)


def _check(notifications: list[Notification], circuit: _Circuit, result: FireResult) -> list[Notification]:
    """Finish stale rows, hand rows back while SNS is failing; returns the rows to publish."""
    now = timezone.now()
    todo = []
    for notification in notifications:
        stale = _stale_reason(notification, notification.event, now)
        if stale is not None:
            state, reason = stale
            outcome = Outcome.EXPIRED if state == NotificationState.EXPIRED else Outcome.SKIPPED_STALE
            finish(notification, outcome, reason, state=state, last_error=reason)
            result.skipped.append(notification.pk)
        elif circuit.error is None or not defer(notification, circuit.error, result):
            todo.append(notification)
    return todo


def _publish(notifications: list[Notification], renderer: Renderer, result: FireResult) -> dict[int, Reply]:
    """Render and publish; rows that cannot be rendered fail here and get no reply."""
    messages = []
    for notification in notifications:
        try:
            messages.append(build_message(notification, notification.event, notification.event.topic, renderer))
        except DeliveryError as error:
            handle_error(notification, error, result)
    if not messages:
        return {}
    try:
        topic_ensure_sns(topic=notifications[0].event.topic)
    except DeliveryError as error:
        return {message.notification_id: error for message in messages}
    replies: dict[int, Reply] = {}
    for batch in batches(messages):
        replies.update(publish_batch(batch))
    return replies


def _send_chunk(chunk: _Chunk, renderer: Renderer, circuit: _Circuit) -> FireResult:
    """Check, publish and record one chunk in one transaction, holding its locks."""
    result = FireResult()
    notifications = _lock(chunk.claimed)
    for lost in set(chunk.claimed) - {row.pk for row in notifications}:
        close_lost_attempt(lost, chunk.claimed[lost])
    unpublished = [row for row in notifications if row.pk not in chunk.published]
    replies = _publish(_check(unpublished, circuit, result), renderer, result)
    for row in unpublished:
        reply = replies.get(row.pk)
        if isinstance(reply, str):
            chunk.published[row.pk] = reply
        elif reply is not None:
            handle_error(row, reply, result)
            if not reply.permanent:
                circuit.trip(reply)
    sent_at = timezone.now()
    published = [row for row in notifications if row.pk in chunk.published]
    sent = [(row, chunk.published[row.pk], lag_ms(row.due_at, sent_at)) for row in published]
    finish_sent(sent, sent_at)
    result.sent = [row.pk for row, _, _ in sent]
    for row, message_id, lag in sent:
        logger.info("sent notification=%s event=%s lag_ms=%s sns_message_id=%s", row.pk, row.event_id, lag, message_id)
    return result


def _process(chunk: _Chunk, renderer: Renderer, circuit: _Circuit) -> FireResult:
    """One chunk in its own transaction. If the database connection drops, reconnect and
    go on from where it broke: what SNS already accepted is recorded, not re-published."""
    for try_number in range(1, DB_RETRIES + 1):
        try:
            with transaction.atomic():
                return _send_chunk(chunk, renderer, circuit)
        except (OperationalError, InterfaceError) as exc:
            if try_number == DB_RETRIES:
                raise
            logger.warning(
                "database lost while firing notifications=%s published=%s (%s); reconnecting",
                list(chunk.claimed), list(chunk.published), exc,
            )  # fmt: skip
            connection.close()
            time.sleep(DB_RETRY_PAUSE_SECONDS * try_number)
    return FireResult()


def _chunks(claimed: dict[int, int]) -> tuple[list[_Chunk], dict[int, Renderer]]:
    """Split claimed rows into per-topic chunks of one PublishBatch each, in due order;
    with each topic's renderer, loaded once."""
    rows = (
        Notification.objects.filter(pk__in=list(claimed)).order_by("due_at", "pk").values_list("pk", "event__topic_id")
    )
    by_topic: dict[int, list[int]] = {}
    for pk, topic_id in rows:
        by_topic.setdefault(topic_id, []).append(pk)
    chunks = [
        _Chunk(topic_id, {pk: claimed[pk] for pk in ids[start : start + BATCH_MAX_ENTRIES]})
        for topic_id, ids in by_topic.items()
        for start in range(0, len(ids), BATCH_MAX_ENTRIES)
    ]
    return chunks, {topic_id: Renderer.for_topic(topic_id) for topic_id in by_topic}


_pool: tuple[int, ThreadPoolExecutor] | None = None


def _publisher_pool() -> ThreadPoolExecutor:
    """Threads that overlap SNS round trips, each keeping its own database connection;
    made in the process that uses them (threads do not survive a prefork fork)."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(settings.NOTIFIER_FIRE_THREADS, thread_name_prefix="publish"))
    return _pool[1]


def publish_claimed(*, claimed: dict[int, int]) -> FireResult:
    """Publish claimed rows ({id: attempt}), one PublishBatch per chunk of ten of one
    topic, several chunks at once, each in its own short transaction, so a failure in
    one never un-records the sends of another."""
    chunks, renderers = _chunks(claimed)
    circuit = _Circuit()
    result = FireResult()

    def send(chunk: _Chunk) -> FireResult:
        return _process(chunk, renderers[chunk.topic_id], circuit)

    # Other connections cannot see what a caller's open transaction wrote: publish here.
    if len(chunks) == 1 or connection.in_atomic_block or settings.NOTIFIER_FIRE_THREADS <= 1:
        outcomes = map(send, chunks)
    else:
        outcomes = _publisher_pool().map(send, chunks)
    for outcome in outcomes:
        result.add(outcome)
    if result.retrying:
        enqueue_retries(result.retrying)
    return result


def fire(*, notification_ids: list[int]) -> FireResult:
    claimed = claim(notification_ids=notification_ids)
    if not claimed:
        return FireResult()
    return publish_claimed(claimed=claimed)
