"""The Markdown table and JSON file of a benchmark run, with ratios to this engine and
the DESIGN.md section 8 targets marked met or not (reported, never asserted)."""

from __future__ import annotations

import json
import math
from pathlib import Path


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _ratio(engine: float | None, other: float | None, *, higher_is_better: bool) -> str:
    if not engine or not other or math.isnan(engine) or math.isnan(other):
        return "n/a"
    ratio = engine / other if higher_is_better else other / engine
    return f"{ratio:.1f}x"


def _spread(block: dict, key: str) -> str:
    low, high = block.get(f"{key}_spread", [None, None])
    return f"{_fmt(low)}-{_fmt(high)}" if low is not None else ""


def targets(results: dict) -> list[tuple[str, str, bool | None]]:
    plan = results["plan"]["engine"]
    arm = results["arm"]["engine"]
    burst = results.get("burst_0ms", {}).get("engine", {})
    steady = results.get("steady_0ms", {}).get("engine", {})
    raw = results.get("raw_0ms", {})
    drain_share = burst.get("drain_per_s", 0) / raw["per_s"] if raw.get("per_s") else None
    full = results["size"] != "tiny"
    return [
        ("plan ≥ 20,000 notifications/s", f"{_fmt(plan['per_s'])}/s", plan["per_s"] >= 20_000 if full else None),
        ("arm ≥ 5,000 notifications/s", f"{_fmt(arm['per_s'])}/s", arm["per_s"] >= 5_000 if full else None),
        ("burst p99 lag ≤ 3 s", f"{_fmt(burst.get('lag_p99_s'))} s",
         (burst.get("lag_p99_s", 99) <= 3) if full else None),
        ("steady p99.9 lag ≤ 1 s", f"{_fmt(steady.get('lag_p99.9_s'))} s",
         (steady.get("lag_p99.9_s", 99) <= 1) if full else None),
        ("burst drain ≥ 70% of the raw ceiling", f"{_fmt((drain_share or 0) * 100, 0)}%",
         (drain_share or 0) >= 0.7 if full else None),
    ]  # fmt: skip


def markdown(results: dict) -> str:
    env = results["environment"]
    lines = [
        f"# Benchmark: {results['size']}, {results['repeat']} run(s) each, medians (spread min-max)",
        "",
        f"{env['date']} · commit {env['commit']} · {env['machine']} · Python {env['python']} · Django "
        f"{env['django']} · Celery {env['celery']} · PostgreSQL {env['postgres']} · Redis {env['redis']} · "
        f"workers: {results['workers'][0]} process(es) x {results['workers'][1]} pool children",
        "",
        "| scenario | this engine | peer | peer figure | engine vs peer |",
        "|---|---|---|---|---|",
    ]
    plan, clocked = results["plan"]["engine"], results["plan"]["clocked"]
    lines.append(f"| plan {plan['notifications']:,.0f}: notifications/s (peak RSS) | {_fmt(plan['per_s'])} "
                 f"({_spread(plan, 'per_s')}; {_fmt(plan['peak_rss_mib'], 0)} MiB) | clocked: ClockedSchedule + "
                 f"PeriodicTask each | {_fmt(clocked['per_s'])} ({_fmt(clocked['peak_rss_mib'], 0)} MiB) | "
                 f"{_ratio(plan['per_s'], clocked['per_s'], higher_is_better=True)} |")  # fmt: skip
    arm, plain = results["arm"]["engine"], results["arm"]["apply_async"]
    lines.append(f"| arm: notifications/s (ETA tasks) | {_fmt(arm['per_s'])} ({_spread(arm, 'per_s')}; "
                 f"{_fmt(arm['tasks'], 0)} tasks) | literal: `apply_async` per notification | "
                 f"{_fmt(plain['per_s'])} | "
                 f"{_ratio(arm['per_s'], plain['per_s'], higher_is_better=True)} |")  # fmt: skip
    memory = results.get("memory")
    if memory:
        engine_mib, literal_mib = memory["engine"]["worker_rss_mib"], memory["literal"]["worker_rss_mib"]
        lines.append(f"| worker RSS with {memory['engine']['planned']:,.0f} planned for the day (MiB) | "
                     f"{_fmt(engine_mib, 0)} | literal: every ETA task held by the worker | {_fmt(literal_mib, 0)} | "
                     f"{_ratio(engine_mib, literal_mib, higher_is_better=False)} |")  # fmt: skip
    for latency in (0, 20):
        burst = results.get(f"burst_{latency}ms")
        if not burst:
            continue
        engine, literal, raw = burst["engine"], burst["literal"], results[f"raw_{latency}ms"]
        for key in ("lag_p50_s", "lag_p99_s", "lag_p99.9_s", "lag_max_s"):
            lines.append(f"| burst {engine['notifications']:,.0f} @ +{latency} ms SNS: {key.replace('_s', '')} "
                         f"(s) | {_fmt(engine[key])} ({_spread(engine, key)}) | literal: one ETA task each | "
                         f"{_fmt(literal[key])} | "
                         f"{_ratio(engine[key], literal[key], higher_is_better=False)} |")  # fmt: skip
        lines.append(f"| burst @ +{latency} ms: drained/s | {_fmt(engine['drain_per_s'])} | raw ceiling: bare boto3 "
                     f"publish loop | {_fmt(raw['per_s'])} | {_fmt(engine['drain_per_s'] / raw['per_s'] * 100, 0)}% "
                     f"of it |")  # fmt: skip
        steady = results[f"steady_{latency}ms"]["engine"]
        lines.append(f"| steady {steady['notifications']:,.0f} @ +{latency} ms: p50 / p99 / p99.9 lag (s) | "
                     f"{_fmt(steady['lag_p50_s'])} / {_fmt(steady['lag_p99_s'])} / {_fmt(steady['lag_p99.9_s'])} | "
                     f"| | |")  # fmt: skip
    lines += ["", "| target (DESIGN.md §8) | measured | met |", "|---|---|---|"]
    for name, value, met in targets(results):
        lines.append(f"| {name} | {value} | {'—' if met is None else ('yes' if met else '**no**')} |")
    return "\n".join(lines) + "\n"


def write_report(results: dict, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{results['environment']['date'][:10]}-{results['size']}"
    md, js = directory / f"{stem}.md", directory / f"{stem}.json"
    md.write_text(markdown(results))
    js.write_text(json.dumps(results, indent=2, default=str))
    print(md.read_text(), flush=True)
    return [md, js]
