"""Liveness heartbeats of real worker, beat and inbox consumer processes, checked with
the probe the kubelet runs: fresh while a worker's only pool process is busy, stale once
the worker's main loop stops (SIGSTOP)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.celery_app import app
from config.heartbeat import heartbeat_age, heartbeat_path
from config.worker_heartbeat import HEARTBEAT_INTERVAL_SECONDS
from delivery.management.commands.consume_inbox import SUPERVISE_SECONDS
from tests.engine import ROOT, engine_env
from tests.faults.rig import RedisServer, wait_until
from tests.ops.test_heartbeat import probe

HEARTBEAT_LIMIT = 40  # above the worker's interval, HEARTBEAT_INTERVAL_SECONDS


@pytest.fixture
def broker(tmp_path):
    """A Redis of the test's own: nothing it enqueues reaches another test's worker."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server.url
    server.kill()


def start(argv: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_for_heartbeat(directory: Path, role: str, process: subprocess.Popen[bytes], log: Path) -> None:
    def fresh() -> bool:
        assert process.poll() is None, log.read_text()
        age = heartbeat_age(heartbeat_path(str(directory), role))
        return age is not None and age < HEARTBEAT_LIMIT

    wait_until(fresh, 60, f"the {role} heartbeat; see {log}", step=0.5)
    assert probe(directory, role, "--max-age", str(HEARTBEAT_LIMIT)).returncode == 0


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGCONT)
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.django_db
def test_worker_heartbeat_stays_fresh_while_busy_and_goes_stale_when_its_loop_stops(tmp_path, broker):
    env = engine_env(REDIS_URL=broker, CELERY_BROKER_URL=broker, NOTIFIER_HEARTBEAT_DIR=str(tmp_path))
    log = tmp_path / "worker.log"
    worker = start(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "info", "-c", "1", "-n", "liveness@%h",
         "--include", "tests.ops.slow_task", "--without-mingle", "--without-gossip"],
        env=env, log=log,
    )  # fmt: skip
    try:
        wait_for_heartbeat(tmp_path, "worker", worker, log)
        busy = HEARTBEAT_INTERVAL_SECONDS + 5
        app.send_task("tests.ops.sleep", args=[busy + 5], connection=app.connection_for_write(broker))
        wait_until(lambda: "tests.ops.sleep[" in log.read_text(), 20, "the worker to take the slow task")
        ages = []
        for _ in range(int(busy)):  # with the only pool process busy
            time.sleep(1)
            ages.append(heartbeat_age(heartbeat_path(str(tmp_path), "worker")))
        assert max(ages) < HEARTBEAT_INTERVAL_SECONDS + 2, ages  # the main loop beats regardless
        assert "succeeded" not in log.read_text(), "the task should still be running"

        os.kill(worker.pid, signal.SIGSTOP)  # the main loop stops; pool children are untouched
        time.sleep(HEARTBEAT_INTERVAL_SECONDS + 4)
        stale = probe(tmp_path, "worker", "--max-age", str(HEARTBEAT_INTERVAL_SECONDS + 2))
        assert stale.returncode == 1 and "worker heartbeat is" in stale.stderr
    finally:
        stop(worker)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("role", "argv"),
    [
        ("beat", ["-m", "celery", "-A", "config", "beat", "-l", "info", "--schedule", "{tmp}/beat-schedule"]),
        ("inbox", ["manage.py", "consume_inbox", "--wait", "1"]),
    ],
)
def test_beat_and_inbox_heartbeats_follow_their_loops(tmp_path, broker, role, argv):
    """Beat beats on each tick (every 10 s here: no arm pass has set a wake hint, so the arm
    task is due every time), the consumer every SUPERVISE_SECONDS while its queue loops turn."""
    env = engine_env(REDIS_URL=broker, CELERY_BROKER_URL=broker, NOTIFIER_HEARTBEAT_DIR=str(tmp_path))
    log = tmp_path / f"{role}.log"
    process = start([sys.executable, *(arg.format(tmp=tmp_path) for arg in argv)], env=env, log=log)
    path = heartbeat_path(str(tmp_path), role)
    try:
        wait_for_heartbeat(tmp_path, role, process, log)
        first = path.stat().st_mtime
        within = 25 if role == "beat" else SUPERVISE_SECONDS + 10
        wait_until(lambda: path.stat().st_mtime > first, within, f"a later {role} heartbeat")
    finally:
        stop(process)
