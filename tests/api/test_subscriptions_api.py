import pytest

from subscriptions.models import Subscription
from tests.clients import client_for
from tests.factories import make_topic

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("channel", "endpoint", "stored"),
    [
        ("email", "Alice@Example.com", "alice@example.com"),
        ("sms", "+44 7700 900123", "+447700900123"),
        ("push", "device-token-abc", "device-token-abc"),
        ("webhook", "https://hooks.example.com/x", "https://hooks.example.com/x"),
        ("in_app", "", ""),
    ],
)
@pytest.mark.django_db(transaction=True)  # the SNS sync runs on commit, as it does in production
def test_valid_endpoints_per_channel(user_api, channel, endpoint, stored):
    topic = make_topic()
    reply = user_api.post(
        "/api/v1/subscriptions/", {"topic": topic.slug, "channel": channel, "endpoint": endpoint}, format="json"
    )
    assert reply.status_code == 201, reply.content
    body = reply.json()
    assert {"id", "topic", "channel", "endpoint", "active", "status", "created_at"} <= set(body)
    assert body["endpoint"] == stored and body["active"] is True
    # Synced with SNS (moto) before the reply: the emulator confirms every protocol at once;
    # an address or number the user has not proven stays out of SNS (docs/decisions/0008).
    expected = "pending_verification" if channel in ("email", "sms") else "confirmed"
    assert body["status"] == expected and body["sync_error"] == "", body


@pytest.mark.parametrize(
    ("channel", "endpoint", "field"),
    [
        ("email", "not-an-email", "endpoint"),
        ("sms", "07700 900123", "endpoint"),  # not E.164
        ("webhook", "http://insecure.example.com", "endpoint"),
        ("push", "", "endpoint"),
        ("in_app", "something", "endpoint"),
        ("pigeon", "x", "channel"),
    ],
)
def test_invalid_endpoints_are_400(user_api, channel, endpoint, field):
    topic = make_topic()
    reply = user_api.post(
        "/api/v1/subscriptions/", {"topic": topic.slug, "channel": channel, "endpoint": endpoint}, format="json"
    )
    assert reply.status_code == 400 and field in reply.json(), reply.content
    assert Subscription.objects.count() == 0


def test_duplicate_subscription_is_400(user_api):
    topic = make_topic()
    payload = {"topic": topic.slug, "channel": "email", "endpoint": "a@example.com"}
    assert user_api.post("/api/v1/subscriptions/", payload, format="json").status_code == 201
    again = user_api.post("/api/v1/subscriptions/", payload, format="json")
    assert again.status_code == 400 and "endpoint" in again.json()


def test_users_see_and_touch_only_their_own(user_api, staff_user):
    topic = make_topic()
    theirs = client_for(staff_user).post(
        "/api/v1/subscriptions/", {"topic": topic.slug, "channel": "email", "endpoint": "o@example.com"}, format="json"
    )
    other_id = theirs.json()["id"]
    assert user_api.get("/api/v1/subscriptions/").json()["count"] == 0
    assert user_api.get(f"/api/v1/subscriptions/{other_id}/").status_code == 404
    assert user_api.patch(f"/api/v1/subscriptions/{other_id}/", {"active": False}, format="json").status_code == 404
    assert user_api.delete(f"/api/v1/subscriptions/{other_id}/").status_code == 404
    assert Subscription.objects.get(pk=other_id).active is True


def test_subscriptions_filter_by_topic_slug(user_api):
    one, two = make_topic(), make_topic()
    for topic in (one, two):
        user_api.post("/api/v1/subscriptions/", {"topic": topic.slug, "channel": "in_app"}, format="json")
    listed = user_api.get(f"/api/v1/subscriptions/?topic={one.slug}").json()
    assert [row["topic"] for row in listed["results"]] == [one.slug]
