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


def _spread(block: dict, key: str, digits: int = 2) -> str:
    low, high = block.get(f"{key}_spread", [None, None])
    return f"{_fmt(low, digits)}-{_fmt(high, digits)}" if low is not None else ""


def _cell(block: dict | None, key: str, digits: int = 2) -> str:
    """A figure's median with its spread over the repeats: "1.23 (1.10-1.40)"."""
    if not block or key not in block:
        return "n/a"
    low, high = block.get(f"{key}_spread", [None, None])
    if low is None or low == high:  # one run (or all alike): nothing to show
        return _fmt(block[key], digits)
    return f"{_fmt(block[key], digits)} ({_spread(block, key, digits)})"


PEERS = {
    "literal": "literal: one 24 h ETA task each",
    "clocked": "clocked: one django-celery-beat clocked task each",
    "polling": "polling: once a minute, one by one",
    "polling_1s": "polling: once a second, one by one",
}
IDLE_PEERS = {"polling_60s": PEERS["polling"], "polling_1s": PEERS["polling_1s"]}
BIG_BURST_P99_S = 12
BURST_P99_S = 2  # issue 15's aim; DESIGN.md §8's contract is 3 s (decision 0020)
BURST_P99_CONTRACT_S = 3
MEMORY_FLAT = 1.25  # the big burst's peak worker RSS over the 5,000 burst's: "flat" up to this


def _drain_share(results: dict, latency: int) -> float | None:
    burst = results.get(f"burst_{latency}ms", {}).get("engine", {})
    ceiling = results.get(f"raw_{latency}ms", {}).get("batch", {}).get("per_s")
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
            check(f"{scenario} ≥ {floor:,} notifications/s (§8)", block["per_s"], f"{_cell(block, 'per_s')}/s",
                  block["per_s"] >= floor)  # fmt: skip
    idle = results.get("idle")
    if idle:
        engine, second, minute = idle["engine"], idle["polling_1s"], idle["polling_60s"]
        tx, cpu = "db_transactions_per_hour", "cpu_s_per_hour"
        check(
            "idle DB transactions ≤ 10% of the one-second poller's (engine with the canary off; issue 15)",
            engine[tx],
            f"{_fmt(engine[tx], 0)}/h = {_fmt(engine[tx] / second[tx] * 100 if second[tx] else float('nan'), 1)}% "
            f"of {_fmt(second[tx], 0)}/h",
            engine[tx] <= 0.1 * second[tx],
        )
        check(
            "idle CPU ≤ both pollers' (engine with the canary off; issue 15)",
            engine[cpu],
            f"{_fmt(engine[cpu], 1)} s/h vs {_fmt(minute[cpu], 1)} (minute), {_fmt(second[cpu], 1)} (second)",
            engine[cpu] <= min(minute[cpu], second[cpu]),
        )
    for latency in (0, 20):
        share = _drain_share(results, latency)
        check(f"burst drain ≥ 70% of the bare `publish_batch` loop (+{latency} ms SNS; issue 15)", share,
              f"{_fmt((share or 0) * 100, 0)}%", (share or 0) >= 0.7)  # fmt: skip
    for latency in (0, 20):
        for scenario, key, ceiling, source in (("burst", "lag_p99_s", BURST_P99_S, "issue 15"),
                                               ("burst", "lag_p99_s", BURST_P99_CONTRACT_S, "§8"),
                                               ("steady", "lag_p99.9_s", 1, "§8")):  # fmt: skip
            block = results.get(f"{scenario}_{latency}ms", {}).get("engine")
            if block:
                check(f"{scenario} {_label(key)} ≤ {ceiling} s (+{latency} ms SNS; {source})", block[key],
                      f"{_cell(block, key)} s", block[key] <= ceiling)  # fmt: skip
    big = results.get("burst_big_0ms", {}).get("engine")
    if big:
        check(f"burst of {big['notifications']:,.0f} p99 ≤ {BIG_BURST_P99_S} s (+0 ms SNS; issue 15)", big["lag_p99_s"],
              f"{_cell(big, 'lag_p99_s')} s", big["lag_p99_s"] <= BIG_BURST_P99_S)  # fmt: skip
    memory = results.get("memory")
    if memory:
        engine, literal = memory["engine"]["worker_rss_mib"], memory["literal"]["worker_rss_mib"]
        check(
            "worker memory flat in notifications planned (§8)",
            engine,
            f"{_fmt(engine, 0)} MiB with {memory['engine']['planned']:,} planned (literal: {_fmt(literal, 0)} MiB)",
            engine <= literal,
        )
    small = results.get("burst_0ms", {}).get("engine")
    if big and small and "worker_rss_peak_mib" in small:
        peak, base = big["worker_rss_peak_mib"], small["worker_rss_peak_mib"]
        check(
            f"worker memory flat in a burst: peak at {big['notifications']:,.0f} ≤ {MEMORY_FLAT}x peak at "
            f"{small['notifications']:,.0f} (issue 15)",
            peak,
            f"{_fmt(peak, 0)} vs {_fmt(base, 0)} MiB (idle {_fmt(big['worker_rss_idle_mib'], 0)} MiB)",
            peak <= MEMORY_FLAT * base,
        )
    console = results.get("console")
    if console and console["rows"] >= 1_000_000:
        for key in ("page_warm", "page_cold"):
            p95 = console[f"{key}_p95_ms"]
            check(f"dashboard {key.split('_')[1]} p95 < 300 ms at 1,000,000 rows (issue 14)", p95,
                  f"{_fmt(p95, 0)} ms", p95 < 300)  # fmt: skip
    return rows


def _label(key: str) -> str:
    return key.removesuffix("_s").replace("_", " ")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _ratio_of(engine: dict, peer: dict, key: str, *, higher_is_better: bool) -> str:
    return _ratio(engine.get(key), peer.get(key), higher_is_better=higher_is_better)


def _times(value: float | None, base: float | None) -> str:
    """``value`` as a multiple of ``base`` ("1.25x"): the canary's cost on top of the engine's."""
    return f"{value / base:.2f}x" if value is not None and base else "n/a"


def _idle_lines(idle: dict) -> list[str]:
    lines = []
    engine, canary = idle["engine"], idle.get("engine_canary")
    for key, label, digits in (("cpu_s_per_hour", "CPU s", 1), ("db_transactions_per_hour", "DB transactions", 0),
                               ("sqs_calls_per_hour", "SQS calls", 0)):  # fmt: skip
        for peer, name in IDLE_PEERS.items():
            lines.append(_row([f"idle, nothing due: {label} per hour (engine: canary off)", _cell(engine, key, digits),
                               name, _cell(idle[peer], key, digits),
                               _ratio_of(engine, idle[peer], key, higher_is_better=False)]))  # fmt: skip
        if canary:
            lines.append(_row([f"idle: {label} per hour, engine with the canary on (every 300 s)",
                               _cell(canary, key, digits), "engine, canary off", _cell(engine, key, digits),
                               _times(canary.get(key), engine.get(key))]))  # fmt: skip
    return lines


def _burst_lines(results: dict, latency: int) -> list[str]:
    burst = results.get(f"burst_{latency}ms")
    if not burst:
        return []
    lines, engine = [], burst["engine"]
    for key in ("lag_p50_s", "lag_p99_s", "lag_p99.9_s", "lag_max_s"):
        for peer in (name for name in PEERS if name in burst):
            lines.append(_row([f"burst {engine['notifications']:,.0f} @ +{latency} ms SNS: {_label(key)} (s)",
                               _cell(engine, key), PEERS[peer], _cell(burst[peer], key),
                               _ratio_of(engine, burst[peer], key, higher_is_better=False)]))  # fmt: skip
    raw = results.get(f"raw_{latency}ms", {})
    for kind, label in (("batch", "bare `publish_batch` of 10"), ("publish", "bare boto3 `publish` loop")):
        if kind in raw:
            share = engine["drain_per_s"] / raw[kind]["per_s"] * 100
            lines.append(_row([f"burst @ +{latency} ms: drained/s", _cell(engine, "drain_per_s"),
                               f"raw ceiling: {label}, same concurrency", _cell(raw[kind], "per_s"),
                               f"{share:.0f}% of it"]))  # fmt: skip
    return lines


def _big_burst_lines(results: dict) -> list[str]:
    big = results.get("burst_big_0ms", {}).get("engine")
    if not big:
        return []
    scenario = f"burst {big['notifications']:,.0f} @ +0 ms (engine only)"
    lines = [_row([f"{scenario}: {_label(key)} (s)", _cell(big, key), "", "", ""])
             for key in ("lag_p50_s", "lag_p99_s", "lag_max_s")]  # fmt: skip
    lines.append(_row([f"{scenario}: drained/s", _cell(big, "drain_per_s"), "", "", ""]))
    lines.append(_row([f"{scenario}: worker peak RSS (MiB)", _cell(big, "worker_rss_peak_mib", 0),
                       "the same worker idle, before the burst", _cell(big, "worker_rss_idle_mib", 0),
                       f"{big['worker_rss_peak_mib'] / big['worker_rss_idle_mib']:.2f}x idle"]))  # fmt: skip
    return lines


def _capacity_lines(results: dict, cores: int) -> list[str]:
    capacity = results.get("capacity")
    if not capacity:
        return []
    lines = []
    for children in sorted(capacity, key=int):
        block, n = capacity[children], int(children)
        per_s = block["drain_per_s"]
        lines.append(_row([
            f"capacity: burst {block['notifications']:,.0f} @ +{results.get('capacity_latency', 20)} ms, "
            f"1 worker x {n} children: drained/s "
            "(per child / per core used)",
            f"{_cell(block, 'drain_per_s')} ({_fmt(per_s / n)} / {_fmt(per_s / min(n, cores))})",
            "p99 lag (s)", _cell(block, "lag_p99_s"), "",
        ]))  # fmt: skip
    return lines


def _steady_lines(results: dict, latency: int) -> list[str]:
    steady = results.get(f"steady_{latency}ms")
    if not steady:
        return []
    engine = steady["engine"]
    keys = ("lag_p50_s", "lag_p99_s", "lag_p99.9_s")
    scenario = f"steady {engine['notifications']:,.0f} @ +{latency} ms: p50 / p99 / p99.9 lag (s)"
    peers = [name for name in ("polling", "polling_1s") if name in steady]
    if not peers:
        return [_row([scenario, " / ".join(_cell(engine, k) for k in keys), "", "", ""])]
    return [_row([scenario, " / ".join(_cell(engine, k) for k in keys), PEERS[peer],
                  " / ".join(_cell(steady[peer], k) for k in keys),
                  _ratio_of(engine, steady[peer], "lag_p99_s", higher_is_better=False) + " (p99)"])
            for peer in peers]  # fmt: skip


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
    ]
    if "wall_s" in results:
        lines += [f"Wall time {results['wall_s'] / 60:.1f} min (estimated {results['estimated_s'] / 60:.0f} min).", ""]
    lines += ["| scenario | this engine | peer | peer figure | engine vs peer |", "|---|---|---|---|---|"]
    if "plan" in results:
        plan, clocked = results["plan"]["engine"], results["plan"]["clocked"]
        lines.append(_row([f"plan {plan['notifications']:,.0f}: notifications/s (peak RSS MiB)",
                           f"{_cell(plan, 'per_s')} ({_cell(plan, 'peak_rss_mib', 0)})",
                           "clocked: ClockedSchedule + PeriodicTask each",
                           f"{_cell(clocked, 'per_s')} ({_cell(clocked, 'peak_rss_mib', 0)})",
                           _ratio_of(plan, clocked, "per_s", higher_is_better=True)]))  # fmt: skip
    if "arm" in results:
        arm, plain = results["arm"]["engine"], results["arm"]["apply_async"]
        lines.append(_row([f"arm: notifications/s ({_fmt(arm['tasks'], 0)} ETA tasks)", _cell(arm, "per_s"),
                           "literal: `apply_async` per notification", _cell(plain, "per_s"),
                           _ratio_of(arm, plain, "per_s", higher_is_better=True)]))  # fmt: skip
    memory = results.get("memory")
    if memory:
        engine_mem, literal_mem = memory["engine"], memory["literal"]
        lines.append(_row([f"worker RSS with {engine_mem['planned']:,.0f} planned for the day (MiB)",
                           _cell(engine_mem, "worker_rss_mib", 0), "literal: every ETA task held by the worker",
                           _cell(literal_mem, "worker_rss_mib", 0),
                           _ratio_of(engine_mem, literal_mem, "worker_rss_mib", higher_is_better=False)]))  # fmt: skip
    if results.get("idle"):
        lines += _idle_lines(results["idle"])
    cores = int(env["machine"].split()[0]) if env["machine"].split()[0].isdigit() else 1
    for latency in (0, 20, 100):
        lines += _burst_lines(results, latency)
        if latency == 0:
            lines += _big_burst_lines(results)
        if latency == results.get("capacity_latency"):
            lines += _capacity_lines(results, cores)
        lines += _steady_lines(results, latency)
    lines += _console_lines(results.get("console"))
    lines += [
        "",
        "| target (§8: DESIGN.md §8, the contract; issue N: that issue's aim) | measured | met |",
        "|---|---|---|",
    ]
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
    parts = (results["environment"]["date"][:10], results["size"], results.get("label"))
    stem = "-".join(part for part in parts if part)
    md, js = directory / f"{stem}.md", directory / f"{stem}.json"
    md.write_text(markdown(results))
    js.write_text(json.dumps(results, indent=2, default=str))
    print(md.read_text(), flush=True)
    return [md, js]
