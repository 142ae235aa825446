"""The pure time math: UTC everywhere, DST-proof, past-due and past-deadline cases."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifier.scheduling import (
    arm_cutoff,
    lag_ms,
    nominal_due_at,
    notification_key,
    plan_times,
    retry_delay_seconds,
    utc_iso,
    visibility_timeout_seconds,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def test_due_is_lead_minutes_before_start_in_utc():
    starts = datetime(2026, 6, 1, 18, 0, tzinfo=LONDON)  # BST, UTC+1
    assert nominal_due_at(starts, 10) == datetime(2026, 6, 1, 16, 50, tzinfo=UTC)


def test_due_across_spring_forward_is_exact_elapsed_time():
    # 2026-03-29 01:00 UTC London jumps 01:00 -> 02:00 local; an event at 02:05 BST
    # (01:05 UTC) is due at 00:55 UTC, i.e. 00:55 GMT local: 10 real minutes earlier.
    starts = datetime(2026, 3, 29, 2, 5, tzinfo=LONDON)
    due = nominal_due_at(starts, 10)
    assert due == datetime(2026, 3, 29, 0, 55, tzinfo=UTC)
    assert (starts - due) == timedelta(minutes=10)
    assert due.astimezone(LONDON).strftime("%H:%M %Z") == "00:55 GMT"


def test_due_across_fall_back_uses_the_right_fold():
    # 2026-11-01 01:30 happens twice in New York; fold=1 is the second (EST, UTC-5).
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=0)
    second = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=1)
    assert nominal_due_at(first, 10) == datetime(2026, 11, 1, 5, 20, tzinfo=UTC)
    assert nominal_due_at(second, 10) == datetime(2026, 11, 1, 6, 20, tzinfo=UTC)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        nominal_due_at(datetime(2026, 6, 1, 18, 0), 10)


def test_plan_times_on_time():
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    planned = plan_times(now + timedelta(hours=2), 10, now)
    assert planned.due_at == now + timedelta(hours=1, minutes=50)
    assert planned.deadline == now + timedelta(hours=2)
    assert not planned.late


def test_plan_times_past_due_but_before_deadline_is_due_now():
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    planned = plan_times(now + timedelta(minutes=4), 10, now)  # "starts in 4 minutes"
    assert planned.due_at == now
    assert planned.late


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=-1), timedelta(hours=-3)])
def test_plan_times_past_deadline_plans_nothing(offset):
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert plan_times(now + offset, 10, now) is None


def test_key_is_stable_and_changes_with_start_or_lead():
    starts = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
    key = notification_key(7, starts, 10)
    assert key == notification_key(7, starts.astimezone(LONDON), 10)  # same instant, other zone
    assert len(key) == 64 and int(key, 16) >= 0
    assert key != notification_key(7, starts + timedelta(microseconds=1), 10)
    assert key != notification_key(7, starts, 11)
    assert key != notification_key(8, starts, 10)


def test_utc_iso_is_canonical():
    value = datetime(2026, 6, 1, 19, 0, 5, 120, tzinfo=LONDON)
    assert utc_iso(value) == "2026-06-01T18:00:05.000120Z"


def test_visibility_timeout_exceeds_the_horizon():
    assert visibility_timeout_seconds(300) > 300
    assert visibility_timeout_seconds(24 * 3600) > 24 * 3600  # the literal 24 h design still works


def test_arm_cutoff_and_lag():
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert arm_cutoff(now, 300) == now + timedelta(minutes=5)
    assert lag_ms(now, now + timedelta(milliseconds=1500)) == 1500


def test_retry_delay_full_jitter_is_bounded_by_cap_and_deadline():
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    far = now + timedelta(hours=1)
    assert retry_delay_seconds(1, base=1, cap=60, deadline=far, now=now, rand=0.999) < 1
    assert retry_delay_seconds(4, base=1, cap=60, deadline=far, now=now, rand=0.5) == 4
    assert retry_delay_seconds(20, base=1, cap=60, deadline=far, now=now, rand=0.5) == 30
    near = now + timedelta(seconds=2)
    assert retry_delay_seconds(4, base=1, cap=60, deadline=near, now=now, rand=0.9) is None
