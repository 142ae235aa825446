"""The API contract of DESIGN.md section 6 for topics, events and the ledger."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from delivery.models import Notification
from events.models import Event, Topic
from tests.factories import make_topic

pytestmark = pytest.mark.django_db


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def future(**delta: float) -> str:
    return iso(timezone.now() + timedelta(**delta))


def test_token_auth(plain_user, client):
    reply = client.post("/api/v1/auth/token/", {"username": "alice", "password": "pw-alice-123"})
    assert reply.status_code == 200 and len(reply.json()["token"]) == 64  # knox: 32 random bytes in hex
    bad = client.post("/api/v1/auth/token/", {"username": "alice", "password": "wrong"})
    assert bad.status_code == 400 and "non_field_errors" in bad.json()
    assert client.get("/api/v1/events/").status_code == 401


def test_staff_creates_topic_and_event_with_contract_fields(staff_api):
    reply = staff_api.post("/api/v1/topics/", {"slug": "kickoffs", "name": "Kick-offs"}, format="json")
    assert reply.status_code == 201, reply.content
    assert set(reply.json()) == {
        "slug", "name", "description", "default_lead_minutes", "fifo", "sns_topic_arn", "created_at",
    }  # fmt: skip
    assert reply.json()["default_lead_minutes"] == 10
    event = staff_api.post(
        "/api/v1/events/",
        {"topic": "kickoffs", "title": "Final", "starts_at": future(hours=3), "lead_minutes": 15},
        format="json",
    )
    assert event.status_code == 201, event.content
    body = event.json()
    assert set(body) == {
        "id", "topic", "title", "description", "starts_at", "lead_minutes", "status", "created_at", "updated_at",
    }  # fmt: skip
    assert body["topic"] == "kickoffs" and body["status"] == "scheduled" and body["lead_minutes"] == 15


def test_event_accepts_any_offset_and_stores_the_instant(staff_api):
    topic = make_topic()
    local = (timezone.now() + timedelta(days=2)).astimezone(UTC).replace(microsecond=0)
    text = local.astimezone(timezone.get_fixed_timezone(330)).isoformat()  # +05:30
    reply = staff_api.post("/api/v1/events/", {"topic": topic.slug, "title": "x", "starts_at": text}, format="json")
    assert reply.status_code == 201, reply.content
    assert Event.objects.get().starts_at == local


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"topic": "no-such-topic"}, "topic"),
        ({"starts_at": "2030-01-01T18:00:00"}, "starts_at"),  # naive
        ({"starts_at": "not a date"}, "starts_at"),
        ({"starts_at": "2020-01-01T18:00:00Z"}, "starts_at"),  # in the past
        ({"lead_minutes": -5}, "lead_minutes"),
        ({"lead_minutes": 0}, "lead_minutes"),
        ({"lead_minutes": 10**6}, "lead_minutes"),
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
    ],
)
def test_bad_event_input_is_400_and_creates_nothing(staff_api, payload, field):
    topic = make_topic()
    data = {"topic": topic.slug, "title": "Final", "starts_at": future(hours=3), **payload}
    reply = staff_api.post("/api/v1/events/", data, format="json")
    assert reply.status_code == 400, reply.content
    assert field in reply.json()
    assert Event.objects.count() == 0
    assert Notification.objects.count() == 0


def test_bad_topic_input_is_400(staff_api):
    for payload, field in [
        ({"slug": "has spaces", "name": "x"}, "slug"),
        ({"slug": "ok", "name": "x", "default_lead_minutes": -1}, "default_lead_minutes"),
        ({"name": "x"}, "slug"),
    ]:
        reply = staff_api.post("/api/v1/topics/", payload, format="json")
        assert reply.status_code == 400 and field in reply.json(), reply.content
    assert Topic.objects.count() == 0


def test_non_staff_reads_but_cannot_write(user_api):
    topic = make_topic()
    assert user_api.get("/api/v1/topics/").status_code == 200
    reply = user_api.post(
        "/api/v1/events/", {"topic": topic.slug, "title": "x", "starts_at": future(hours=1)}, format="json"
    )
    assert reply.status_code == 403
    assert user_api.get("/api/v1/notifications/").status_code == 403


def test_patch_starts_at_moves_and_cancel_cancels(staff_api, django_capture_on_commit_callbacks):
    topic = make_topic()
    with django_capture_on_commit_callbacks(execute=True):
        created = staff_api.post(
            "/api/v1/events/", {"topic": topic.slug, "title": "x", "starts_at": future(hours=3)}, format="json"
        ).json()
    first = Notification.objects.get()
    new_start = future(hours=4)
    with django_capture_on_commit_callbacks(execute=True):
        moved = staff_api.patch(f"/api/v1/events/{created['id']}/", {"starts_at": new_start}, format="json")
    assert moved.status_code == 200, moved.content
    ledger = staff_api.get(f"/api/v1/events/{created['id']}/notifications/").json()["results"]
    assert [(row["id"], row["state"]) for row in ledger] == [(first.pk, "superseded"), (ledger[1]["id"], "planned")]
    assert set(ledger[0]) >= {
        "id", "event", "key", "lead_minutes", "due_at", "deadline", "state", "attempts",
        "sent_at", "lag_ms", "sns_message_id", "last_error",
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = staff_api.post(f"/api/v1/events/{created['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    states = sorted(Notification.objects.values_list("state", flat=True))
    assert states == ["cancelled", "superseded"]
    again = staff_api.patch(f"/api/v1/events/{created['id']}/", {"starts_at": future(hours=5)}, format="json")
    assert again.status_code == 400 and "status" in again.json()
    by_filter = staff_api.get(f"/api/v1/notifications/?event={created['id']}").json()
    assert by_filter["count"] == 2


def test_patch_into_the_past_is_refused(staff_api):
    topic = make_topic()
    event = staff_api.post(
        "/api/v1/events/", {"topic": topic.slug, "title": "x", "starts_at": future(hours=3)}, format="json"
    ).json()
    reply = staff_api.patch(f"/api/v1/events/{event['id']}/", {"starts_at": future(hours=-1)}, format="json")
    assert reply.status_code == 400 and "starts_at" in reply.json()
    assert Event.objects.get().starts_at.isoformat() != future(hours=-1)


def test_event_filters(staff_api):
    one, two = make_topic(), make_topic()
    for topic, hours in [(one, 1), (one, 5), (two, 3)]:
        staff_api.post(
            "/api/v1/events/", {"topic": topic.slug, "title": "x", "starts_at": future(hours=hours)}, format="json"
        )
    assert staff_api.get(f"/api/v1/events/?topic={one.slug}").json()["count"] == 2
    after = future(hours=2)
    assert staff_api.get("/api/v1/events/", {"starts_after": after}).json()["count"] == 2
    assert staff_api.get("/api/v1/events/", {"starts_before": after, "topic": one.slug}).json()["count"] == 1


def test_unknown_event_is_404_and_schema_is_served(staff_api):
    assert staff_api.get("/api/v1/events/999999/").status_code == 404
    assert staff_api.get("/api/v1/events/999999/notifications/").status_code == 404
    schema = staff_api.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/events/" in schema.content


def test_topic_slug_is_immutable_and_a_lead_change_replans(staff_api, django_capture_on_commit_callbacks):
    topic = make_topic(lead=10)
    with django_capture_on_commit_callbacks(execute=True):
        event = staff_api.post(
            "/api/v1/events/", {"topic": topic.slug, "title": "x", "starts_at": future(hours=3)}, format="json"
        ).json()
    renamed = staff_api.patch(f"/api/v1/topics/{topic.slug}/", {"slug": "other"}, format="json")
    assert renamed.status_code == 400 and "slug" in renamed.json()
    with django_capture_on_commit_callbacks(execute=True):
        reply = staff_api.patch(f"/api/v1/topics/{topic.slug}/", {"default_lead_minutes": 30}, format="json")
    assert reply.status_code == 200
    live = Notification.objects.get(event_id=event["id"], state="planned")
    assert live.lead_minutes == 30
    assert live.due_at == Event.objects.get(pk=event["id"]).starts_at - timedelta(minutes=30)


def test_the_sns_topic_arn_is_shown_to_staff_only(staff_api, user_api):
    """It names the AWS account: staff run the AWS side, other users have no use for it."""
    topic = make_topic()
    Topic.objects.filter(pk=topic.pk).update(sns_topic_arn=f"arn:aws:sns:us-east-1:123456789012:n-{topic.slug}")
    for path in ("/api/v1/topics/", f"/api/v1/topics/{topic.slug}/"):
        staff_reply = staff_api.get(path).json()
        user_reply = user_api.get(path).json()
        staff_row = staff_reply["results"][0] if "results" in staff_reply else staff_reply
        user_row = user_reply["results"][0] if "results" in user_reply else user_reply
        assert staff_row["sns_topic_arn"].endswith(f":123456789012:n-{topic.slug}")
        assert user_row["sns_topic_arn"] == "" and "123456789012" not in json.dumps(user_reply)
