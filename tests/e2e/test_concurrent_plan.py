"""Three pods run the nightly plan at once, two arm passes run beside them:
every notification still reaches the subscriber exactly once."""

import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from delivery.models import Notification, NotificationState
from events.models import Event
from tests.aws import Inbox
from tests.engine import ROOT, engine_env
from tests.factories import make_topic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

EVENTS = 30


def manage(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=engine_env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_three_plans_at_once_and_two_arm_passes_send_each_notification_once(celery_worker, redis):
    topic = make_topic(lead=1)
    inbox = Inbox.for_topic(topic)
    now = timezone.now()
    # bulk_create skips the on-save planning: only the commands below plan these.
    Event.objects.bulk_create(
        Event(topic=topic, title=f"E{i}", starts_at=now + timedelta(minutes=1, seconds=8 + i % 5))
        for i in range(EVENTS)
    )
    planners = [manage("plan_notifications", "--hours", "1") for _ in range(3)]
    plan_outputs = [process.communicate(timeout=60)[0] for process in planners]
    armers = [manage("arm_notifications") for _ in range(2)]
    arm_outputs = [process.communicate(timeout=60)[0] for process in armers]
    outputs = plan_outputs + arm_outputs
    assert all(process.returncode == 0 for process in planners + armers), outputs
    planned = [int(m.group(1)) for out in plan_outputs for m in re.finditer(r"^planned (\d+)", out, re.M)]
    assert sum(planned) == EVENTS, plan_outputs  # each event planned by exactly one of the three
    print("\n" + "\n".join(line for output in outputs for line in output.splitlines() if "planned" in line
                           or "skipped" in line or "armed" in line))  # fmt: skip

    inbox.wait_for(EVENTS, timeout=25)
    inbox.drain(2)
    rows = list(Notification.objects.filter(event__topic=topic))
    assert len(rows) == EVENTS  # one row per event, however many planners ran
    counts = inbox.counts()
    assert sorted(counts.values()) == [1] * EVENTS, counts
    assert set(counts) == {row.key for row in rows}
    assert all(row.state == NotificationState.SENT and row.attempts == 1 for row in rows)
    worst = max(message.lag_seconds() for message in inbox.messages)
    print(f"{EVENTS} notifications, {len(inbox.messages)} messages, worst lag {worst * 1000:.0f} ms")
    assert worst <= 1.0


def test_bad_command_arguments_exit_non_zero_with_one_line():
    result = subprocess.run(
        [sys.executable, "manage.py", "plan_notifications", "--hours", "0"],
        cwd=ROOT, env=engine_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["CommandError: --hours must be between 1 and 336, got 0"]
