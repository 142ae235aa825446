"""The encryption attributes wanted of the topics and queues the engine creates, and
what differs from them (moto's side: tests/integration/test_aws_encryption.py)."""

from delivery.aws_encryption import (
    queue_encryption_attributes,
    queue_encryption_changes,
    topic_encryption_attributes,
    topic_encryption_changes,
)


def test_without_a_kms_key_queues_want_sqs_managed_sse_and_topics_nothing(settings):
    settings.NOTIFIER_KMS_KEY_ID = ""
    assert topic_encryption_attributes() == {}
    assert topic_encryption_changes({"TopicArn": "arn"}) == {}
    assert topic_encryption_changes({"KmsMasterKeyId": "old"}) == {"KmsMasterKeyId": ""}  # a retired key goes
    assert queue_encryption_changes({"SqsManagedSseEnabled": "true"}) == {}
    assert queue_encryption_changes({"SqsManagedSseEnabled": "false"}) == queue_encryption_attributes()


def test_with_a_kms_key_topics_and_queues_want_it(settings):
    settings.NOTIFIER_KMS_KEY_ID = "alias/notifier"
    assert topic_encryption_attributes() == {"KmsMasterKeyId": "alias/notifier"}
    assert topic_encryption_changes({"KmsMasterKeyId": "alias/notifier"}) == {}
    wanted = queue_encryption_attributes()
    assert wanted["KmsMasterKeyId"] == "alias/notifier" and wanted["SqsManagedSseEnabled"] == "false"
    assert queue_encryption_changes({"SqsManagedSseEnabled": "true"}) == wanted
    assert queue_encryption_changes({**wanted, "SqsManagedSseEnabled": "False"}) == {}  # AWS's case varies
