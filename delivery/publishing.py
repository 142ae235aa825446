"""PublishBatch: up to ten messages of one SNS topic in one call, each with its own
answer. One call instead of ten is what lets a burst go out at the rate SNS accepts
rather than the rate one process can make HTTP requests (docs/decisions/0005)."""

from collections.abc import Iterator

from celery.exceptions import SoftTimeLimitExceeded

from delivery.errors import TRANSIENT_CODES, DeliveryError, classify
from delivery.messages import SNS_MAX_MESSAGE_BYTES, OutgoingMessage
from delivery.sns_batch import publish_batch_call

BATCH_MAX_ENTRIES = 10  # SNS's limit per PublishBatch
BATCH_MAX_BYTES = SNS_MAX_MESSAGE_BYTES  # ... and on the sum of the entries' sizes

Reply = str | DeliveryError  # the SNS message id, or why this entry was not published


def batches(messages: list[OutgoingMessage]) -> Iterator[list[OutgoingMessage]]:
    """Consecutive runs of one topic's messages within SNS's count and size limits."""
    batch: list[OutgoingMessage] = []
    size = 0
    for message in messages:
        if batch and (
            len(batch) == BATCH_MAX_ENTRIES
            or size + message.size > BATCH_MAX_BYTES
            or message.topic_arn != batch[0].topic_arn
        ):
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += message.size
    if batch:
        yield batch


def publish_batch(batch: list[OutgoingMessage]) -> dict[int, Reply]:
    """Publish one batch from ``batches``; returns a reply per notification id. A call
    that fails as a whole gives every entry the same error."""
    try:
        response = publish_batch_call(batch[0].topic_arn, batch)
    except SoftTimeLimitExceeded:
        raise  # the task is out of time: reconcile re-arms what is left
    except Exception as exc:
        error = classify(exc)
        return {message.notification_id: error for message in batch}
    replies: dict[int, Reply] = {int(ok["Id"]): ok["MessageId"] for ok in response.get("Successful", [])}
    for failed in response.get("Failed", []):
        code = failed.get("Code", "Unknown")
        permanent = bool(failed.get("SenderFault")) and code not in TRANSIENT_CODES
        replies[int(failed["Id"])] = DeliveryError(f"{code}: {failed.get('Message', '')}".strip(), permanent=permanent)
    for message in batch:  # an entry SNS did not mention was not published
        replies.setdefault(message.notification_id, DeliveryError("no result for this entry", permanent=False))
    return replies
