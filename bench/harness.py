"""What every benchmark needs: its own database and Redis db, the SNS stub, worker
processes, and bulk data made with SQL (the API would measure the API)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
# Overridable, so two checkouts can bench side by side on one machine.
BENCH_DB = os.environ.get("BENCH_DB", "notifier_bench")
BENCH_REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "8"))  # never 0 (yours) or 9 (the tests')


def configure_environment() -> None:
    """Point Django at the bench database (created if missing) before it is set up."""
    from scripts.services import ensure_database, with_database, with_redis_db

    os.environ["DATABASE_URL"] = with_database(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/notifier"), BENCH_DB
    )
    ensure_database(os.environ["DATABASE_URL"])
    os.environ["REDIS_URL"] = with_redis_db(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), BENCH_REDIS_DB)
    os.environ["CELERY_BROKER_URL"] = os.environ["REDIS_URL"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # As in production: with DEBUG on, Django would also record every query it runs.
    os.environ["DJANGO_DEBUG"] = "false"
    # The bench arms in its own process, and the arm pass logs each armed notification at
    # INFO: 231,000 lines of a full run's log. Its processes run at WARNING, as the
    # workers' "-l warning" does; LOG_LEVEL=INFO make bench brings the lines back.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("NOTIFIER_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")


@dataclass
class Stub:
    process: subprocess.Popen[str]
    url: str
    log: Path

    def acknowledged(self) -> list[tuple[float, int]]:
        """(time, messages) per SNS call the stub answered."""
        if not self.log.exists():
            return []
        rows = (line.split() for line in self.log.read_text().splitlines() if line)
        return [(float(when), int(count)) for when, _, count in rows]

    def reset(self) -> None:
        self.log.write_text("")

    def calls(self) -> dict[str, int]:
        """Calls the stub has answered so far, per action ("sqs.ReceiveMessage": n, ...)."""
        with urllib.request.urlopen(f"{self.url}/calls", timeout=10) as reply:
            return json.loads(reply.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_stub(latency_ms: float, log: Path) -> Stub:
    """An SNS + SQS stub process on a free port (bench/sns_stub.py); the caller stops it."""
    log.write_text("")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "sns_stub.py"), "--latency-ms", str(latency_ms), "--log", str(log)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    return Stub(process, f"http://127.0.0.1:{int(process.stdout.readline())}", log)


@contextmanager
def sns_stub(latency_ms: float, work_dir: Path) -> Iterator[Stub]:
    stub = start_stub(latency_ms, work_dir / f"sns-{int(latency_ms)}ms.log")
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = stub.url
    from delivery.aws import reset_clients

    reset_clients()
    try:
        yield stub
    finally:
        stub.stop()
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
        reset_clients()


def spawn(name: str, args: list[str], work_dir: Path, extra_env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    log = (work_dir / f"{name}.log").open("w")
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def workers(
    count: int, concurrency: int, work_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[list[int]]:
    """``count`` Celery worker processes (prefork, ``concurrency`` children each); yields pids."""
    from config.celery_app import app

    processes = [
        spawn(f"worker{index}", ["-m", "celery", "-A", "config", "worker", "-l", "warning", "-c", str(concurrency),
               "-n", f"bench{index}-{os.getpid()}@%h", "--without-mingle", "--without-gossip", "--without-heartbeat",
               "-I", "bench.tasks"], work_dir, extra_env)
        for index in range(count)
    ]  # fmt: skip
    deadline = time.monotonic() + 60
    while len(app.control.ping(timeout=0.5) or []) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers did not start; see {work_dir}/worker*.log")
    try:
        yield [process.pid for process in processes]
    finally:
        stop(processes)


@contextmanager
def beat(work_dir: Path) -> Iterator[int]:
    """celery beat on django-celery-beat's DatabaseScheduler, as deployed; yields its pid."""
    process = spawn("beat", ["-m", "celery", "-A", "config", "beat", "-l", "warning"], work_dir, None)
    try:
        yield process.pid
    finally:
        stop([process])


def database_transactions(name: str | None = None) -> int:
    """Transactions a database (the bench's by default) has counted so far (every backend's,
    once flushed). Reading another database's count from here adds nothing to it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = COALESCE(%s, current_database())",
            [name],
        )
        return int(cursor.fetchone()[0])


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (a prefork worker's pool)."""
    total = 0
    for candidate in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total


class RssSampler(threading.Thread):
    """Samples process trees' resident memory (summed) every ``every`` seconds until stopped;
    ``peak_kib`` is the largest sample (a burst's memory, next to the idle worker's)."""

    def __init__(self, pids: list[int], every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pids, self.every, self.peak_kib = pids, every, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_kib = max(self.peak_kib, sum(rss_kib(pid) for pid in self.pids))
            self.done.wait(self.every)

    def __enter__(self) -> RssSampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for candidate in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{candidate}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in children:
            found.append(int(child))
            found.extend(_children(int(child)))
    return found


def plant_events(*, count: int, first: datetime, spread: timedelta, lead_minutes: int = 10) -> int:
    """``count`` scheduled events on one topic, starting from ``first`` evenly over
    ``spread``; returns the topic id. Planned by nobody yet."""
    from django.db import connection

    from events.models import Topic

    topic = Topic.objects.create(
        slug=f"bench-{time.time_ns()}", name="Bench", default_lead_minutes=lead_minutes,
        sns_topic_arn="arn:aws:sns:us-east-1:000000000000:bench",
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO events_event (topic_id, title, description, starts_at, lead_minutes, status,
                                      created_at, updated_at)
            SELECT %(topic)s, 'Bench event ' || n, '', %(first)s + (%(spread)s * (n - 1) / GREATEST(%(count)s, 1)),
                   NULL, 'scheduled', now(), now()
            FROM generate_series(1, %(count)s) AS n
            """,
            {"topic": topic.pk, "first": first, "spread": spread, "count": count},
        )
    return topic.pk


def clean_database() -> None:
    """Empty what benchmarks write, between runs."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE delivery_deliveryattempt, delivery_inboxmessage, delivery_notification, events_event, "
            "events_topic, django_celery_beat_periodictask, django_celery_beat_clockedschedule CASCADE"
        )


def flush_broker() -> None:
    from notifier.redis_client import redis_client

    client = redis_client()
    assert client.connection_pool.connection_kwargs.get("db") == BENCH_REDIS_DB
    client.flushdb()
