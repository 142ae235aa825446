"""The pure time math of the fire and arm paths. The lead rule itself runs in SQL and is
tested against PostgreSQL (tests/integration/test_lead_rule.py)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from config.utc import to_utc, utc_iso
from notifier.scheduling import arm_cutoff, lag_ms, notification_key, retry_delay_seconds

LONDON = ZoneInfo("Europe/London")


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        to_utc(datetime(2026, 6, 1, 18, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        notification_key(7, datetime(2026, 6, 1, 18, 0), 10)


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
    assert utc_iso(datetime(2026, 6, 1, 18, 0, tzinfo=UTC)) == "2026-06-01T18:00:00.000000Z"  # whole seconds too
    ancient = datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)  # as strftime always wrote it: keys made so stay equal
    assert utc_iso(ancient) == ancient.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_utc_iso_remembers_utc_values_only():
    # In a zone with DST the two 02:30s of the night clocks go back compare (and hash)
    # equal though they are an hour apart: a value remembered for one must not answer the other.
    berlin = ZoneInfo("Europe/Berlin")
    first = datetime(2026, 10, 25, 2, 30, tzinfo=berlin)
    second = first.replace(fold=1)
    assert first == second and hash(first) == hash(second)
    assert (utc_iso(first), utc_iso(second)) == ("2026-10-25T00:30:00.000000Z", "2026-10-25T01:30:00.000000Z")
    in_utc = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert utc_iso(in_utc) == utc_iso(in_utc) == utc_iso(first)


def test_visibility_timeout_exceeds_the_horizon():
    # Redis would hand a waiting ETA task to a second worker after this long.
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert visibility >= settings.NOTIFIER_ARM_HORIZON_SECONDS + 300


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
