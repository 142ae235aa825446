"""``make bench``: this engine side by side with the designs users would otherwise pick,
on real PostgreSQL, Redis and Celery worker processes, against a local SNS stub with
0, 20 and 100 ms of latency. Writes bench/results/<date>-<size>[-<label>].{md,json}.

    python bench/run.py --size tiny|quick|full [--repeat N] [--only ...] [--label NAME]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import harness
from bench.idle import IDLE_DESIGNS, SETTLE_S

# "latencies": the SNS stub's answer delays, in ms (+100: a slow region); tiny (CI: does the bench
# still run?) runs every scenario's code path, small. "burst_big": the engine-only burst at +0 ms.
# "capacity": the pool sizes (children of one worker process) of the capacity check, at +20 ms.
SIZES = {
    "tiny": {"plan": 1_000, "arm": 500, "burst": 100, "burst_big": 300, "steady_rate": 5, "steady_s": 4, "raw": 200,
             "idle_s": 10, "console": 2_000, "repeat": 1, "latencies": (0,), "capacity": (1,), "lead_s": 5,
             "minute_poll_s": 6},
    "quick": {"plan": 20_000, "arm": 5_000, "burst": 5_000, "burst_big": 30_000, "steady_rate": 10, "steady_s": 60,
              "raw": 5_000, "idle_s": 120, "console": 100_000, "repeat": 3, "latencies": (0, 20, 100),
              "capacity": (1, 2)},
    "full": {"plan": 100_000, "arm": 20_000, "burst": 5_000, "burst_big": 30_000, "steady_rate": 10, "steady_s": 100,
             "raw": 10_000, "idle_s": 600, "console": 1_000_000, "repeat": 3, "latencies": (0, 20, 100),
             "capacity": (1, 2)},
}  # fmt: skip
ROOT = harness.ROOT
WORKERS = (1, 4)  # worker processes, pool children each
SLOW_LATENCY = 100  # ms: a slow region, burst only
CAPACITY_LATENCY = 20  # ms: the capacity check's SNS latency (its 4-children row is the burst's own);
# tiny, which runs +0 ms only, checks its code path there.
SCENARIOS = ("plan", "arm", "memory", "idle", "raw", "burst", "steady", "console")


def summarise(runs: list[dict]) -> dict:
    """Median of each figure over ``runs``, with the spread (min-max)."""
    summary: dict = {"runs": runs}
    for key in runs[0]:
        values = [r[key] for r in runs if isinstance(r[key], (int, float))]
        if values:
            summary[key] = statistics.median(values)
            summary[f"{key}_spread"] = [min(values), max(values)]
    return summary


def repeat(times: int, run: Callable[[], dict]) -> dict:
    """Median of each figure over ``times`` runs, with the spread (min-max)."""
    return summarise([run() for _ in range(times)])


def estimate_seconds(size: dict, times: int, only: set[str]) -> float:
    """A rough wall time of the run on a 2-core machine (start-ups, lead-ins, drains), printed
    at the start so nobody starts a full run by mistake."""
    start, lead, minute = 10, size.get("lead_s", 20), size.get("minute_poll_s", 60)  # a worker's start + stop
    latencies, burst, steady_s = size["latencies"], size["burst"], size["steady_s"]
    fast = [latency for latency in latencies if latency != SLOW_LATENCY]  # literal, clocked and steady run there

    def engine(count: int) -> float:
        return start + lead + 3 + count / 1_000

    def peer(count: int) -> float:  # literal, clocked: one task each (measured: 5,000 in 65-90 s)
        return start + lead + 5 + count / 75

    def poller(count: int, interval: float) -> float:  # first poll half an interval after the due second
        return lead + interval / 2 + 3 + count / 200

    cost = {
        "plan": 2 * (size["plan"] / 4_000 + 5),
        "arm": 2 * (size["arm"] / 2_000 + 3),
        "memory": 2 * (start + 5 + size["plan"] / 2_000),
        "raw": len(latencies) * 2 * (3 + size["raw"] / 1_500),
        "burst": len(latencies) * engine(burst) + 2 * len(fast) * peer(burst) + poller(burst, minute)
        + poller(burst, 1) + engine(size["burst_big"]) + len(size["capacity"]) * (engine(burst) + burst / 1_000),
        "steady": len(fast) * (start + 15 + steady_s + 5) + (15 + steady_s + minute + 3) + (15 + steady_s + 4),
    }  # fmt: skip
    total = sum(figure * times for name, figure in cost.items() if name in only)
    if "idle" in only:  # side by side: one idle period per window, after copying, starting, settling
        total += 20 + 30 + SETTLE_S + size["idle_s"] * times + 25
    if "console" in only:
        total += 30 + size["console"] / 15_000
    return total


def environment() -> dict:
    import celery
    import django
    from django.db import connection

    from notifier.redis_client import redis_client

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())  # fmt: skip
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    # Tracked files changed since that commit: the figures are not that commit's.
    changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                             check=False)  # fmt: skip
    dirty = " with uncommitted changes" if changed.stdout.strip() else ""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": (commit.stdout.strip() or "unknown") + dirty,
        "machine": f"{os.cpu_count()} cores, {model}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "celery": celery.__version__,
        "postgres": postgres,
        "redis": redis_client().info()["redis_version"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="quick")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated, of {', '.join(SCENARIOS)}")
    parser.add_argument("--idle-seconds", type=float, default=None, help=argparse.SUPPRESS)  # for a short check
    parser.add_argument("--label", default="", help="added to the results' file names, so a partial run "
                        "(--only) does not replace the day's other results of that size")  # fmt: skip
    args = parser.parse_args()
    size = dict(SIZES[args.size])
    if args.idle_seconds:
        size["idle_s"] = args.idle_seconds
    times = args.repeat or size["repeat"]
    capacity_latency = CAPACITY_LATENCY if CAPACITY_LATENCY in size["latencies"] else size["latencies"][-1]
    only = set(args.only.split(","))
    if only - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(only - set(SCENARIOS)))}")
    if not re.fullmatch(r"[a-z0-9-]*", args.label):
        parser.error(f"--label takes lowercase letters, digits and dashes (a file name part), got {args.label!r}")
    started = time.monotonic()
    say = lambda text: print(f"[bench] {text}", flush=True)  # noqa: E731
    estimate = estimate_seconds(size, times, only)
    say(f"size {args.size}, {times} repeat(s): estimated wall time {estimate / 60:.0f} min ({estimate:.0f} s)")

    harness.configure_environment()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench import dashboard, scenarios
    from bench.idle import idle_side_by_side
    from bench.report import write_report

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    # Tiny shortens the lead-in before the due second (the workers' start and the arm pass)
    # and the minute poller's interval: a smoke run, its lags are not judged.
    lead = {"lead_in": size["lead_s"], "minute_poll_s": size["minute_poll_s"]} if "lead_s" in size else {}
    threads = settings.NOTIFIER_FIRE_THREADS
    results: dict = {"environment": environment(), "size": args.size, "repeat": times, "workers": WORKERS,
                     "fire_threads": threads, "estimated_s": estimate,
                     "capacity_latency": capacity_latency, "label": args.label}  # fmt: skip

    if "plan" in only:
        say(f"plan {size['plan']} events")
        results["plan"] = {
            "engine": repeat(times, lambda: scenarios.plan_engine(size["plan"])),
            "clocked": repeat(times, lambda: scenarios.plan_clocked(size["plan"])),
        }
    if "arm" in only:
        say(f"arm {size['arm']} notifications")
        results["arm"] = {
            "engine": repeat(times, lambda: scenarios.arm_engine(size["arm"])),
            "apply_async": repeat(times, lambda: scenarios.arm_apply_async(size["arm"])),
        }
    if "memory" in only:
        say(f"worker memory with {size['plan']} planned for the day")
        results["memory"] = {
            design: repeat(times, lambda d=design: scenarios.worker_memory(size["plan"], design=d, work_dir=work))
            for design in ("engine", "literal")
        }
    if "idle" in only:
        say(f"idle cost, {', '.join(IDLE_DESIGNS)} side by side: {times} window(s) of {size['idle_s']:.0f} s")
        runs = idle_side_by_side(size["idle_s"], times, work)
        results["idle"] = {design: summarise(design_runs) for design, design_runs in runs.items()}
    if "console" in only:
        say(f"console: dashboard and forecast over {size['console']:,} ledger rows")
        results["console"] = dashboard.console(size["console"])
    for latency in size["latencies"]:
        if not only & {"raw", "burst", "steady"}:
            break
        with harness.sns_stub(latency, work):
            if "raw" in only:
                say(f"SNS stub +{latency} ms: raw ceilings")
                results[f"raw_{latency}ms"] = {
                    kind: repeat(times, lambda b=kind == "batch": scenarios.raw_ceiling(
                        size["raw"], processes=WORKERS[0] * WORKERS[1], threads=threads, batch=b, work_dir=work))
                    for kind in ("publish", "batch")
                }  # fmt: skip
            # The polling peers' lag is their poll interval, whatever SNS's latency: run them once.
            # +100 ms (a slow region) is the engine's alone, beside the raw ceilings.
            designs = {0: scenarios.BURST_DESIGNS, SLOW_LATENCY: ("engine",)}.get(
                latency, ("engine", "literal", "clocked")
            )
            if "burst" in only:
                say(f"SNS stub +{latency} ms: burst of {size['burst']} ({', '.join(designs)})")
                results[f"burst_{latency}ms"] = {
                    design: repeat(times, lambda d=design: scenarios.burst(
                        size["burst"], design=d, workers_spec=WORKERS, work_dir=work, **lead))
                    for design in designs
                }  # fmt: skip
                if latency == 0:
                    say(f"SNS stub +0 ms: burst of {size['burst_big']} (engine)")
                    results["burst_big_0ms"] = {"engine": repeat(times, lambda: scenarios.burst(
                        size["burst_big"], design="engine", workers_spec=WORKERS, work_dir=work, **lead))}  # fmt: skip
                if latency == capacity_latency:
                    say(f"SNS stub +{latency} ms: capacity, burst of {size['burst']} with 1 worker x "
                        f"{', '.join(map(str, size['capacity']))} children")  # fmt: skip
                    results["capacity"] = {
                        str(children): repeat(times, lambda c=children: scenarios.burst(
                            size["burst"], design="engine", workers_spec=(1, c), work_dir=work, **lead))
                        for children in size["capacity"] if (1, children) != WORKERS
                    }  # fmt: skip
                    results["capacity"][str(WORKERS[1])] = results[f"burst_{latency}ms"]["engine"]
            if "steady" in only and latency != SLOW_LATENCY:  # p99.9 is judged at +0 and +20 ms
                say(f"SNS stub +{latency} ms: steady {size['steady_rate']}/s for {size['steady_s']} s")
                results[f"steady_{latency}ms"] = {
                    design: repeat(times, lambda d=design: scenarios.steady(
                        size["steady_rate"], size["steady_s"], design=d, workers_spec=WORKERS, work_dir=work, **lead))
                    for design in (("engine", *scenarios.POLL_INTERVALS) if latency == 0 else ("engine",))
                }  # fmt: skip
    harness.clean_database()
    harness.flush_broker()
    results["wall_s"] = time.monotonic() - started
    paths = write_report(results, ROOT / "bench" / "results")
    say(f"wrote {', '.join(str(p.relative_to(ROOT)) for p in paths)}")
    say(f"wall time {results['wall_s'] / 60:.1f} min (estimated {estimate / 60:.0f} min)")


if __name__ == "__main__":
    main()
