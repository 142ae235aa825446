"""The in-app inbox consumer: SNS delivers every notification raw to the inbox queue;
this writes one ``InboxMessage`` per active, unmuted in-app subscriber of its topic.

The message is trusted for nothing but the notification's id and key, which must match
a ledger row: the row's title and body are rendered from the ledger (the event as the
database holds it), the same facts the publish rendered, so a message forged or altered
on its way cannot put its own words into users' inboxes.

At-least-once in, exactly-once out: rows are unique on (notification, user) and
inserted with ON CONFLICT DO NOTHING, and an SQS message is deleted only after its
rows are committed. A duplicate delivery writes nothing; order does not matter, since
each message stands alone. A message that keeps failing goes to the dead-letter queue.
"""

import json
import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction

from config.json_logging import log_fields
from delivery.aws import sqs_client
from delivery.channels import inbox_adapter
from delivery.inbox_wake import InboxAlarm
from delivery.messages import message_facts, notification_ref
from delivery.models import InboxMessage, Notification
from delivery.queues import inbox_queue_ensure
from delivery.selectors import renderer_for_topic
from subscriptions.selectors import inbox_recipient_ids

logger = logging.getLogger(__name__)


class UnknownNotification(Exception):
    """The message names a notification this database does not hold."""


def inbox_deliver(*, document: dict[str, Any]) -> int:
    """Write the rows for one received message; returns how many users it is for."""
    notification_id, key = notification_ref(document)
    notification = Notification.objects.select_related("event__topic").filter(pk=notification_id, key=key).first()
    if notification is None:
        raise UnknownNotification(f"notification {notification_id} with key {key} is not in the ledger")
    event = notification.event
    topic_id = event.topic_id
    recipients = inbox_recipient_ids(topic_id)
    if recipients:
        facts = message_facts(notification, event, event.topic)
        body = inbox_adapter().inbox_body(facts, renderer_for_topic(topic_id))
        InboxMessage.objects.bulk_create(
            [
                InboxMessage(
                    notification=notification,
                    user_id=user_id,
                    topic_id=topic_id,
                    event_id=notification.event_id,
                    title=facts.title[:200],
                    body=body,
                    starts_at=facts.starts_at,
                )
                for user_id in recipients
            ],
            ignore_conflicts=True,
        )
    return len(recipients)


# A turn of the loop is one long poll plus writing up to 10 messages' rows; far longer is a hang.
TURN_SLACK_SECONDS = 30


def _fields(document: dict[str, Any]) -> dict[str, object]:
    """A delivered message's log fields: its notification id and key, which matched a
    ledger row. Nothing else in the document is trusted, so nothing else is logged as fact."""
    notification_id, key = notification_ref(document)
    return log_fields(notification_id=notification_id, key=key)


class InboxConsumer:
    """Long-polls one inbox queue until stopped."""

    def __init__(
        self, *, fifo: bool, wait_seconds: int, stop: threading.Event, alarm: InboxAlarm | None = None
    ) -> None:
        self.fifo = fifo
        self.wait_seconds = wait_seconds
        self.stop = stop
        self.alarm = alarm  # None: poll all the time
        self.queue_url = ""
        self.last_turn = self.last_poll = time.monotonic()
        self.asleep = False  # waiting for a wake or its idle poll, not on SQS or the database

    def is_turning(self, *, now: float) -> bool:
        """False once the current turn of the loop has taken far longer than a long poll can
        (a hung SQS or database call): what the consumer's liveness heartbeat follows. An
        asleep loop waits on nothing that can hang, so it does not turn just to say so."""
        return self.asleep or now - self.last_turn < self.wait_seconds + TURN_SLACK_SECONDS

    def poll_once(self) -> int:
        """Receive up to 10 messages, write their rows, delete the ones committed."""
        if not self.queue_url:
            self.queue_url, _ = inbox_queue_ensure(fifo=self.fifo)
        reply = sqs_client().receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self.wait_seconds
        )
        done = []
        for message in reply.get("Messages", []):
            if not self._deliver(message):
                if self.fifo:
                    break  # keep each group in order: the rest comes again after this one
                continue
            done.append({"Id": str(len(done)), "ReceiptHandle": message["ReceiptHandle"]})
        if done:
            reply = sqs_client().delete_message_batch(QueueUrl=self.queue_url, Entries=done)
            for failure in reply.get("Failed", []):  # written already: a redelivery writes nothing
                logger.warning("inbox message not deleted, will come again: %s", failure.get("Message"))
        return len(done)

    def _deliver(self, message: dict[str, Any]) -> bool:
        """Write one message's rows; False leaves it in the queue (redelivered, then DLQ)."""
        try:
            document = json.loads(message["Body"])
            with transaction.atomic():
                users = inbox_deliver(document=document)
        except (UnknownNotification, ValueError, KeyError, TypeError) as exc:
            logger.warning("inbox message %s left for redrive: %s", message["MessageId"], exc)
            return False
        except DatabaseError as exc:
            logger.warning("inbox message %s not written, database error: %s", message["MessageId"], exc)
            return False
        logger.info("inbox message %s written for %d user(s)", message["MessageId"], users, extra=_fields(document))
        return True

    def _poll_due_or_sleep(self, alarm: InboxAlarm) -> bool:
        self.asleep = True
        try:
            return alarm.poll_due_or_sleep(last_poll=self.last_poll)
        finally:
            self.last_turn = time.monotonic()  # woken: the turn starts now, not when it fell asleep
            self.asleep = False

    def run(self) -> None:
        while not self.stop.is_set():
            self.last_turn = time.monotonic()  # the loop turns, even while SQS or the database fail
            if self.alarm is not None and not self._poll_due_or_sleep(self.alarm):
                continue
            self.last_poll = self.last_turn
            close_old_connections()  # a long-lived loop outside a request: drop broken or aged ones
            try:
                self.poll_once()
            except Exception:
                if self.stop.is_set():
                    return  # shutting down: the services may be going away too
                logger.exception("inbox poll failed on %s; retrying in 5 s", self.queue_url or "the inbox queue")
                self.stop.wait(5)


def inbox_consumers(
    *, stop: threading.Event, wait_seconds: int | None = None, alarm: InboxAlarm | None = None
) -> list[InboxConsumer]:
    """One consumer for the standard inbox queue and one for the FIFO one."""
    wait = settings.NOTIFIER_INBOX_WAIT_SECONDS if wait_seconds is None else wait_seconds
    return [InboxConsumer(fifo=fifo, wait_seconds=wait, stop=stop, alarm=alarm) for fifo in (False, True)]
