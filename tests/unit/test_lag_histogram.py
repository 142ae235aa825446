"""Bucket maths of the lag histogram: where a lag falls, and Prometheus's cumulative form."""

from notifier.lag_histogram import BUCKET_LABELS, COUNT_FIELD, SUM_FIELD, bucket_of, cumulative, increments


def test_labels_are_the_bounds_as_prometheus_writes_them_with_inf_last():
    assert BUCKET_LABELS == ("0.1", "0.25", "0.5", "1.0", "2.0", "3.0", "5.0", "10.0", "30.0", "60.0", "+Inf")


def test_a_lag_on_a_bound_belongs_to_that_bucket_le_is_inclusive():
    assert bucket_of(100) == "0.1"
    assert bucket_of(101) == "0.25"
    assert bucket_of(3000) == "3.0"
    assert bucket_of(3001) == "5.0"
    assert bucket_of(60_000) == "60.0"
    assert bucket_of(60_001) == "+Inf"


def test_zero_and_negative_lags_count_in_the_first_bucket():
    assert bucket_of(0) == "0.1"
    assert bucket_of(-250) == "0.1"  # a clock step: never below zero
    assert increments([-250])[SUM_FIELD] == 0


def test_increments_of_a_batch_one_field_per_bucket_used_plus_sum_and_count():
    assert increments([50, 100, 2500, 99_999]) == {"0.1": 2, "3.0": 1, "+Inf": 1, SUM_FIELD: 102_649, COUNT_FIELD: 4}
    assert increments([]) == {}


def test_cumulative_buckets_grow_to_the_count_and_the_sum_is_in_seconds():
    buckets, total = cumulative({"0.1": 2, "3.0": 1, "+Inf": 1, SUM_FIELD: 102_649, COUNT_FIELD: 4})
    assert dict(buckets) == {
        "0.1": 2, "0.25": 2, "0.5": 2, "1.0": 2, "2.0": 2, "3.0": 3, "5.0": 3, "10.0": 3, "30.0": 3, "60.0": 3,
        "+Inf": 4,
    }  # fmt: skip
    assert [label for label, _ in buckets][-1] == "+Inf"
    assert total == 102.649


def test_cumulative_of_nothing_is_all_zero():
    buckets, total = cumulative({})
    assert all(value == 0 for _, value in buckets) and len(buckets) == len(BUCKET_LABELS) and total == 0
