"""Malformed input of every kind gets a 4xx with a reason, never a 500."""

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from events.models import Event
from tests.factories import make_event, make_topic

pytestmark = pytest.mark.django_db


def test_garbage_never_reaches_a_500(staff_api):
    topic = make_topic()
    event = make_event(topic, starts_in=timedelta(hours=3))
    soon = (timezone.now() + timedelta(hours=2)).astimezone(UTC).isoformat()
    requests = [
        ("post", "/api/v1/events/", {"topic": topic.slug, "title": "x", "starts_at": soon, "lead_minutes": "ten"}),
        ("post", "/api/v1/events/", {"topic": ["a"], "title": {"x": 1}, "starts_at": 12}),
        ("post", "/api/v1/events/", {"topic": topic.slug, "title": "x" * 5000, "starts_at": soon}),
        ("post", "/api/v1/events/", {"topic": topic.slug, "title": "x", "starts_at": "9999-99-99T99:99:99Z"}),
        ("post", "/api/v1/events/", []),
        ("put", f"/api/v1/events/{event.pk}/", {"title": "only a title"}),
        ("patch", f"/api/v1/events/{event.pk}/", {"topic": make_topic().slug}),
        ("get", "/api/v1/events/?starts_after=yesterday", None),
        ("get", "/api/v1/notifications/?event=abc", None),
        ("get", "/api/v1/notifications/?state=nonsense", None),
        ("get", "/api/v1/events/abc/", None),
        ("post", "/api/v1/topics/", {"slug": "x" * 300, "name": "x"}),
        ("patch", f"/api/v1/topics/{topic.slug}/", {"fifo": True}),
        ("delete", f"/api/v1/events/{event.pk}/", None),
        ("post", "/api/v1/subscriptions/", {"topic": topic.slug, "channel": "email", "endpoint": None}),
    ]
    for method, url, payload in requests:
        reply = getattr(staff_api, method)(url, payload, format="json")
        assert 400 <= reply.status_code < 500, (method, url, payload, reply.status_code, reply.content[:300])
    lenient = [  # tolerated by design (defaults apply), but never a 500
        ("get", "/api/v1/events/?limit=abc&offset=-3", None),
        ("patch", f"/api/v1/events/{event.pk}/", {"lead_minutes": None}),
    ]
    for method, url, payload in lenient:
        assert getattr(staff_api, method)(url, payload, format="json").status_code == 200, (method, url)
    # status is read-only: cancelling goes through cancel/, a PATCH of it is ignored
    assert staff_api.patch(f"/api/v1/events/{event.pk}/", {"status": "cancelled"}, format="json").status_code == 200
    event.refresh_from_db()
    assert event.status == Event.Status.SCHEDULED and event.topic_id == topic.pk


def test_malformed_json_body_is_400(staff_api):
    reply = staff_api.generic("POST", "/api/v1/events/", "{not json", content_type="application/json")
    assert reply.status_code == 400 and "detail" in reply.json()


def test_an_api_url_no_route_matches_answers_json_404(staff_api):
    # Found by the schema fuzzer: a non-integer id matched no route and got Django's HTML page.
    for method, url in (("get", "/api/v1/events/0.5/"), ("post", "/api/v1/inbox/0.5/read/"), ("get", "/api/v1/x/")):
        response = getattr(staff_api, method)(url)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Not found."}
