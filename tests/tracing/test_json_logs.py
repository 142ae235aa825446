"""JSON logs (issue 14, point 6), from real processes: a Celery worker and the inbox
consumer run with NOTIFIER_LOG_FORMAT=json; one notification goes plan → arm → fire →
inbox. Every line each process wrote parses as JSON, one filter on the notification id
yields its whole story, and an endpoint that reaches a log line is masked.

A package of its own: its worker must not share a Redis db with the e2e package's."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from config.celery_app import app as celery_app
from delivery.models import DeliveryAttempt, InboxMessage, Notification, NotificationState
from events.models import Event
from subscriptions.services import subscription_create
from tests.e2e.conftest import start_worker
from tests.engine import LOG_DIR, ROOT, engine_env, wait_until
from tests.factories import make_topic
from tests.ids import unique_slug

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WORKER_LOG = LOG_DIR / "worker-json.log"
CONSUMER_LOG = LOG_DIR / "consume-inbox-json.log"
ENDPOINTS = ("alice@example.com", "+447700900123", "https://hooks.example.com/alice/secret-path")


def fresh(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return path


@pytest.fixture
def inbox_queue(settings) -> str:
    settings.NOTIFIER_INBOX_QUEUE_NAME = unique_slug("inbox")  # topics created now attach to it
    return settings.NOTIFIER_INBOX_QUEUE_NAME


@pytest.fixture
def json_worker(django_db_blocker, moto_server) -> Iterator[subprocess.Popen[bytes]]:
    import redis as redis_lib

    broker = redis_lib.Redis.from_url(settings.CELERY_BROKER_URL)
    assert broker.connection_pool.connection_kwargs.get("db", 0) != 0
    broker.flushdb()
    with mock.patch.dict("os.environ", NOTIFIER_LOG_FORMAT="json"):  # engine_env() copies os.environ
        process = start_worker("jsonlogs", fresh(WORKER_LOG))
    yield process
    stop(process)


@pytest.fixture
def json_consumer(inbox_queue) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "consume_inbox", "--wait", "1"],
        cwd=ROOT, env=engine_env(NOTIFIER_INBOX_QUEUE_NAME=inbox_queue, NOTIFIER_LOG_FORMAT="json"),
        stdout=fresh(CONSUMER_LOG).open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    yield process
    stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def json_lines(path: Path) -> list[dict]:
    """Every line of the file as JSON; a line that does not parse fails the test, named."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    parsed = []
    for number, line in enumerate(lines, 1):
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"{path.name} line {number} is not JSON: {line!r}")
    return parsed


def test_one_notification_is_followed_from_plan_to_inbox_with_one_filter(json_worker, json_consumer):
    topic = make_topic(lead=1)
    reader = get_user_model().objects.create_user("reader")
    subscription_create(user=reader, topic=topic, channel="in_app")
    # Written around the services, so no process plans it yet: the worker's arm pass finds
    # it (the catch-up plan), arms it and fires it; the consumer fills the inbox.
    event = Event.objects.create(
        topic=topic, title="Traced kick-off", starts_at=timezone.now() + timedelta(minutes=1, seconds=6)
    )
    celery_app.send_task("notifier.arm")
    # An endpoint in what a process logs without masking it itself: Celery quotes the whole
    # body of a task it does not know.
    celery_app.send_task("notifier.no_such_task", args=list(ENDPOINTS))

    assert wait_until(lambda: InboxMessage.objects.filter(user=reader).exists(), timeout=40), WORKER_LOG.read_text()
    row = Notification.objects.get(event=event)
    assert row.state == NotificationState.SENT
    time.sleep(1)  # the consumer's line is written after its commit
    stop(json_worker)  # its shutdown notices are in the log too
    stop(json_consumer)

    worker, consumer = json_lines(WORKER_LOG), json_lines(CONSUMER_LOG)
    assert len(worker) > 5 and len(consumer) >= 2
    for entry in worker + consumer:
        assert {"timestamp", "level", "logger", "message"} <= set(entry), entry
        assert entry["timestamp"].endswith("Z") and entry["timestamp"][10] == "T"

    story = [entry for entry in worker + consumer if entry.get("notification_id") == row.pk]
    steps = [entry["message"].split(" notification=")[0].split(" message ")[0] for entry in story]
    assert steps[:3] == ["planned", "armed", "sent"], story
    assert any(entry["message"].startswith("inbox message") for entry in story), story
    planned, armed, sent = story[:3]
    assert armed["eta"] == row.due_at.isoformat()
    assert planned["key"] == row.key and planned["event_id"] == event.pk
    assert sent["key"] == row.key and sent["event_id"] == event.pk and sent["topic"] == topic.slug
    assert sent["attempt"] == 1 and sent["lag_ms"] == row.lag_ms
    assert sent["worker"] == DeliveryAttempt.objects.get(notification=row).worker  # the same name both ways
    inbox = next(entry for entry in story if entry["message"].startswith("inbox message"))
    assert inbox["key"] == row.key and "worker" not in inbox
    assert all(entry.get("worker") for entry in worker if entry["logger"].startswith("notifier"))

    text = WORKER_LOG.read_text() + CONSUMER_LOG.read_text()
    unknown = [entry for entry in worker if "no_such_task" in entry["message"] + entry.get("exception", "")]
    assert unknown, "the unregistered task was not logged"
    assert "a***@example.com" in json.dumps(unknown)
    for endpoint in ENDPOINTS:
        assert endpoint not in text
        assert endpoint.replace("/", "\\/") not in text
    assert any(entry["message"].startswith("worker: Warm shutdown") for entry in worker)


def test_a_management_command_logs_json_on_stderr_and_answers_on_stdout():
    """A command's answer is its output (stdout); its log is JSON (stderr). The nightly
    window's line per notification is DEBUG (docs/decisions/0016): shown when asked for."""
    event = Event.objects.create(
        topic=make_topic(lead=10), title="Nightly", starts_at=timezone.now() + timedelta(minutes=40)
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "plan_notifications", "--hours", "1"],
        cwd=ROOT, env=engine_env(NOTIFIER_LOG_FORMAT="json", LOG_LEVEL="DEBUG"),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("planned ")
    entries = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    row = Notification.objects.get(event=event)
    [planned] = [entry for entry in entries if entry.get("notification_id") == row.pk]
    assert planned["level"] == "DEBUG" and planned["key"] == row.key and planned["event_id"] == event.pk
    assert any(entry["message"].startswith("plan window hours=1") for entry in entries)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_web_process_logs_json_lines_with_the_query_string_masked(tmp_path):
    """gunicorn (its own error and access logs) and Django's (a 404 is logged with its
    request) in the one web process: every line JSON, the address in the query masked."""
    import urllib.error
    import urllib.request

    port = free_port()
    log = tmp_path / "web.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--config", "python:config.gunicorn",
         "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=engine_env(NOTIFIER_LOG_FORMAT="json"), stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        up = wait_until(lambda: "Booting worker" in log.read_text(), timeout=30)
        assert up, log.read_text()
        missing = f"http://127.0.0.1:{port}/api/v1/no-such-thing/?q=alice%40example.com&p=%2B447700900123"
        for _ in range(50):
            try:
                urllib.request.urlopen(missing, timeout=5)
            except urllib.error.HTTPError as answer:
                assert answer.code == 404
                break
            except urllib.error.URLError:
                time.sleep(0.2)  # the worker is still loading Django
    finally:
        stop(process)
    entries = json_lines(log)
    loggers = {entry["logger"] for entry in entries}
    assert {"gunicorn.error", "gunicorn.access", "django.request"} <= loggers, entries
    [access] = [entry for entry in entries if entry["logger"] == "gunicorn.access"]
    assert "?q=a***@example.com&p=+44*******123 " in access["message"]
    assert "alice" not in log.read_text() and "447700900123" not in log.read_text()
