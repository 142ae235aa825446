"""The Markdown table and JSON file of a benchmark run, with ratios to this engine and
the performance targets (``targets()``) marked met or not (reported, never asserted)."""

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
    return f"{ratio:.1f}x" if ratio >= 0.1 else f"{ratio:.3f}x"


def _spread(block: dict, key: str) -> str:
    low, high = block.get(f"{key}_spread", [None, None])
    return f"{_fmt(low)}-{_fmt(high)}" if low is not None else ""


PEERS = {
    "literal": "literal: one 24 h ETA task each",
    "clocked": "clocked: one django-celery-beat clocked task each",
    "polling": "polling: once a minute, one by one",
}


def _drain_share(results: dict, kind: str) -> float | None:
    burst = results.get("burst_0ms", {}).get("engine", {})
    ceiling = results.get("raw_0ms", {}).get(kind, {}).get("per_s")
    return burst["drain_per_s"] / ceiling if burst and ceiling else None


def targets(results: dict) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met); met is None where the run is too small to judge."""
    judged = results["size"] != "tiny"
    rows: list[tuple[str, str, bool | None]] = []

    def check(name: str, value: float | None, shown: str, met: bool) -> None:
        if value is not None:
            rows.append((name, shown, met if judged else None))

    for scenario, floor in (("plan", 20_000), ("arm", 5_000)):
        block = results.get(scenario, {}).get("engine")
        if block:
            check(
                f"{scenario} ≥ {floor:,} notifications/s",
                block["per_s"],
                f"{_fmt(block['per_s'])}/s",
                block["per_s"] >= floor,
            )
    for latency in (0, 20):
        for scenario, key, ceiling in (("burst", "lag_p99_s", 3), ("steady", "lag_p99.9_s", 1)):
            block = results.get(f"{scenario}_{latency}ms", {}).get("engine")
            if block:
                check(
                    f"{scenario} {_label(key)} ≤ {ceiling} s (+{latency} ms SNS)",
                    block[key],
                    f"{_fmt(block[key])} s",
                    block[key] <= ceiling,
                )
    memory = results.get("memory")
    if memory:
        engine, literal = memory["engine"]["worker_rss_mib"], memory["literal"]["worker_rss_mib"]
        check(
            "worker memory flat in notifications planned",
            engine,
            f"{_fmt(engine, 0)} MiB with {memory['engine']['planned']:,} planned (literal: {_fmt(literal, 0)} MiB)",
            engine <= literal,
        )
    console = results.get("console")
    if console and console["rows"] >= 1_000_000:
        for key in ("page_warm", "page_cold"):
            p95 = console[f"{key}_p95_ms"]
            check(f"dashboard {key.split('_')[1]} p95 < 300 ms at 1,000,000 rows (issue 14)", p95,
                  f"{_fmt(p95, 0)} ms", p95 < 300)  # fmt: skip
    share = _drain_share(results, "publish")
    check(
        "burst drain ≥ 70% of the raw ceiling (bare publish loop)",
        share,
        f"{_fmt((share or 0) * 100, 0)}%",
        (share or 0) >= 0.7,
    )
    return rows  # fmt: skip


def _label(key: str) -> str:
    return key.removesuffix("_s").replace("_", " ")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown(results: dict) -> str:
    env = results["environment"]
    lines = [
        f"# Benchmark: {results['size']}, {results['repeat']} run(s) each, medians (spread min-max)",
        "",
        f"{env['date']} · commit {env['commit']} · {env['machine']} · Python {env['python']} · Django "
        f"{env['django']} · Celery {env['celery']} · PostgreSQL {env['postgres']} · Redis {env['redis']} · "
        f"workers: {results['workers'][0]} process(es) x {results['workers'][1]} pool children x "
        f"{results.get('fire_threads', 1)} publish threads",
        "",
        "| scenario | this engine | peer | peer figure | engine vs peer |",
        "|---|---|---|---|---|",
    ]
    if "plan" in results:
        plan, clocked = results["plan"]["engine"], results["plan"]["clocked"]
        lines.append(
            _row(
                [
                    f"plan {plan['notifications']:,.0f}: notifications/s (peak RSS)",
                    f"{_fmt(plan['per_s'])} ({_spread(plan, 'per_s')}; {_fmt(plan['peak_rss_mib'], 0)} MiB)",
                    "clocked: ClockedSchedule + PeriodicTask each",
                    f"{_fmt(clocked['per_s'])} ({_fmt(clocked['peak_rss_mib'], 0)} MiB)",
                    _ratio(plan["per_s"], clocked["per_s"], higher_is_better=True),
                ]
            )
        )
    if "arm" in results:
        arm, plain = results["arm"]["engine"], results["arm"]["apply_async"]
        lines.append(
            _row(
                [
                    "arm: notifications/s (ETA tasks)",
                    f"{_fmt(arm['per_s'])} ({_spread(arm, 'per_s')}; {_fmt(arm['tasks'], 0)} tasks)",
                    "literal: `apply_async` per notification",
                    _fmt(plain["per_s"]),
                    _ratio(arm["per_s"], plain["per_s"], higher_is_better=True),
                ]
            )
        )
    memory = results.get("memory")
    if memory:
        engine_mib, literal_mib = memory["engine"]["worker_rss_mib"], memory["literal"]["worker_rss_mib"]
        lines.append(
            _row(
                [
                    f"worker RSS with {memory['engine']['planned']:,.0f} planned for the day (MiB)",
                    _fmt(engine_mib, 0),
                    "literal: every ETA task held by the worker",
                    _fmt(literal_mib, 0),
                    _ratio(engine_mib, literal_mib, higher_is_better=False),
                ]
            )
        )
    idle = results.get("idle")
    if idle:
        engine, polling = idle["engine"], idle["polling"]
        for key, label in (("cpu_s_per_hour", "CPU s"), ("db_transactions_per_hour", "DB transactions")):
            lines.append(
                _row(
                    [
                        f"idle, nothing due: {label} per hour",
                        _fmt(engine[key], 0),
                        "polling: once a minute",
                        _fmt(polling[key], 0),
                        _ratio(engine[key], polling[key], higher_is_better=False),
                    ]
                )
            )
    for latency in (0, 20):
        burst = results.get(f"burst_{latency}ms")
        if burst:
            engine = burst["engine"]
            for key in ("lag_p50_s", "lag_p99_s", "lag_p99.9_s", "lag_max_s"):
                for peer in (name for name in PEERS if name in burst):
                    lines.append(
                        _row(
                            [
                                f"burst {engine['notifications']:,.0f} @ +{latency} ms SNS: {_label(key)} (s)",
                                f"{_fmt(engine[key])} ({_spread(engine, key)})",
                                PEERS[peer],
                                _fmt(burst[peer][key]),
                                _ratio(engine[key], burst[peer][key], higher_is_better=False),
                            ]
                        )
                    )
            raw = results.get(f"raw_{latency}ms", {})
            for kind, label in (("publish", "bare boto3 `publish` loop"), ("batch", "bare `publish_batch` of 10")):
                if kind in raw:
                    share = engine["drain_per_s"] / raw[kind]["per_s"] * 100
                    lines.append(
                        _row(
                            [
                                f"burst @ +{latency} ms: drained/s",
                                _fmt(engine["drain_per_s"]),
                                f"raw ceiling: {label}, same concurrency",
                                _fmt(raw[kind]["per_s"]),
                                f"{share:.0f}% of it",
                            ]
                        )
                    )
        steady = results.get(f"steady_{latency}ms")
        if steady:
            engine = steady["engine"]
            figures = lambda block: " / ".join(_fmt(block[k]) for k in ("lag_p50_s", "lag_p99_s", "lag_p99.9_s"))  # noqa: E731
            polling = steady.get("polling")
            lines.append(
                _row(
                    [
                        f"steady {engine['notifications']:,.0f} @ +{latency} ms: p50 / p99 / p99.9 lag (s)",
                        figures(engine),
                        PEERS["polling"] if polling else "",
                        figures(polling) if polling else "",
                        _ratio(engine["lag_p99_s"], polling["lag_p99_s"], higher_is_better=False) + " (p99)"
                        if polling
                        else "",
                    ]
                )
            )
    lines += _console_lines(results.get("console"))
    lines += ["", "| target (DESIGN.md §8) | measured | met |", "|---|---|---|"]
    for name, value, met in targets(results):
        lines.append(f"| {name} | {value} | {'—' if met is None else ('yes' if met else '**no**')} |")
    return "\n".join(lines) + "\n"


CONSOLE_TIMINGS = {
    "refresh": "the beat's refresh of the figures over ≥ 24 h (once a minute, in the background)",
    "page_cold": "/admin/dashboard/ (24 h window), cold: every figure computed in the request",
    "page_warm": "/admin/dashboard/ (24 h window), as in operation: figures over ≥ 24 h from the beat's cache",
    "page_7d_cold": "/admin/dashboard/?window=7d, cold",
    "json_warm": "/admin/dashboard/data/, warm",
    "forecast": "forecast, next 24 h per minute",
    "what_if": "forecast with a what-if of 5,000",
}


def _console_lines(console: dict | None) -> list[str]:
    if not console:
        return []
    lines = [
        "",
        f"| console over {console['rows']:,} ledger rows (loaded in {_fmt(console['load_s'])} s) "
        "| median ms | p95 ms | max ms |",
        "|---|---|---|---|",
    ]
    for key, label in CONSOLE_TIMINGS.items():
        lines.append(_row([label, *(_fmt(console[f"{key}_{figure}_ms"], 0) for figure in ("median", "p95", "max"))]))
    return lines


def write_report(results: dict, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{results['environment']['date'][:10]}-{results['size']}"
    md, js = directory / f"{stem}.md", directory / f"{stem}.json"
    md.write_text(markdown(results))
    js.write_text(json.dumps(results, indent=2, default=str))
    print(md.read_text(), flush=True)
    return [md, js]
