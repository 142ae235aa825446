"""Event history (issue 14, point 6): every create, move, lead change, edit and cancel,
through the API or the admin, is one EventChange with who, when, before and after;
``GET /api/v1/events/{id}/history/`` shows it to staff only."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from events import services
from events.models import Event, EventChange
from tests.factories import make_event, make_topic

pytestmark = pytest.mark.django_db


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def history(api, event_id: int) -> list[dict]:
    reply = api.get(f"/api/v1/events/{event_id}/history/")
    assert reply.status_code == 200, reply.content
    return reply.json()["results"]


def test_api_create_move_lead_change_edit_and_cancel_are_each_recorded_with_before_and_after(staff_api, staff_user):
    topic = make_topic(lead=10)
    first = (timezone.now() + timedelta(hours=3)).replace(microsecond=0)
    moved = first + timedelta(hours=1)
    created = staff_api.post(
        "/api/v1/events/", {"topic": topic.slug, "title": "Final", "starts_at": iso(first)}, format="json"
    )
    assert created.status_code == 201, created.content
    event_id = created.json()["id"]
    assert staff_api.patch(f"/api/v1/events/{event_id}/", {"starts_at": iso(moved)}, format="json").status_code == 200
    assert staff_api.patch(f"/api/v1/events/{event_id}/", {"lead_minutes": 15}, format="json").status_code == 200
    edit = {"title": "The Final", "description": "At Wembley"}
    assert staff_api.patch(f"/api/v1/events/{event_id}/", edit, format="json").status_code == 200
    assert staff_api.patch(f"/api/v1/events/{event_id}/", edit, format="json").status_code == 200
    assert staff_api.post(f"/api/v1/events/{event_id}/cancel/").status_code == 200
    assert staff_api.post(f"/api/v1/events/{event_id}/cancel/").status_code == 200  # idempotent: no second row

    rows = history(staff_api, event_id)
    assert [row["action"] for row in rows] == ["created", "moved", "lead_changed", "edited", "cancelled"]
    assert {row["actor"] for row in rows} == {"ops"}
    assert rows[0]["changes"] == {
        "topic": [None, topic.slug],
        "title": [None, "Final"],
        "description": [None, ""],
        "starts_at": [None, iso(first)],
        "lead_minutes": [None, None],
        "status": [None, "scheduled"],
    }
    assert rows[1]["changes"] == {"starts_at": [iso(first), iso(moved)]}
    assert rows[2]["changes"] == {"lead_minutes": [None, 15]}
    # The unchanged second PATCH wrote nothing.
    assert rows[3]["changes"] == {"title": ["Final", "The Final"], "description": ["", "At Wembley"]}
    assert rows[4]["changes"] == {"status": ["scheduled", "cancelled"]}
    assert set(rows[0]) == {"id", "action", "actor", "changes", "at"}
    stored = EventChange.objects.filter(event_id=event_id)
    assert all(change.actor == staff_user for change in stored)
    assert [c.at for c in stored] == sorted(c.at for c in stored)


def test_a_move_and_a_lead_change_in_one_request_is_one_move_with_both_fields(staff_api):
    event = make_event(make_topic(lead=10), starts_in=timedelta(hours=2))
    later = event.starts_at + timedelta(minutes=30)
    reply = staff_api.patch(f"/api/v1/events/{event.pk}/", {"starts_at": iso(later), "lead_minutes": 5}, format="json")
    assert reply.status_code == 200, reply.content
    last = history(staff_api, event.pk)[-1]
    assert last["action"] == "moved"
    assert last["changes"] == {"starts_at": [iso(event.starts_at), iso(later)], "lead_minutes": [None, 5]}


def test_a_refused_change_writes_no_history_and_keeps_what_was_there(staff_api):
    event = make_event(make_topic(), starts_in=timedelta(hours=2))
    before = history(staff_api, event.pk)
    assert [row["action"] for row in before] == ["created"]

    past = staff_api.patch(
        f"/api/v1/events/{event.pk}/", {"starts_at": iso(timezone.now() - timedelta(hours=1))}, format="json"
    )
    assert past.status_code == 400 and "starts_at" in past.json()
    too_long = staff_api.patch(f"/api/v1/events/{event.pk}/", {"lead_minutes": 10**6}, format="json")
    assert too_long.status_code == 400 and "lead_minutes" in too_long.json()
    # Refused by the model's validation after the service began the change: nothing half-written.
    with pytest.raises(ValidationError):
        services.event_update(event=event, title="x" * 201, starts_at=event.starts_at + timedelta(hours=1))
    staff_api.post(f"/api/v1/events/{event.pk}/cancel/")
    changed_cancelled = staff_api.patch(f"/api/v1/events/{event.pk}/", {"title": "Too late"}, format="json")
    assert changed_cancelled.status_code == 400 and "status" in changed_cancelled.json()

    after = history(staff_api, event.pk)
    assert after[: len(before)] == before
    assert [row["action"] for row in after] == ["created", "cancelled"]
    event.refresh_from_db()
    assert event.title == "Match" and event.status == Event.Status.CANCELLED
    assert iso(event.starts_at) == before[0]["changes"]["starts_at"][1]


def test_history_is_for_staff_only_and_an_unknown_event_is_404(staff_api, user_api, client):
    event = make_event(make_topic())
    assert user_api.get(f"/api/v1/events/{event.pk}/").status_code == 200  # others read events...
    refused = user_api.get(f"/api/v1/events/{event.pk}/history/")
    assert refused.status_code == 403  # ...but not who changed them
    assert client.get(f"/api/v1/events/{event.pk}/history/").status_code == 401
    assert staff_api.get("/api/v1/events/999999999/history/").status_code == 404


def test_history_is_paginated_like_the_other_lists(staff_api):
    event = make_event(make_topic(), starts_in=timedelta(hours=2))
    for n in range(4):
        services.event_update(event=event, title=f"Title {n}")
    page = staff_api.get(f"/api/v1/events/{event.pk}/history/?limit=2&offset=1").json()
    assert page["count"] == 5 and len(page["results"]) == 2
    assert [row["changes"]["title"][1] for row in page["results"]] == ["Title 0", "Title 1"]
    assert page["next"] and page["previous"] is not None


def test_changes_outside_a_request_are_put_down_to_the_system_or_the_named_command(staff_api):
    event = make_event(make_topic(), starts_in=timedelta(hours=2))  # no actor: "system"
    services.event_update(event=event, title="Renamed", actor="import_fixtures")
    rows = history(staff_api, event.pk)
    assert [(row["action"], row["actor"]) for row in rows] == [("created", "system"), ("edited", "import_fixtures")]
    assert EventChange.objects.filter(event=event, actor__isnull=False).count() == 0


def test_history_is_in_the_schema(staff_api):
    schema = staff_api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/events/{id}/history/"]["get"]
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "results" in schema["components"]["schemas"][page]["properties"]
    assert {p["name"] for p in operation.get("parameters", [])} >= {"id", "limit", "offset"}
