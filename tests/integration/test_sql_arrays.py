"""The fire path's array parameters (notifier.sql int_array, text_array,
timestamptz_array) reach PostgreSQL as the values they were made from."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from notifier.sql import fetch_all, int_array, text_array, timestamptz_array

pytestmark = pytest.mark.django_db


def _round_trip(sql_type: str, literal: str) -> list:
    ((values,),) = fetch_all(f"SELECT %(values)s::{sql_type}[]", {"values": literal})
    return values


def test_integers_come_back_as_given():
    values = [1, 0, -7, 2**62, 42]
    assert _round_trip("bigint", int_array(values)) == values
    assert _round_trip("bigint", int_array([])) == []


def test_text_comes_back_as_given_whatever_it_holds():
    values = ['a"b', "back\\slash", "{braces}", "comma,here", " spaced ", "", "NULL", "ünïcode ✓", "a'b", 'x\\"y']
    assert _round_trip("text", text_array(values)) == values


def test_timestamps_come_back_as_the_same_instants():
    base = datetime(2026, 12, 6, 14, 47, 13, 242001, tzinfo=UTC)
    values = [base, base, base + timedelta(microseconds=1), base.astimezone(timezone(timedelta(hours=-5))),
              datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC)]  # fmt: skip
    assert _round_trip("timestamptz", timestamptz_array(values)) == values
    berlin = ZoneInfo("Europe/Berlin")  # the hour clocks go back: equal values, an hour apart
    first, second = datetime(2026, 10, 25, 2, 30, tzinfo=berlin), datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=berlin)
    assert [value - first for value in _round_trip("timestamptz", timestamptz_array([first, second]))] == [
        timedelta(0), timedelta(hours=1)]  # fmt: skip


def test_a_naive_timestamp_is_refused_before_the_database_sees_it():
    with pytest.raises(ValueError, match="timezone-aware"):
        timestamptz_array([datetime(2026, 12, 6, 14, 47)])
