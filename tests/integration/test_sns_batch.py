"""delivery.sns_batch signs its own PublishBatch requests (issue 15): an emulator that
checks every signature against the IAM user's secret, as SNS does, accepts them; a wrong
secret is refused, so the check is real."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest

from delivery.aws import reset_clients
from delivery.errors import DeliveryError
from delivery.messages import OutgoingMessage
from delivery.publishing import publish_batch
from scripts.services import free_port, wait_for_port

# moto answers its first N requests unsigned (this test's IAM set-up), then checks each
# signature and the caller's IAM policy.
UNSIGNED_SETUP_CALLS = 3
REGION = "eu-west-1"  # not the default: the signature's scope must name the client's region


@pytest.fixture
def signing_aws(monkeypatch) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(UNSIGNED_SETUP_CALLS)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout=30)
        iam = boto3.client("iam", endpoint_url=url, region_name=REGION, aws_access_key_id="setup",
                           aws_secret_access_key="setup")  # fmt: skip
        iam.create_user(UserName="notifier")
        key = iam.create_access_key(UserName="notifier")["AccessKey"]
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="notifier", PolicyName="publish", PolicyDocument=json.dumps(policy))
        keys = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
        for name, value in {"AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": REGION, **keys}.items():
            monkeypatch.setenv(name, value)
        reset_clients()
        yield url, keys
    finally:
        reset_clients()  # the next client is made from the restored environment
        server.terminate()
        server.wait(timeout=10)


def messages(topic_arn: str, *, fifo: bool = False) -> list[OutgoingMessage]:
    body = json.dumps({"default": '{"title":"Launch & café 100%+1"}', "sms": "T-10: é €\n😀", "email": "a+b = c"})
    attributes = {"topic": {"DataType": "String", "StringValue": "launches"}}
    return [
        OutgoingMessage(
            notification_id=n,
            topic_arn=topic_arn,
            message=body,
            subject=f"Launch {n} in 10 minutes: a+b",
            attributes={**attributes, "event_id": {"DataType": "Number", "StringValue": str(n)}},
            size=len(body),
            group_id="launches" if fifo else None,
            dedup_id=f"key-{n}" if fifo else None,
        )
        for n in range(1, 11)
    ]


def sns(url: str, keys: dict[str, str]):
    return boto3.client("sns", endpoint_url=url, region_name=REGION, aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"])  # fmt: skip


@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
def test_a_signature_checking_emulator_accepts_every_entry(signing_aws, fifo):
    url, keys = signing_aws
    name = "launches.fifo" if fifo else "launches"
    attributes = {"FifoTopic": "true"} if fifo else {}
    arn = sns(url, keys).create_topic(Name=name, Attributes=attributes)["TopicArn"]
    replies = publish_batch(messages(arn, fifo=fifo))
    assert sorted(replies) == list(range(1, 11))
    assert all(isinstance(reply, str) and reply for reply in replies.values()), replies


def test_a_wrong_secret_is_refused_for_every_entry(signing_aws, monkeypatch):
    url, keys = signing_aws
    arn = sns(url, keys).create_topic(Name="launches")["TopicArn"]
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    reset_clients()
    replies = publish_batch(messages(arn))
    assert sorted(replies) == list(range(1, 11))
    errors = set(replies.values())
    assert len(errors) == 1 and all(isinstance(error, DeliveryError) for error in errors)
    error = errors.pop()
    assert str(error).startswith("SignatureDoesNotMatch") and error.permanent
