"""Event history through the admin (issue 14, point 6): its create, edit, move and bulk
cancel are recorded with the operator's name, and the event's page shows the history."""

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Event, EventChange
from tests.factories import make_event, make_topic

pytestmark = pytest.mark.django_db


def form_for(event: Event, **changes: object) -> dict:
    starts = changes.pop("starts_at", event.starts_at)
    form = {"topic": event.topic_id, "title": event.title, "description": event.description, "lead_minutes": ""}
    form |= {"starts_at_0": f"{starts:%Y-%m-%d}", "starts_at_1": f"{starts:%H:%M:%S}"}
    return form | changes


def test_admin_create_edit_move_and_cancel_are_recorded_with_the_operator(admin_client, admin_user):
    topic = make_topic(lead=10)
    starts = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    form = {"topic": topic.pk, "title": "From the admin", "description": "", "lead_minutes": ""}
    form |= {"starts_at_0": f"{starts:%Y-%m-%d}", "starts_at_1": f"{starts:%H:%M:%S}"}
    assert admin_client.post("/admin/events/event/add/", form).status_code == 302
    event = Event.objects.get(title="From the admin")

    later = starts + timedelta(hours=1)
    edited = admin_client.post(
        f"/admin/events/event/{event.pk}/change/", form_for(event, starts_at=later, title="Moved", lead_minutes=20)
    )
    assert edited.status_code == 302, edited.content.decode()[:2000]
    cancel = {"action": "cancel_events", "_selected_action": [event.pk]}
    assert admin_client.post("/admin/events/event/", cancel).status_code == 302

    changes = list(EventChange.objects.filter(event=event))
    assert [c.action for c in changes] == ["created", "moved", "cancelled"]
    assert all(c.actor == admin_user and c.actor_label == admin_user.username for c in changes)
    assert changes[0].changes["title"] == [None, "From the admin"]
    assert changes[1].changes == {
        "title": ["From the admin", "Moved"],
        "starts_at": [starts.isoformat().replace("+00:00", "Z"), later.isoformat().replace("+00:00", "Z")],
        "lead_minutes": [None, 20],
    }
    assert changes[2].changes == {"status": ["scheduled", "cancelled"]}


def test_the_event_page_shows_its_history_and_a_refused_edit_adds_none(admin_client, admin_user):
    event = make_event(make_topic(), starts_in=timedelta(hours=2))
    renamed = admin_client.post(f"/admin/events/event/{event.pk}/change/", form_for(event, title="Renamed"))
    assert renamed.status_code == 302
    past = timezone.now() - timedelta(hours=1)
    refused = admin_client.post(f"/admin/events/event/{event.pk}/change/", form_for(event, starts_at=past))
    assert refused.status_code == 200 and "The event must start in the future." in refused.content.decode()
    assert EventChange.objects.filter(event=event).count() == 2

    page = admin_client.get(f"/admin/events/event/{event.pk}/change/").content.decode()
    assert "history" in page and admin_user.username in page and "system" in page
    assert "<b>title</b>: Match → Renamed" in page
    assert page.index("Edited") < page.index("Created")  # newest first
