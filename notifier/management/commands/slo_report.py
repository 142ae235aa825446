import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from delivery.models import ACTIVE_STATES
from notifier.slo import slo_report

_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([mhd])", text.strip())
    if not match or int(match.group(1)) == 0:
        raise CommandError(f"--since takes a duration like 15m, 24h or 7d, got {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


class Command(BaseCommand):
    help = "Print lag percentiles and outcome counts over a recent window."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", default="24h", help="window, e.g. 15m, 24h, 7d (default 24h)")

    def handle(self, *args: Any, since: str, **options: Any) -> None:
        until = timezone.now()
        report = slo_report(since=until - parse_duration(since), until=until)
        lag, outcomes, live = report.lag, report.outcomes, report.live
        write = self.stdout.write
        write(f"window      {report.since:%Y-%m-%d %H:%M:%S} .. {report.until:%Y-%m-%d %H:%M:%S} UTC ({since})")
        write(
            f"lag ms      p50 {ms(lag.p50)}  p95 {ms(lag.p95)}  p99 {ms(lag.p99)}  p99.9 {ms(lag.p999)}  "
            f"max {ms(lag.max)}  (over {lag.count} sends)"
        )
        write("outcomes    " + "  ".join(f"{state} {outcomes[state]}" for state in sorted(outcomes)))
        write(
            "live now    "
            + "  ".join(f"{state} {live.by_state.get(state, 0)}" for state in ACTIVE_STATES)
            + f"  (overdue > {settings.NOTIFIER_LAG_ALERT_SECONDS}s: {live.overdue})"
        )
        target = settings.NOTIFIER_LAG_P99_TARGET_SECONDS * 1000
        verdict = "no sends" if lag.p99 is None else ("met" if lag.p99 <= target else "MISSED")
        write(f"p99 target  {target:.0f} ms: {verdict}")
