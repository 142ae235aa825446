"""``make bench``: this engine side by side with the designs users would otherwise pick,
on real PostgreSQL, Redis and Celery worker processes, against a local SNS stub with
0 ms and 20 ms of latency. Writes bench/results/<date>-<size>.{md,json}.

    python bench/run.py --size tiny|quick|full [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import harness

# "latencies": the SNS stub's answer delays, in ms; tiny (CI: does the bench still run?) takes +0 only.
SIZES = {
    "tiny": {"plan": 1_000, "arm": 500, "burst": 100, "steady_rate": 5, "steady_s": 4, "raw": 200, "idle_s": 10,
             "console": 2_000, "repeat": 1, "latencies": (0,)},
    "quick": {"plan": 20_000, "arm": 5_000, "burst": 5_000, "steady_rate": 10, "steady_s": 60, "raw": 5_000,
              "idle_s": 120, "console": 100_000, "repeat": 3, "latencies": (0, 20)},
    "full": {"plan": 100_000, "arm": 20_000, "burst": 5_000, "steady_rate": 10, "steady_s": 180, "raw": 10_000,
             "idle_s": 600, "console": 1_000_000, "repeat": 5, "latencies": (0, 20)},
}  # fmt: skip
ROOT = harness.ROOT
WORKERS = (1, 4)  # worker processes, pool children each
SCENARIOS = ("plan", "arm", "memory", "idle", "raw", "burst", "steady", "console")


def repeat(times: int, run: Callable[[], dict]) -> dict:
    """Median of each figure over ``times`` runs, with the spread (min-max)."""
    runs = [run() for _ in range(times)]
    summary: dict = {"runs": runs}
    for key in runs[0]:
        values = [r[key] for r in runs if isinstance(r[key], (int, float))]
        if values:
            summary[key] = statistics.median(values)
            summary[f"{key}_spread"] = [min(values), max(values)]
    return summary


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
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit.stdout.strip() or "unknown",
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
    args = parser.parse_args()
    size = SIZES[args.size]
    times = args.repeat or size["repeat"]
    only = set(args.only.split(","))
    if only - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(only - set(SCENARIOS)))}")

    harness.configure_environment()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench import dashboard, scenarios
    from bench.report import write_report

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    threads = settings.NOTIFIER_FIRE_THREADS
    results: dict = {"environment": environment(), "size": args.size, "repeat": times, "workers": WORKERS,
                     "fire_threads": threads}  # fmt: skip
    say = lambda text: print(f"[bench] {text}", flush=True)  # noqa: E731

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
        say(f"idle cost over {size['idle_s']} s")
        results["idle"] = {
            design: repeat(1, lambda d=design: scenarios.idle(size["idle_s"], design=d, work_dir=work))
            for design in ("engine", "polling")
        }
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
            # The polling peer's lag is its poll interval, whatever SNS's latency: run it once.
            designs = scenarios.BURST_DESIGNS if latency == 0 else ("engine", "literal", "clocked")
            if "burst" in only:
                say(f"SNS stub +{latency} ms: burst of {size['burst']} ({', '.join(designs)})")
                results[f"burst_{latency}ms"] = {
                    design: repeat(times, lambda d=design: scenarios.burst(
                        size["burst"], design=d, workers_spec=WORKERS, work_dir=work))
                    for design in designs
                }  # fmt: skip
            if "steady" in only:
                say(f"SNS stub +{latency} ms: steady {size['steady_rate']}/s for {size['steady_s']} s")
                results[f"steady_{latency}ms"] = {
                    design: repeat(times, lambda d=design: scenarios.steady(
                        size["steady_rate"], size["steady_s"], design=d, workers_spec=WORKERS, work_dir=work))
                    for design in (("engine", "polling") if latency == 0 else ("engine",))
                }  # fmt: skip
    harness.clean_database()
    harness.flush_broker()
    paths = write_report(results, ROOT / "bench" / "results")
    say(f"wrote {', '.join(str(p.relative_to(ROOT)) for p in paths)}")


if __name__ == "__main__":
    main()
