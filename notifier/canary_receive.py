"""The canary's consumer: read the engine's canary queue and record each run's arrival.

It runs as a Celery task shortly after each run's due time (and again at the start of
every canary run), not as a long-poll loop: the worker and beat, which every deployment
runs (``make run``, the chart), are then all the canary needs, and it holds a worker
process for about a second instead of twenty. The arrival time is the message's SQS
``SentTimestamp`` (when SNS delivered it into the queue), so the lag is exact however
late the queue is read.
"""

import json
import logging
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from delivery.aws import sqs_client
from delivery.queues import canary_queue_url
from notifier.canary import canary_run_record_arrival, canary_runs_mark_missing

logger = logging.getLogger(__name__)

MAX_RECEIVES = 10  # 100 messages a pass at most: a backlog is worked off over a few passes


def _arrival(message: dict[str, Any]) -> tuple[int, datetime] | None:
    try:
        event_id = int(json.loads(message["Body"])["event_id"])
        sent_ms = int(message["Attributes"]["SentTimestamp"])
    except (ValueError, KeyError, TypeError):
        return None
    return event_id, datetime.fromtimestamp(sent_ms / 1000, tz=UTC)


def canary_receive(*, wait_seconds: int = 1) -> int:
    """Record every canary message waiting in the queue and delete it; then mark runs
    overdue as missing. Returns how many runs were recorded."""
    url = canary_queue_url()
    recorded = 0
    for _ in range(MAX_RECEIVES if url else 0):
        reply = sqs_client().receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds, AttributeNames=["SentTimestamp"]
        )
        messages = reply.get("Messages", [])
        if not messages:
            break
        for message in messages:
            arrival = _arrival(message)
            if arrival is None:
                logger.warning("canary queue: message %s is no canary notification; dropped", message["MessageId"])
            elif canary_run_record_arrival(event_id=arrival[0], received_at=arrival[1]) is not None:
                recorded += 1
        # Recorded (or of no run) in the database already: a redelivery would change nothing.
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs_client().delete_message_batch(QueueUrl=url, Entries=entries)
    canary_runs_mark_missing(now=timezone.now())
    return recorded
