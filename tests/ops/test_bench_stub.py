"""The benchmark's SNS/SQS stub (bench/sns_stub.py) answers what the engine's idle processes
call, so the idle benchmark can run the inbox consumer and the canary against it and count
their SQS calls. Were it to miss a call, the idle figures would measure error retries."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from bench.harness import Stub, start_stub
from delivery.aws import reset_clients, sns_client


@pytest.fixture
def stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stub]:
    running = start_stub(0, tmp_path / "sns.log")
    monkeypatch.setenv("AWS_ENDPOINT_URL", running.url)
    reset_clients()
    yield running
    running.stop()
    reset_clients()


@pytest.mark.django_db
def test_the_inbox_consumer_polls_the_stub_and_every_sqs_call_is_counted(stub: Stub) -> None:
    out = io.StringIO()
    call_command("consume_inbox", "--once", "--wait", "0", stdout=out)
    assert "handled 0 message(s)" in out.getvalue()
    calls = stub.calls()
    assert calls["sqs.ReceiveMessage"] == 2  # the standard queue and the FIFO one
    assert calls["sqs.CreateQueue"] == 4  # each with its dead-letter queue


def test_publish_batch_is_acknowledged_and_logged_per_message(stub: Stub) -> None:
    arn = sns_client().create_topic(Name="bench")["TopicArn"]
    entries = [{"Id": str(k), "Message": "m"} for k in range(10)]
    reply = sns_client().publish_batch(TopicArn=arn, PublishBatchRequestEntries=entries)
    assert [entry["Id"] for entry in reply["Successful"]] == [str(k) for k in range(10)] and not reply["Failed"]
    assert [count for _, count in stub.acknowledged()] == [10]
    assert stub.calls() == {"sns.CreateTopic": 1, "sns.PublishBatch": 1}


def test_publish_batch_answers_every_id_whatever_the_messages_hold(stub: Stub) -> None:
    # The stub reads the form without decoding message bodies (bench/sns_stub.py, _form).
    arn = sns_client().create_topic(Name="bench")["TopicArn"]
    ids = ["a-1", "b_2", "c.3", "d~4", "5"]
    bodies = ["x&Id=evil", "%26%3D", "+ +", '{"default": "ünï"}', ""]
    entries = [{"Id": id_, "Message": body} for id_, body in zip(ids, bodies, strict=True)]
    reply = sns_client().publish_batch(TopicArn=arn, PublishBatchRequestEntries=entries)
    assert [entry["Id"] for entry in reply["Successful"]] == ids and not reply["Failed"]
    assert [count for _, count in stub.acknowledged()] == [5]
