"""End-to-end fixtures: a real Celery worker process on real Redis. The SQS queues that
count what arrived are tests/aws.py's Inbox."""

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from config.celery_app import app as celery_app
from tests.engine import LOG_DIR, ROOT, engine_env


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
