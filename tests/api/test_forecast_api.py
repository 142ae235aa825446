"""GET /api/v1/forecast/ and POST /api/v1/forecast/what-if/: staff only, bounded input
(400 with field errors), the contract's figures, and a what-if that writes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from delivery.models import Notification
from events.models import Event
from tests.factories import make_event, make_topic

pytestmark = pytest.mark.django_db

FIELDS = {"start", "hours", "bucket", "total", "buckets", "peak", "peak_minute", "capacity_per_minute",
          "peak_utilisation", "expected_worst_lag_seconds"}  # fmt: skip


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


def test_staff_only(client, user_api):
    assert client.get("/api/v1/forecast/").status_code == 401
    assert user_api.get("/api/v1/forecast/").status_code == 403
    what_if = {"additions": [{"starts_at": iso(timezone.now() + timedelta(hours=1))}]}
    assert user_api.post("/api/v1/forecast/what-if/", what_if, format="json").status_code == 403


def test_forecast_buckets_and_peak(staff_api):
    starts = (timezone.now() + timedelta(hours=6)).replace(minute=30, second=0, microsecond=0)
    topic = make_topic(lead=10)
    for _ in range(2):
        make_event(topic, starts_at=starts)  # not planned yet (no commit in a test): still load
    reply = staff_api.get("/api/v1/forecast/?hours=12&bucket=3600")
    assert reply.status_code == 200, reply.content
    body = reply.json()
    assert set(body) == FIELDS and len(body["buckets"]) == 12 and body["bucket"] == 3600
    assert body["total"] == 2 and body["peak"]["due"] == 2
    assert body["peak_minute"] == {"start": iso(starts - timedelta(minutes=10)), "due": 2}
    assert body["capacity_per_minute"] > 0 and body["expected_worst_lag_seconds"] >= 0


@pytest.mark.parametrize(
    ("query", "field"),
    [("hours=0", "hours"), ("hours=169", "hours"), ("hours=x", "hours"), ("bucket=59", "bucket"),
     ("bucket=61", "bucket"), ("bucket=7200", "bucket"), ("bucket=1e3", "bucket")],
)  # fmt: skip
def test_bad_window_is_a_400_naming_the_field(staff_api, query, field):
    reply = staff_api.get(f"/api/v1/forecast/?{query}")
    assert reply.status_code == 400 and field in reply.json(), reply.content


def test_what_if_adds_5000_at_1950_and_writes_nothing(staff_api):
    make_event(make_topic(), starts_in=timedelta(hours=3))
    before = (Notification.objects.count(), Event.objects.count())
    starts = (timezone.now() + timedelta(hours=8)).replace(second=0, microsecond=0)
    body = {"additions": [{"starts_at": iso(starts), "count": 5000}, {"starts_at": iso(starts), "lead_minutes": 30}]}
    reply = staff_api.post("/api/v1/forecast/what-if/", body, format="json")
    assert reply.status_code == 200, reply.content
    result = reply.json()
    assert result["total"] == 1 + 5000 + 1
    assert result["peak_minute"] == {"start": iso(starts - timedelta(minutes=10)), "due": 5000}
    assert result["expected_worst_lag_seconds"] > 0
    assert (Notification.objects.count(), Event.objects.count()) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "additions"),
        ({"additions": []}, "additions"),
        ({"additions": [{"starts_at": "2026-12-01T19:50:00"}]}, "additions"),  # naive
        ({"additions": [{"starts_at": "2026-12-01T19:50:00Z", "count": 100_001}]}, "additions"),
        ({"additions": [{"starts_at": "2026-12-01T19:50:00Z", "count": 0}]}, "additions"),
        ({"additions": [{"starts_at": "2026-12-01T19:50:00Z", "lead_minutes": 0}]}, "additions"),
        ({"additions": [{"starts_at": "2026-12-01T19:50:00Z"}] * 1001}, "additions"),
        ({"additions": "x"}, "additions"),
        ({"additions": [{"starts_at": "2026-12-01T19:50:00Z"}], "bucket": 90}, "bucket"),
    ],
)
def test_bad_what_if_is_a_400_naming_the_field(staff_api, body, field):
    reply = staff_api.post("/api/v1/forecast/what-if/", body, format="json")
    assert reply.status_code == 400 and field in reply.json(), reply.content


def test_what_if_takes_json_only(staff_api):
    form = staff_api.post("/api/v1/forecast/what-if/", {"additions": "x"})  # multipart
    assert form.status_code == 415
