"""The inbox and preferences routes: each user sees and changes only their own."""

import pytest
from django.utils import timezone

from delivery.models import InboxMessage
from notifier.planning import plan_event
from tests.clients import client_for
from tests.factories import make_event, make_topic

pytestmark = pytest.mark.django_db


def inbox_row(user, *, title: str = "Match", read: bool = False) -> InboxMessage:
    topic = make_topic()
    event = make_event(topic, title=title)
    plan_event(event_id=event.pk)
    return InboxMessage.objects.create(
        notification=event.notifications.get(), user=user, topic=topic, event=event, title=title,
        body=f"<p>{title}</p>", starts_at=event.starts_at, read_at=timezone.now() if read else None,
    )  # fmt: skip


def test_inbox_lists_filters_counts_and_marks_read(user_api, plain_user):
    unread, done = inbox_row(plain_user, title="new"), inbox_row(plain_user, title="old", read=True)
    listed = user_api.get("/api/v1/inbox/").json()
    assert listed["count"] == 2
    assert {"id", "notification", "event", "topic", "title", "body", "starts_at", "read", "read_at"} <= set(
        listed["results"][0]
    )
    assert [m["id"] for m in user_api.get("/api/v1/inbox/?unread=true").json()["results"]] == [unread.pk]
    assert [m["id"] for m in user_api.get("/api/v1/inbox/?unread=false").json()["results"]] == [done.pk]
    assert user_api.get("/api/v1/inbox/unread-count/").json() == {"unread": 1}
    first = user_api.post(f"/api/v1/inbox/{unread.pk}/read/")
    assert first.status_code == 200 and first.json()["read"] is True
    again = user_api.post(f"/api/v1/inbox/{unread.pk}/read/")
    assert again.json()["read_at"] == first.json()["read_at"]  # idempotent: the first read time stays
    assert user_api.get("/api/v1/inbox/unread-count/").json() == {"unread": 0}
    assert user_api.post(f"/api/v1/inbox/{done.pk}/unread/").json()["read"] is False
    assert user_api.post("/api/v1/inbox/read-all/").json() == {"unread": 0}
    assert user_api.delete(f"/api/v1/inbox/{done.pk}/").status_code == 204
    assert user_api.get(f"/api/v1/inbox/{done.pk}/").status_code == 404
    assert user_api.get("/api/v1/inbox/").json()["count"] == 1
    assert InboxMessage.objects.get(pk=done.pk).deleted_at is not None  # kept hidden, see the consumer


def test_user_a_cannot_read_mark_or_delete_user_b_messages(user_api, staff_user):
    theirs = inbox_row(staff_user)
    assert user_api.get("/api/v1/inbox/").json()["count"] == 0
    assert user_api.get(f"/api/v1/inbox/{theirs.pk}/").status_code == 404
    assert user_api.post(f"/api/v1/inbox/{theirs.pk}/read/").status_code == 404
    assert user_api.post(f"/api/v1/inbox/{theirs.pk}/unread/").status_code == 404
    assert user_api.delete(f"/api/v1/inbox/{theirs.pk}/").status_code == 404
    user_api.post("/api/v1/inbox/read-all/")
    theirs.refresh_from_db()
    assert theirs.read_at is None and theirs.deleted_at is None  # untouched
    assert user_api.get("/api/v1/inbox/unread-count/").json() == {"unread": 0}
    assert client_for(staff_user).get("/api/v1/inbox/unread-count/").json() == {"unread": 1}


def test_inbox_needs_authentication(client):
    assert client.get("/api/v1/inbox/").status_code in (401, 403)


def test_preferences_mute_and_unmute(user_api):
    topic = make_topic()
    assert user_api.get("/api/v1/preferences/").json()["muted_topics"] == []
    reply = user_api.put("/api/v1/preferences/", {"muted_topics": [topic.slug], "muted_channels": ["sms"]},
                         format="json")  # fmt: skip
    assert reply.status_code == 200 and reply.json()["muted_topics"] == [topic.slug]
    sub = user_api.post("/api/v1/subscriptions/", {"topic": topic.slug, "channel": "in_app"}, format="json").json()
    assert sub["muted"] is True
    user_api.patch("/api/v1/preferences/", {"muted_topics": []}, format="json")
    assert user_api.get("/api/v1/preferences/").json()["muted_channels"] == ["sms"]  # PATCH keeps the rest
    assert user_api.get(f"/api/v1/subscriptions/{sub['id']}/").json()["muted"] is False


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"muted_topics": ["no-such-topic"]}, "muted_topics"), ({"muted_channels": ["pigeon"]}, "muted_channels")],
)
def test_bad_preferences_are_400_and_change_nothing(user_api, payload, field):
    reply = user_api.patch("/api/v1/preferences/", payload, format="json")
    assert reply.status_code == 400 and field in reply.json()
    stored = user_api.get("/api/v1/preferences/").json()
    assert stored["muted_topics"] == [] and stored["muted_channels"] == []


def test_fifo_topics_take_only_in_app_subscriptions(user_api):
    topic = make_topic(fifo=True)
    email = user_api.post("/api/v1/subscriptions/", {"topic": topic.slug, "channel": "email",
                                                      "endpoint": "a@example.com"}, format="json")  # fmt: skip
    assert email.status_code == 400 and "FIFO" in email.json()["channel"][0]
    assert user_api.post("/api/v1/subscriptions/", {"topic": topic.slug, "channel": "in_app"},
                         format="json").status_code == 201  # fmt: skip


def test_platform_is_for_push_only(user_api):
    topic = make_topic()
    payload = {"topic": topic.slug, "channel": "sms", "endpoint": "+447700900123", "platform": "apns"}
    reply = user_api.post("/api/v1/subscriptions/", payload, format="json")
    assert reply.status_code == 400 and "platform" in reply.json()
    push = user_api.post("/api/v1/subscriptions/", {"topic": topic.slug, "channel": "push", "endpoint": "tok"},
                         format="json")  # fmt: skip
    assert push.status_code == 201 and push.json()["platform"] == "gcm"  # the configured default


def test_a_body_stored_with_a_script_reaches_the_client_cleaned(user_api, plain_user):
    """A row written before the consumer cleaned bodies (or by any other path) is cleaned
    on its way out with the same allow-list."""
    row = inbox_row(plain_user)
    InboxMessage.objects.filter(pk=row.pk).update(
        body='<p onclick="x()">Match <a href="javascript:steal()">go</a></p><script>steal()</script>'
    )
    for reply in (user_api.get("/api/v1/inbox/").json()["results"][0], user_api.get(f"/api/v1/inbox/{row.pk}/").json()):
        assert reply["body"] == '<p>Match <a rel="noopener noreferrer">go</a></p>'
