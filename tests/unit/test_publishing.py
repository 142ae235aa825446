"""PublishBatch: how messages are grouped into calls (a burst going out in them is in
tests/integration/test_publishing.py)."""

from delivery.messages import OutgoingMessage
from delivery.publishing import BATCH_MAX_BYTES, batches


def message(notification_id: int, topic_arn: str = "arn:a", size: int = 1_000) -> OutgoingMessage:
    return OutgoingMessage(
        notification_id=notification_id, topic_arn=topic_arn, message="{}", attributes={}, subject="s", size=size
    )


def test_batches_hold_ten_messages_of_one_topic_within_the_size_limit():
    grouped = list(batches([message(n) for n in range(23)] + [message(n, "arn:b") for n in range(23, 25)]))
    assert [len(batch) for batch in grouped] == [10, 10, 3, 2]
    assert {m.topic_arn for m in grouped[3]} == {"arn:b"}
    big = list(batches([message(n, size=BATCH_MAX_BYTES // 3 + 1) for n in range(5)]))
    assert [len(batch) for batch in big] == [2, 2, 1]  # three would be over 256 KiB in one call


def test_the_form_body_is_what_botocore_would_send():
    """delivery.aws encodes query-protocol bodies itself (issue 15): byte for byte what
    botocore's urlencode (quote_plus) makes, for any text a template can produce. Random
    texts mix the bytes its replacements must take in order (%, + and the space)."""
    import random
    from urllib.parse import urlencode

    from botocore.awsrequest import AWSRequest

    from delivery.aws import form_encode_body

    texts = ["plain", "a b+c&d=e%f", '{"default":"x","sms":"é €\\n"}', "😀\t~_.-", "".join(map(chr, range(1, 600)))]
    rng = random.Random(15)
    texts += ["".join(rng.choices("%+ 2Bb5&=é€😀\x00\x7f", k=rng.randint(0, 40))) for _ in range(500)]
    data = {f"PublishBatchRequestEntries.member.{n}.Message": text for n, text in enumerate(texts, 1)}
    data["Action"] = "PublishBatch"
    request = AWSRequest(method="POST", url="https://sns.example", data=dict(data))
    form_encode_body(request)
    assert request.data == urlencode(data, doseq=True).encode()
