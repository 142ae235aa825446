"""The console's two charts as inline SVG, drawn on the server: no script library, no
network. Only numbers and our own time labels go into the markup, escaped all the same."""

from datetime import datetime, timedelta
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 180
LEFT, BOTTOM, TOP = 44, 20, 10
PLOT_W, PLOT_H = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP


def _y(value: float, top: float) -> float:
    return TOP + PLOT_H - (value / top) * PLOT_H if top else TOP + PLOT_H


def _frame(chart_id: str, label: str, top: float, unit: str, body: list[str]) -> SafeString:
    axis = [
        f'<line x1="{LEFT}" y1="{TOP + PLOT_H}" x2="{LEFT + PLOT_W}" y2="{TOP + PLOT_H}" class="axis"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" class="tick">{escape(_short(top))}{unit}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + PLOT_H}" text-anchor="end" class="tick">0</text>',
    ]
    return mark_safe(  # every value above is a number or escaped
        f'<svg id="{chart_id}" class="console-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">{"".join(axis + body)}</svg>'
    )


def _short(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def _hour_label(x: float, when: datetime) -> str:
    return f'<text x="{x:.1f}" y="{HEIGHT - 4}" text-anchor="middle" class="tick">{when:%H:%M}</text>'


def lag_per_hour_chart(hours: list[dict[str, Any]], target_seconds: float) -> SafeString:
    """p99 lag per hour as bars, p50 as a darker inner bar, the SLO target as a dashed line."""
    worst = max((hour["p99"] or 0 for hour in hours), default=0)
    top = max(worst, target_seconds) * 1.15 or 1
    step = PLOT_W / max(len(hours), 1)
    body = []
    for index, hour in enumerate(hours):
        x = LEFT + index * step
        start = hour["start"]
        for key, css in (("p99", "bar"), ("p50", "bar-inner")):
            value = hour[key]
            if value is not None:
                y = _y(value, top)
                body.append(
                    f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{step - 2:.1f}" height="{TOP + PLOT_H - y:.1f}" '
                    f'class="{css}" data-hour="{start.isoformat()}" data-{key}="{value}"/>'
                )
        if index % 4 == 0:
            body.append(_hour_label(x + step / 2, start))
    target_y = _y(target_seconds, top)
    body.append(
        f'<line x1="{LEFT}" y1="{target_y:.1f}" x2="{LEFT + PLOT_W}" y2="{target_y:.1f}" class="target" '
        f'data-metric="lag-chart-target" data-value="{target_seconds}"/>'
    )
    return _frame("lag-per-hour-chart", "p99 and p50 lag per hour, last 24 hours", top, " s", body)


def forecast_chart(
    start: datetime, due_per_minute: list[int], capacity_per_minute: int, peak_start: datetime, peak_due: int
) -> SafeString:
    """Due per minute as an area, the peak marked, the capacity as a line when it fits."""
    peak = max(due_per_minute, default=0)
    top = max(peak * 1.15, 1)
    step = PLOT_W / max(len(due_per_minute), 1)
    points = [f"{LEFT},{TOP + PLOT_H}"]
    for index, due in enumerate(due_per_minute):
        x = LEFT + index * step
        y = _y(due, top)
        points.append(f"{x:.2f},{y:.1f} {x + step:.2f},{y:.1f}")
    points.append(f"{LEFT + PLOT_W},{TOP + PLOT_H}")
    body = [f'<polygon points="{" ".join(points)}" class="area"/>']
    for hour in range(0, len(due_per_minute) // 60 + 1, 3):
        body.append(_hour_label(LEFT + hour * 60 * step, start + timedelta(hours=hour)))
    if capacity_per_minute <= top:
        y = _y(capacity_per_minute, top)
        body.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + PLOT_W}" y2="{y:.1f}" class="target"/>')
    if peak_due:
        index = int((peak_start - start).total_seconds() // 60)
        x = LEFT + (index + 0.5) * step
        y = _y(peak_due, top)
        body.append(
            f'<g data-metric="forecast-peak-marker" data-start="{peak_start.isoformat()}" data-value="{peak_due}">'
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + PLOT_H}" class="peak"/>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" class="peak"/>'
            f'<text x="{min(x + 6, WIDTH - 90):.1f}" y="{TOP + 10}" class="tick">peak {peak_start:%H:%M}: '
            f"{peak_due:,}</text></g>"
        )
    return _frame("forecast-chart", "notifications due per minute, next 24 hours", top, "", body)
