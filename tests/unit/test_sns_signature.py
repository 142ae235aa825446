"""The SNS message verifier, alone: real RSA signatures over the canonical strings, with
a certificate made here (the fetch is injected)."""

from datetime import UTC, datetime, timedelta

import pytest

from delivery.sns_signature import SnsMessageRejected, verify_sns_message
from tests.sns_signing import SnsSigner, confirmation, notification

TOPIC = "arn:aws:sns:us-east-1:123456789012:notifier-platform-feedback"


@pytest.fixture(scope="module")
def signer() -> SnsSigner:
    return SnsSigner()


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_notification_and_confirmation_pass(signer, version):
    for message in (notification(TOPIC, {"EventType": "EndpointDeleted"}, Subject="s"), confirmation(TOPIC)):
        verify_sns_message(signer.sign(message, version=version), fetch=signer.fetch)


def rejected(signer: SnsSigner, message: dict, **kwargs) -> str:
    with pytest.raises(SnsMessageRejected) as caught:
        verify_sns_message(message, fetch=signer.fetch, **kwargs)
    return str(caught.value)


def test_a_field_changed_after_signing_is_refused(signer):
    signed = signer.sign(notification(TOPIC, {"EventType": "EndpointDeleted", "EndpointArn": "a"}))
    for name, value in (("Message", '{"EventType": "EndpointDeleted", "EndpointArn": "b"}'), ("TopicArn", TOPIC + "x")):
        assert rejected(signer, {**signed, name: value}) == "the signature does not match"


def test_a_signature_by_another_key_is_refused(signer):
    forged = SnsSigner().sign(notification(TOPIC, "x"))
    assert rejected(signer, forged) == "the signature does not match"


def test_a_subject_added_after_signing_is_refused(signer):
    signed = signer.sign(notification(TOPIC, "x"))
    assert rejected(signer, {**signed, "Subject": "added"}) == "the signature does not match"


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/c.pem",
        "https://sns.us-east-1.amazonaws.com.evil.com/c.pem",
        "https://evil.amazonaws.com/c.pem",
        "https://sns.us-east-1.amazonaws.com@evil.com/c.pem",
        "https://evil.com@sns.us-east-1.amazonaws.com/c.pem",
        "https://sns.us-east-1.amazonaws.com:8443/c.pem",
        "https://sns.us-east-1.amazonaws.com/c.txt",
        "https://sns.us-east-1.amazonaws.com/c.pem?x=1",
        "https://s3.amazonaws.com/sns/c.pem",
        "https://sns.amazonaws.com/c.pem",
    ],
)
def test_a_certificate_from_anywhere_but_an_sns_region_host_is_refused_unfetched(url):
    signer = SnsSigner()
    message = signer.sign({**notification(TOPIC, "x"), "SigningCertURL": url})
    assert "certificate" in rejected(signer, message)
    assert signer.fetched == []


@pytest.mark.parametrize(
    "host", ["sns.eu-west-2.amazonaws.com", "sns.us-gov-west-1.amazonaws.com", "sns.cn-north-1.amazonaws.com.cn"]
)
def test_the_regional_sns_hosts_are_accepted(signer, host):
    verify_sns_message(
        signer.sign({**notification(TOPIC, "x"), "SigningCertURL": f"https://{host}/a.pem"}), fetch=signer.fetch
    )


def test_stale_and_future_timestamps_are_refused(signer):
    now = datetime.now(UTC)
    stale = signer.sign(notification(TOPIC, "x", at=now - timedelta(hours=2)))
    future = signer.sign(notification(TOPIC, "x", at=now + timedelta(minutes=30)))
    assert rejected(signer, stale) == "the timestamp is outside the accepted window"
    assert rejected(signer, future) == "the timestamp is outside the accepted window"
    verify_sns_message(stale, fetch=signer.fetch, max_age=timedelta(hours=3))


def test_missing_fields_unknown_types_and_versions_are_refused(signer):
    signed = signer.sign(notification(TOPIC, "x"))
    assert rejected(signer, {k: v for k, v in signed.items() if k != "MessageId"}) == "missing field(s): MessageId"
    assert rejected(signer, {**signed, "Type": "Surprise"}).startswith("unknown message type")
    assert rejected(signer, {**signed, "SignatureVersion": "3"}) == "unknown SignatureVersion"
    assert (
        rejected(signer, {**signed, "Signature": "not base64!"}) == "the signature or the certificate does not decode"
    )
