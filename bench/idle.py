"""Idle cost, every design side by side: nothing is due, and each design waits as deployed.

- engine: worker (1 process x 4 children, as the Helm chart runs it) + beat + the inbox
  consumer (``manage.py consume_inbox``), canary off (NOTIFIER_CANARY_INTERVAL_SECONDS=0);
- engine_canary: the same with the canary at its default (every 300 s);
- polling_60s / polling_1s: bench/polling.py with --interval 60 / --interval 1.

Each design has its own database (``<BENCH_DB>_idle_<design>``, created and migrated here),
the engines each their own Redis db (BENCH_IDLE_REDIS_DBS) and every design its own SNS/SQS
stub, so the CPU seconds (all its processes, children included), the database transactions
(pg_stat_database of its database) and the SQS calls (its stub's count) are its own. They run
at once: idle, they hardly disturb each other, and the run takes one idle period, not four.
Every figure starts after start-up (workers answering a ping, then a settle) for every design
alike. Consecutive windows of one run are the repeats.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from bench.harness import BENCH_DB, ROOT, Stub, cpu_seconds, database_transactions, spawn, start_stub, stop

IDLE_DESIGNS = ("engine", "engine_canary", "polling_60s", "polling_1s")
# Redis dbs of the two engines' brokers: one each, never the bench's own (BENCH_REDIS_DB).
IDLE_REDIS_DBS = tuple(int(db) for db in os.environ.get("BENCH_IDLE_REDIS_DBS", "12,13").split(","))
SETTLE_S = 12.0  # start-up statistics flushed (PostgreSQL flushes idle backends' within 10 s)


@dataclass
class Design:
    name: str
    env: dict[str, str]
    stub: Stub
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def database(self) -> str:
        return f"{BENCH_DB}_idle_{self.name}"

    def snapshot(self) -> dict[str, float]:
        calls = self.stub.calls()
        return {
            "cpu_s": sum(cpu_seconds(process.pid) for process in self.processes),
            "db_transactions": database_transactions(self.database),
            "sqs_calls": sum(n for action, n in calls.items() if action.startswith("sqs.")),
            "sns_calls": sum(n for action, n in calls.items() if action.startswith("sns.")),
        }


def _design_env(name: str, stub: Stub, work_dir: Path) -> dict[str, str]:
    from scripts.services import with_database, with_redis_db

    heartbeats = work_dir / f"heartbeat-{name}"
    heartbeats.mkdir(exist_ok=True)
    env = {
        "DATABASE_URL": with_database(os.environ["DATABASE_URL"], f"{BENCH_DB}_idle_{name}"),
        "AWS_ENDPOINT_URL": stub.url,
        "NOTIFIER_HEARTBEAT_DIR": str(heartbeats),  # two consumers must not share heartbeat files
    }
    if name.startswith("engine"):
        redis = with_redis_db(os.environ["REDIS_URL"], IDLE_REDIS_DBS[IDLE_DESIGNS.index(name)])
        env.update(REDIS_URL=redis, CELERY_BROKER_URL=redis)
        env["NOTIFIER_CANARY_INTERVAL_SECONDS"] = "300" if name == "engine_canary" else "0"
    return env


def _prepare(designs: list[Design]) -> None:
    """Every design's database afresh, a copy of the bench's own (migrated, emptied): a copy
    takes a second where four migrations side by side take minutes. Then the beat schedule
    of each is synced with the design's own settings (the canary task or not)."""
    from django.db import connection

    from bench.harness import clean_database

    clean_database()
    connection.close()  # a template database must have no other session
    with connection.cursor() as cursor:
        for design in designs:
            cursor.execute(f'DROP DATABASE IF EXISTS "{design.database}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{design.database}" TEMPLATE "{BENCH_DB}"')
    connection.close()
    for design in designs:
        if "CELERY_BROKER_URL" in design.env:  # nothing left from an earlier run in its broker
            redis.Redis.from_url(design.env["CELERY_BROKER_URL"]).flushdb()
    syncs = [subprocess.Popen([sys.executable, "manage.py", "sync_beat_schedule"], cwd=ROOT,
                              env={**os.environ, **design.env}, stdout=subprocess.DEVNULL)
             for design in designs if design.name.startswith("engine")]  # fmt: skip
    if any(sync.wait() != 0 for sync in syncs):
        raise RuntimeError("sync_beat_schedule failed on an idle database")


def _start(design: Design, work_dir: Path) -> None:
    name, env = design.name, design.env
    if name.startswith("polling"):
        interval = name.removeprefix("polling_").removesuffix("s")
        design.processes.append(spawn(name, ["-m", "bench.polling", "--interval", interval, "--run-for", "86400"],
                                      work_dir, env))  # fmt: skip
        return
    design.processes += [
        # As the Helm chart runs it: mingle, gossip and heartbeat on.
        spawn(f"{name}-worker", ["-m", "celery", "-A", "config", "worker", "-l", "warning", "-c", "4",
              "-n", f"{name}-{os.getpid()}@%h"], work_dir, env),
        spawn(f"{name}-beat", ["-m", "celery", "-A", "config", "beat", "-l", "warning",
              "--schedule", str(work_dir / f"{name}-celerybeat-schedule")], work_dir, env),
        spawn(f"{name}-inbox", ["manage.py", "consume_inbox"], work_dir, env),
    ]  # fmt: skip


def _wait_for_worker(design: Design, work_dir: Path) -> None:
    """Until the design's worker answers a ping on its own broker. Asked from a process with
    the design's settings: this process's Celery app replies through the bench's broker."""
    env = {**os.environ, **design.env}
    deadline = time.monotonic() + 180
    ping = [sys.executable, "-m", "celery", "-A", "config", "inspect", "ping", "--timeout", "2"]
    while subprocess.run(ping, cwd=ROOT, env=env, capture_output=True, check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{design.name}: worker did not start; see {work_dir}/{design.name}-worker.log")


def idle_side_by_side(seconds: float, windows: int, work_dir: Path) -> dict[str, list[dict]]:
    """``windows`` consecutive windows of ``seconds`` each; per design, the figures per hour
    of each window."""
    designs = []
    try:
        for name in IDLE_DESIGNS:
            stub = start_stub(0, work_dir / f"idle-{name}-sns.log")
            designs.append(Design(name, _design_env(name, stub, work_dir), stub))
        _prepare(designs)
        for design in designs:
            _start(design, work_dir)
        for design in designs:
            if design.name.startswith("engine"):
                _wait_for_worker(design, work_dir)
        time.sleep(SETTLE_S)
        for design in designs:
            if any(process.poll() is not None for process in design.processes):
                raise RuntimeError(f"{design.name}: a process died at start-up; see {work_dir}/{design.name}*.log")
        before = {design.name: design.snapshot() for design in designs}
        started = time.perf_counter()
        runs: dict[str, list[dict]] = {design.name: [] for design in designs}
        for _ in range(windows):
            time.sleep(seconds)
            wall, started = time.perf_counter() - started, time.perf_counter()
            for design in designs:
                after = design.snapshot()
                per_hour = 3600 / wall
                runs[design.name].append(
                    {"seconds": wall, **{f"{key}_per_hour": (after[key] - before[design.name][key]) * per_hour
                                         for key in after}}
                )  # fmt: skip
                before[design.name] = after
        return runs
    finally:
        for design in designs:
            stop(design.processes)
            design.stub.stop()
