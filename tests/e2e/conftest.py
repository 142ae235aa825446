"""End-to-end fixtures: a real Celery worker process on real Redis, SQS queues
subscribed to the topic's SNS topic in moto, and helpers to count what arrived."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings

from config.celery_app import app as celery_app
from delivery.aws import sqs_client
from delivery.queues import queue_subscribe
from delivery.topics import topic_ensure_sns
from events.models import Topic
from tests.engine import LOG_DIR, ROOT, engine_env
from tests.ids import unique_slug


def start_worker(name: str, log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "info", "-c", "2",
         "-n", f"{name}@%h", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=engine_env(), stdout=log_path.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited with {process.returncode}; see {log_path}")
        replies = celery_app.control.ping(destination=[f"{name}@{_hostname()}"], timeout=0.5)
        if replies:
            return process
    process.kill()
    raise RuntimeError(f"worker did not answer a ping in 60 s; see {log_path}")


def _hostname() -> str:
    import socket

    return socket.gethostname()


@pytest.fixture(scope="package")
def celery_worker(django_db_setup, django_db_blocker, moto_server) -> Iterator[subprocess.Popen[bytes]]:
    """One worker process for the e2e tests, on the test database and test Redis db.

    Package-scoped: it must be gone before other tests run, or it would consume the fire
    tasks their on-commit arming puts on the same Redis db and race their assertions."""
    import redis as redis_lib

    broker = redis_lib.Redis.from_url(settings.CELERY_BROKER_URL)
    assert broker.connection_pool.connection_kwargs.get("db", 0) != 0
    broker.flushdb()  # tasks left by an earlier run would point at rows that no longer exist
    process = start_worker("e2e", LOG_DIR / "worker-e2e.log")
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@dataclass
class Received:
    key: str
    notification_id: int
    body: dict
    sent_ms: int  # when SQS accepted it (moto stamps it as SNS delivers)

    def lag_seconds(self) -> float:
        due = datetime.fromisoformat(self.body["due_at"].replace("Z", "+00:00"))
        return self.sent_ms / 1000 - due.timestamp()


class Inbox:
    """An SQS queue subscribed to an SNS topic; collects every message, duplicates included."""

    def __init__(self, topic_arn: str) -> None:
        self.url = queue_subscribe(queue_name=unique_slug("inbox"), topic_arn=topic_arn)
        self.messages: list[Received] = []

    @classmethod
    def for_topic(cls, topic: Topic) -> "Inbox":
        return cls(topic_ensure_sns(topic=topic))

    def drain(self, seconds: float) -> list[Received]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            wait = max(0, min(1, int(deadline - time.monotonic())))
            reply = sqs_client().receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                AttributeNames=["SentTimestamp"], MessageAttributeNames=["All"],
            )  # fmt: skip
            for message in reply.get("Messages", []):
                body = json.loads(message["Body"])
                assert message["MessageAttributes"]["notification_key"]["StringValue"] == body["key"]
                self.messages.append(
                    Received(body["key"], body["notification_id"], body, int(message["Attributes"]["SentTimestamp"]))
                )
                sqs_client().delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return self.messages

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            self.drain(min(1.0, deadline - time.monotonic()))
        return self.messages

    def counts(self) -> dict[str, int]:
        tally: dict[str, int] = {}
        for message in self.messages:
            tally[message.key] = tally.get(message.key, 0) + 1
        return tally
