"""``/api/v1/verifications/``: proving an address or number through the API, and what
another user can (not) learn or do with it (issue 12, point 1; docs/decisions/0008)."""

import pytest

from subscriptions.models import EndpointVerification
from tests.aws import last_code, sms_sent
from tests.clients import client_for
from tests.factories import make_topic, prove_endpoints

# The SNS mirror runs on commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

VOLATILE = {"id", "endpoint", "created_at", "code_expires_at"}  # differ by the clock or by design


def subscribe(api, topic, channel: str, endpoint: str) -> dict:
    reply = api.post("/api/v1/subscriptions/", {"topic": topic.slug, "channel": channel, "endpoint": endpoint},
                     format="json")  # fmt: skip
    assert reply.status_code == 201, reply.content
    return reply.json()


def test_an_sms_subscription_goes_live_once_the_code_is_entered(user_api):
    topic = make_topic()
    row = subscribe(user_api, topic, "sms", "+447700900401")
    assert row["status"] == "pending_verification"
    asked = user_api.post("/api/v1/verifications/", {"channel": "sms", "endpoint": "+447700900401"}, format="json")
    assert asked.status_code == 202 and asked.json()["code_sent"] is True and asked.json()["verified"] is False
    assert "code" not in asked.json() and "code_hash" not in asked.json()
    wrong = user_api.post("/api/v1/verifications/confirm/",
                          {"channel": "sms", "endpoint": "+447700900401", "code": "abc"}, format="json")  # fmt: skip
    assert wrong.status_code == 400 and "attempt(s) left" in wrong.json()["code"][0]
    code = last_code(sms_sent("+447700900401"))
    right = user_api.post("/api/v1/verifications/confirm/",
                          {"channel": "sms", "endpoint": "+447700900401", "code": code}, format="json")  # fmt: skip
    assert right.status_code == 200 and right.json()["verified"] is True
    assert user_api.get(f"/api/v1/subscriptions/{row['id']}/").json()["status"] == "confirmed"
    listed = user_api.get("/api/v1/verifications/").json()
    assert [(v["channel"], v["endpoint"], v["verified"]) for v in listed] == [("sms", "+447700900401", True)]


def test_a_held_address_and_an_unknown_one_get_the_same_replies(user_api, staff_user):
    prove_endpoints(staff_user, ("email", "held@example.com"))
    topic = make_topic()
    assert subscribe(client_for(staff_user), topic, "email", "held@example.com")["status"] == "confirmed"
    held = subscribe(user_api, topic, "email", "held@example.com")
    unknown = subscribe(user_api, topic, "email", "unknown@example.com")
    strip = lambda body: {k: v for k, v in body.items() if k not in VOLATILE}  # noqa: E731
    assert strip(held) == strip(unknown) and held["status"] == "pending_verification"
    replies = [
        user_api.post("/api/v1/verifications/", {"channel": "email", "endpoint": address}, format="json")
        for address in ("held@example.com", "unknown@example.com")
    ]
    assert [r.status_code for r in replies] == [202, 202]
    assert strip(replies[0].json()) == strip(replies[1].json())
    # And the owner's own proof is untouched by the other user's request.
    assert EndpointVerification.objects.get(user=staff_user).verified_at is not None


def test_the_hourly_send_limit_is_a_429_with_retry_after(user_api, settings):
    settings.NOTIFIER_VERIFICATION_SENDS_PER_ENDPOINT_PER_HOUR = 1
    payload = {"channel": "sms", "endpoint": "+447700900402"}
    assert user_api.post("/api/v1/verifications/", payload, format="json").status_code == 202
    again = user_api.post("/api/v1/verifications/", payload, format="json")
    assert again.status_code == 429 and int(again["Retry-After"]) > 3500
    assert "this endpoint" in again.json()["detail"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"channel": "webhook", "endpoint": "https://hooks.example.com/x"}, "channel"),  # needs no proof
        ({"channel": "push", "endpoint": "token"}, "channel"),
        ({"channel": "sms", "endpoint": "07700 900123"}, "endpoint"),
        ({"channel": "email", "endpoint": "not-an-address"}, "endpoint"),
        ({"channel": "sms"}, "endpoint"),
    ],
)
def test_bad_verification_requests_are_400(user_api, payload, field):
    reply = user_api.post("/api/v1/verifications/", payload, format="json")
    assert reply.status_code == 400 and field in reply.json(), reply.content


def test_confirming_without_a_request_is_400(user_api):
    reply = user_api.post("/api/v1/verifications/confirm/",
                          {"channel": "sms", "endpoint": "+447700900403", "code": "123456"}, format="json")  # fmt: skip
    assert reply.status_code == 400 and "request one first" in reply.json()["code"][0]


def test_verifications_need_a_login(client):
    assert client.post("/api/v1/verifications/", {"channel": "sms", "endpoint": "+447700900404"}).status_code == 401


def test_garbage_to_the_verification_routes_is_4xx(user_api):
    garbage = [
        ("/api/v1/verifications/", {"channel": "sms", "endpoint": "+44770090\x000123"}),
        ("/api/v1/verifications/", {"channel": "email", "endpoint": "a\x00b@example.com"}),
        ("/api/v1/verifications/", {"channel": ["sms"], "endpoint": {"x": 1}}),
        ("/api/v1/verifications/", {"channel": "email", "endpoint": "a" * 5000 + "@example.com"}),
        ("/api/v1/verifications/confirm/", {"channel": "sms", "endpoint": "+447700900405", "code": {"x": 1}}),
        ("/api/v1/verifications/confirm/", {"channel": "sms", "endpoint": "+447700900405", "code": "1\x002"}),
        ("/api/v1/verifications/confirm/", {"channel": "sms", "endpoint": "+447700900405", "code": "9" * 500}),
        ("/api/v1/verifications/confirm/", []),
    ]
    for url, payload in garbage:
        reply = user_api.post(url, payload, format="json")
        assert 400 <= reply.status_code < 500, (url, payload, reply.status_code, reply.content[:300])
