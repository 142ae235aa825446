"""The scenarios, each for this engine and for the designs a user would otherwise pick.

Every function returns a flat dict of figures for one run; ``bench/run.py`` repeats,
takes medians and writes the tables. Nothing here asserts a timing.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from statistics import quantiles

from bench.harness import (
    ROOT,
    RssSampler,
    beat,
    clean_database,
    flush_broker,
    plant_events,
    rss_kib,
    workers,
)

LEAD = 10  # minutes


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p99": float("nan"), "p99.9": float("nan"), "max": float("nan")}
    if len(values) == 1:
        return {"p50": values[0], "p99": values[0], "p99.9": values[0], "max": values[0]}
    cuts = quantiles(values, n=1000, method="inclusive")
    return {"p50": cuts[499], "p99": cuts[989], "p99.9": cuts[998], "max": max(values)}


def _finish(process: subprocess.Popen, what: str) -> resource.struct_rusage:
    """Wait for a benchmark child; returns its resource usage (peak RSS, CPU)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({process.returncode}): {what}")
    return usage


def _child(code: str) -> tuple[dict, int]:
    """Run ``code`` in a fresh Django process; returns (its JSON line, its peak RSS in KiB)."""
    prelude = "import django, json, time; django.setup()\n"
    process = subprocess.Popen([sys.executable, "-c", prelude + code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    usage = _finish(process, code[:80])
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss


# --- plan ---------------------------------------------------------------------------


def plan_engine(events: int) -> dict:
    """The nightly plan: set-based INSERT of every notification due in the window."""
    _plant_day(events)
    figures, peak = _child(
        "from notifier.services import window_plan\n"
        "t = time.perf_counter(); r = window_plan(hours=24); wall = time.perf_counter() - t\n"
        "print(json.dumps({'planned': len(r.planned), 'wall_s': wall}))"
    )
    return _plan_figures(figures, peak)


def plan_clocked(events: int) -> dict:
    """django-celery-beat: one ClockedSchedule + one-off PeriodicTask per notification."""
    _plant_day(events)
    figures, peak = _child(
        "from bench.scenarios import clocked_tasks\n"
        "from delivery.models import Notification\n"
        "from notifier.services import window_plan\n"
        "window_plan(hours=24)\n"  # the ledger rows exist for every design (same data)
        "todo = list(Notification.objects.values_list('pk', 'due_at'))\n"
        "t = time.perf_counter(); clocked_tasks(todo); wall = time.perf_counter() - t\n"
        "print(json.dumps({'planned': len(todo), 'wall_s': wall}))"
    )
    return _plan_figures(figures, peak)


def _plan_figures(figures: dict, peak_kib: int) -> dict:
    return {"notifications": figures["planned"], "wall_s": figures["wall_s"],
            "per_s": figures["planned"] / figures["wall_s"], "peak_rss_mib": peak_kib / 1024}  # fmt: skip


def _plant_day(events: int) -> None:
    clean_database()
    flush_broker()
    from django.utils import timezone

    plant_events(count=events, first=timezone.now() + timedelta(minutes=LEAD + 6), spread=timedelta(hours=23),
                 lead_minutes=LEAD)  # fmt: skip


# --- arm ----------------------------------------------------------------------------


def _plant_soon(count: int, *, seconds_ahead: float, spread_s: float) -> int:
    """``count`` notifications planned, due ``seconds_ahead`` from now over ``spread_s``."""
    clean_database()
    flush_broker()
    from django.utils import timezone

    from notifier.planning import plan_window

    first = timezone.now() + timedelta(minutes=LEAD, seconds=seconds_ahead)
    plant_events(count=count, first=first, spread=timedelta(seconds=spread_s), lead_minutes=LEAD)
    return len(plan_window(hours=1).planned)  # planned only: each design arms its own way


def arm_engine(count: int) -> dict:
    """Claim the rows due within the horizon and enqueue one ETA task per due instant.

    The rows are due 20-22 minutes out (past the horizon, so planning leaves them
    planned) and the pass runs as of 18 minutes later, when they are within it."""
    _plant_soon(count, seconds_ahead=20 * 60, spread_s=120)
    from django.utils import timezone

    from notifier.arming import arm

    started = time.perf_counter()
    armed = arm(now=timezone.now() + timedelta(minutes=18))
    wall = time.perf_counter() - started
    tasks = _queued_tasks()
    return {"notifications": len(armed.armed), "tasks": tasks, "wall_s": wall, "per_s": len(armed.armed) / wall}


def arm_apply_async(count: int) -> dict:
    """What a one-task-per-notification design does: ``apply_async`` per row."""
    _plant_soon(count, seconds_ahead=20 * 60, spread_s=120)
    from bench.tasks import fire_one
    from delivery.models import Notification

    todo = list(Notification.objects.values_list("pk", "due_at"))
    started = time.perf_counter()
    for pk, due in todo:
        fire_one.apply_async(args=[pk], eta=due)
    wall = time.perf_counter() - started
    return {"notifications": len(todo), "tasks": len(todo), "wall_s": wall, "per_s": len(todo) / wall}


def _queued_tasks() -> int:
    from notifier.redis_client import redis_client

    client = redis_client()
    return client.llen("celery")


# --- burst and steady ----------------------------------------------------------------


def _wait_for_outcomes(total: int, timeout: float) -> None:
    from delivery.models import Notification, NotificationState

    live = (NotificationState.PLANNED, NotificationState.ARMED, NotificationState.SENDING)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Notification.objects.filter(state__in=live).exists():
            return
        time.sleep(0.25)


def _lags() -> tuple[list[float], int, float]:
    """(lags in seconds of sent rows, rows not sent, drain seconds: last ack - first due)."""
    from django.db.models import Max, Min

    from delivery.models import Notification, NotificationState

    sent = Notification.objects.filter(state=NotificationState.SENT)
    lags = [ms / 1000 for ms in sent.values_list("lag_ms", flat=True)]
    edges = sent.aggregate(first_due=Min("due_at"), last_sent=Max("sent_at"))
    drain = (edges["last_sent"] - edges["first_due"]).total_seconds() if edges["last_sent"] else float("nan")
    return lags, Notification.objects.exclude(state=NotificationState.SENT).count(), drain


def _arm_one_task_each(*, clocked: bool) -> None:
    """The peers' arming: one Celery task per notification, as an ETA task (literal) or
    as a django-celery-beat clocked one-off task that beat sends when due (clocked)."""
    from bench.tasks import fire_one
    from delivery.models import Notification, NotificationState

    todo = list(Notification.objects.values_list("pk", "due_at"))
    Notification.objects.update(state=NotificationState.ARMED)
    if clocked:
        clocked_tasks(todo)
        return
    with fire_one.app.producer_or_acquire() as producer:
        for pk, due in todo:
            fire_one.apply_async(args=[pk], eta=due, producer=producer)


def clocked_tasks(todo: list) -> None:
    """One ClockedSchedule + one-off PeriodicTask per (notification id, due time)."""
    from django.db import transaction
    from django_celery_beat.models import ClockedSchedule, PeriodicTask

    with transaction.atomic():
        clocks = ClockedSchedule.objects.bulk_create([ClockedSchedule(clocked_time=due) for _, due in todo], 2000)
        PeriodicTask.objects.bulk_create(
            [PeriodicTask(name=f"n{pk}", task="bench.fire_one", args=f"[{pk}]", one_off=True, clocked=clock)
             for (pk, _), clock in zip(todo, clocks, strict=True)], 2000,
        )  # fmt: skip


def _poll(*, first_poll_in: float, run_for: float, until_sent: int = 0, interval: float = 60) -> float:
    """Run the polling peer (bench/polling.py) to its end; returns the CPU seconds it used."""
    args = ["--interval", str(interval), "--first-poll-in", str(first_poll_in), "--run-for", str(run_for),
            "--until-sent", str(until_sent)]  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "bench.polling", *args], cwd=ROOT, stdout=subprocess.DEVNULL)
    usage = _finish(process, "the polling peer")
    return usage.ru_utime + usage.ru_stime


def _lag_figures(count: int) -> dict:
    lags, unsent, drain = _lags()
    return {"notifications": count, **{f"lag_{k}_s": v for k, v in _percentiles(lags).items()},
            "drain_s": drain, "drain_per_s": len(lags) / drain if drain else float("nan"),
            "not_sent": unsent}  # fmt: skip


BURST_DESIGNS = ("engine", "literal", "clocked", "polling", "polling_1s")
POLL_INTERVALS = {"polling": 60.0, "polling_1s": 1.0}  # the polling peers: a minute, a second


def _poll_interval(design: str, minute_poll_s: float) -> float:
    """A polling peer's interval; tiny shortens the minute poller's (a smoke run)."""
    return minute_poll_s if design == "polling" else POLL_INTERVALS[design]


def burst(
    count: int,
    *,
    design: str,
    workers_spec: tuple[int, int],
    work_dir: Path,
    lead_in: float = 20.0,
    minute_poll_s: float = 60.0,
) -> dict:
    """``count`` notifications due in the same second; lag = SNS ack - due (the ledger's lag_ms).

    A polling peer's next poll comes half its interval after the due second: its average
    case. The engine's figures add its worker's peak RSS during the burst beside its RSS
    before it (sampled every 0.2 s): memory flat in the burst's size. ``lead_in``: seconds
    from planting to the due second, for the workers to start and the arm pass to run;
    ``minute_poll_s``: the minute poller's interval (tiny shortens it: a smoke run)."""
    _plant_soon(count, seconds_ahead=lead_in, spread_s=0)
    if design in POLL_INTERVALS:
        interval = _poll_interval(design, minute_poll_s)
        first = lead_in + interval / 2
        _poll(first_poll_in=first, run_for=first + 300, until_sent=count, interval=interval)
        return _lag_figures(count)
    memory: dict[str, float] = {}
    with ExitStack() as running:
        if design == "engine":
            pids = running.enter_context(workers(*workers_spec, work_dir))
            from notifier.arming import arm

            memory["worker_rss_idle_mib"] = sum(rss_kib(pid) for pid in pids) / 1024
            sampler = running.enter_context(RssSampler(pids))
            arm()
        else:
            _arm_one_task_each(clocked=design == "clocked")
            running.enter_context(workers(*workers_spec, work_dir))
            if design == "clocked":
                running.enter_context(beat(work_dir))
        _wait_for_outcomes(count, timeout=lead_in + 180 + count / 100)
        if memory:
            memory["worker_rss_peak_mib"] = sampler.peak_kib / 1024
    return {**_lag_figures(count), **memory}


def steady(
    rate: float,
    seconds: float,
    *,
    design: str,
    workers_spec: tuple[int, int],
    work_dir: Path,
    lead_in: float = 15.0,
    minute_poll_s: float = 60.0,
) -> dict:
    """``rate`` notifications a second, each due at its own instant; the engine's are armed
    by one arm pass (its horizon covers them all), the polling peer polls once a minute."""
    count = int(rate * seconds)
    _plant_soon(count, seconds_ahead=lead_in, spread_s=seconds)
    if design in POLL_INTERVALS:
        interval = _poll_interval(design, minute_poll_s)
        _poll(first_poll_in=0, run_for=lead_in + seconds + interval + 1, until_sent=count, interval=interval)
        return _lag_figures(count)
    from notifier.arming import arm

    with workers(*workers_spec, work_dir):
        arm()
        _wait_for_outcomes(count, timeout=lead_in + seconds + 60)
    return _lag_figures(count)


# --- raw ceiling --------------------------------------------------------------------


def sample_message() -> str:
    """The body the engine publishes for one notification, rendered by the engine itself."""
    from django.utils import timezone

    from delivery.channels import adapters
    from delivery.messages import facts_document
    from delivery.rendering import MessageFacts, Renderer

    now = timezone.now()
    facts = MessageFacts(
        notification_id=1, key="k" * 64, event_id=1, title="Bench event 1", description="", topic_slug="bench",
        topic_name="Bench", starts_at=now + timedelta(minutes=LEAD), due_at=now, lead_minutes=LEAD,
    )  # fmt: skip
    bodies = {"default": json.dumps(facts_document(facts), separators=(",", ":"))}
    for channel in adapters():
        bodies.update(channel.bodies(facts, Renderer({})))
    return json.dumps(bodies, separators=(",", ":"))


def raw_ceiling(count: int, *, processes: int, threads: int, batch: bool, work_dir: Path) -> dict:
    """A bare boto3 loop publishing the engine's message against the same stub, with the
    engine's concurrency (processes x threads): ``publish`` per message, or ``publish_batch``
    of ten."""
    message = work_dir / "message.json"
    message.write_text(sample_message())
    per_process = count // processes
    code = (
        "import boto3, time, sys\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        f"n, threads, batch = {per_process}, {threads}, {batch}\n"
        f"message = open({str(message)!r}).read()\n"
        "c = boto3.client('sns', region_name='us-east-1')\n"
        "arn = 'arn:aws:sns:us-east-1:000000000000:bench'\n"
        "c.publish(TopicArn=arn, Message='warm')\n"
        "def one(i):\n"
        "    c.publish(TopicArn=arn, Message=message, MessageStructure='json')\n"
        "def ten(i):\n"
        "    c.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[\n"
        "        {'Id': str(k), 'Message': message, 'MessageStructure': 'json'} for k in range(10)])\n"
        "t = time.perf_counter()\n"
        "with ThreadPoolExecutor(threads) as pool:\n"
        "    list(pool.map(ten, range(n // 10))) if batch else list(pool.map(one, range(n)))\n"
        "print(time.perf_counter() - t)\n"
    )
    children = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
                for _ in range(processes)]  # fmt: skip
    wall = max(float(child.communicate()[0].strip().splitlines()[-1]) for child in children)
    return {"notifications": per_process * processes, "wall_s": wall, "per_s": per_process * processes / wall}


# Idle cost: bench/idle.py (every design side by side, each on its own database).


# --- memory -------------------------------------------------------------------------


def worker_memory(count: int, *, design: str, work_dir: Path) -> dict:
    """Worker RSS with ``count`` notifications planned for the day. The engine's worker
    holds nothing until the horizon; the literal design's worker holds every ETA task."""
    _plant_day(count)
    from notifier.services import window_plan

    window_plan(hours=24)
    if design == "literal":
        _arm_one_task_each(clocked=False)
    with workers(1, 2, work_dir) as pids:
        deadline = time.monotonic() + 120
        while _queued_tasks() and time.monotonic() < deadline:  # ETA tasks move into the worker
            time.sleep(0.5)
        time.sleep(2)
        rss, held_in_broker = rss_kib(pids[0]), _queued_tasks()
    flush_broker()
    return {"planned": count, "held_in_broker": held_in_broker, "worker_rss_mib": rss / 1024}
