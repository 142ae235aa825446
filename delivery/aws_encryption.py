"""Server-side encryption of the SNS topics and SQS queues the engine creates
(docs/decisions/0013): a customer KMS key when ``NOTIFIER_KMS_KEY_ID`` is set; else
SQS-managed SSE on queues, and nothing on topics (SNS has no managed default).

The setting is the truth both ways: ``sync_sns`` adds, changes or removes a key so that
every resource matches it. The ``*_changes`` functions are pure (they compare attributes
read from AWS with the wanted ones); the callers read and write.
"""

from django.conf import settings

# How long SQS reuses a data key before asking KMS again: the AWS default, stated so the
# comparison in sync_sns is exact. Longer means fewer KMS calls, shorter a smaller blast radius.
KMS_DATA_KEY_REUSE_SECONDS = 300

# The queue attributes to read when comparing (GetQueueAttributes AttributeNames).
QUEUE_ENCRYPTION_NAMES = ("KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled")


def topic_encryption_attributes() -> dict[str, str]:
    """The attributes any SNS topic the engine creates carries (CreateTopic or SetTopicAttributes)."""
    key = settings.NOTIFIER_KMS_KEY_ID
    return {"KmsMasterKeyId": key} if key else {}


def topic_encryption_changes(current: dict[str, str]) -> dict[str, str]:
    """What to set on an existing topic whose attributes are ``current``; empty when in step.
    An empty value removes a key the setting no longer names."""
    wanted = topic_encryption_attributes().get("KmsMasterKeyId", "")
    return {} if current.get("KmsMasterKeyId", "") == wanted else {"KmsMasterKeyId": wanted}


def queue_encryption_attributes() -> dict[str, str]:
    """The encryption attributes of every SQS queue the engine creates.

    SSE-KMS and SQS-managed SSE exclude each other (AWS refuses both at once), so the
    one not wanted is switched off in the same call."""
    key = settings.NOTIFIER_KMS_KEY_ID
    if key:
        return {
            "KmsMasterKeyId": key,
            "KmsDataKeyReusePeriodSeconds": str(KMS_DATA_KEY_REUSE_SECONDS),
            "SqsManagedSseEnabled": "false",
        }
    return {"KmsMasterKeyId": "", "SqsManagedSseEnabled": "true"}


def queue_encryption_changes(current: dict[str, str]) -> dict[str, str]:
    """What to set on a queue whose attributes are ``current``; empty when in step."""
    wanted = queue_encryption_attributes()
    if any(str(current.get(name, "")).lower() != value.lower() for name, value in wanted.items()):
        return wanted  # all together: SQS checks the two kinds of SSE against each other
    return {}


def encryption_label() -> str:
    """How sync_sns names the wanted state in its report."""
    key = settings.NOTIFIER_KMS_KEY_ID
    return f"KMS key {key}" if key else "SQS-managed SSE on queues, no KMS key on topics"
