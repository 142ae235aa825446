"""Every channel end to end: users subscribe through the API, a real worker fires
through moto's SNS, webhooks receive signed POSTs at a real HTTPS endpoint, and the
``consume_inbox`` process fills each in-app subscriber's inbox; a muted user gets nothing."""

import subprocess
import sys
import time

import pytest
from django.contrib.auth import get_user_model

from delivery.models import InboxMessage, Notification
from subscriptions.models import EndpointVerification
from tests.aws import email_code, last_code, sms_sent, sns_published
from tests.clients import client_for
from tests.e2e.test_fire import create_event_due_in, create_topic
from tests.engine import LOG_DIR, ROOT, engine_env, wait_until
from tests.ids import unique_slug

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def inbox_queue(settings) -> str:
    settings.NOTIFIER_INBOX_QUEUE_NAME = unique_slug("inbox")  # topics created now attach to it
    return settings.NOTIFIER_INBOX_QUEUE_NAME


@pytest.fixture
def consumer(inbox_queue):
    log = (LOG_DIR / "consume-inbox.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "consume_inbox", "--wait", "1"],
        cwd=ROOT, env=engine_env(NOTIFIER_INBOX_QUEUE_NAME=inbox_queue), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    yield process
    process.terminate()
    assert process.wait(timeout=15) == 0  # SIGTERM: finishes the current poll and exits cleanly


def subscribe(api, topic, channel: str, endpoint: str = "", status: str = "confirmed") -> dict:
    reply = api.post("/api/v1/subscriptions/", {"topic": topic.slug, "channel": channel, "endpoint": endpoint},
                     format="json")  # fmt: skip
    assert reply.status_code == 201, reply.content
    assert reply.json()["status"] == status, reply.json()
    return reply.json()


def verify(api, channel: str, endpoint: str, read_code) -> None:
    """Prove the endpoint as a user does: ask for a code, read it where it arrived, enter it."""
    asked = api.post("/api/v1/verifications/", {"channel": channel, "endpoint": endpoint}, format="json")
    assert asked.status_code == 202, asked.content
    entered = api.post("/api/v1/verifications/confirm/",
                       {"channel": channel, "endpoint": endpoint, "code": read_code()}, format="json")  # fmt: skip
    assert entered.status_code == 200, entered.content


def test_every_channel_delivers_and_a_muted_user_gets_nothing(celery_worker, consumer, staff_api, webhooks):
    ann, bob, cat = (get_user_model().objects.create_user(name) for name in ("ann", "bob", "cat"))
    apis = {user.username: client_for(user) for user in (ann, bob, cat)}
    topic = create_topic(staff_api)
    hooks = {name: f"/{topic.slug}/{name}" for name in apis}
    for name, api in apis.items():
        subscribe(api, topic, "webhook", webhooks.url(hooks[name]))
        subscribe(api, topic, "in_app")
    # An address or number reaches SNS only once ann proved it is hers (docs/decisions/0008).
    email = subscribe(apis["ann"], topic, "email", "ann@example.com", status="pending_verification")
    sms = subscribe(apis["ann"], topic, "sms", "+447700900123", status="pending_verification")
    verify(apis["ann"], "sms", "+447700900123", lambda: last_code(sms_sent("+447700900123")))
    proof = lambda: EndpointVerification.objects.get(user=ann, channel="email").proof_ref  # noqa: E731
    verify(apis["ann"], "email", "ann@example.com", lambda: email_code(proof()))
    for row in (email, sms):
        assert apis["ann"].get(f"/api/v1/subscriptions/{row['id']}/").json()["status"] == "confirmed"
    subscribe(apis["ann"], topic, "push", "fcm-device-token-ann")
    assert apis["cat"].put("/api/v1/preferences/", {"muted_topics": [topic.slug]}, format="json").status_code == 200

    event = create_event_due_in(staff_api, topic, 3)
    row = Notification.objects.get(event_id=event["id"])
    delivered = wait_until(
        lambda: (
            len(webhooks.messages(hooks["ann"])) + len(webhooks.messages(hooks["bob"])) == 2
            and InboxMessage.objects.filter(notification=row).count() == 2
        ),
        timeout=20,
    )
    time.sleep(1.5)  # room for anything that should not come
    assert delivered, (webhooks.received.keys(), list(InboxMessage.objects.values_list("user__username", flat=True)))

    for name in ("ann", "bob"):
        [document] = webhooks.messages(hooks[name])
        assert document["notification_id"] == row.pk and document["key"] == row.key
        inbox = apis[name].get("/api/v1/inbox/?unread=true").json()
        assert inbox["count"] == 1 and inbox["results"][0]["title"] == "Kick-off"
        assert apis[name].get("/api/v1/inbox/unread-count/").json() == {"unread": 1}
    assert webhooks.messages(hooks["cat"]) == []
    assert apis["cat"].get("/api/v1/inbox/").json()["count"] == 0

    [(bodies, subject)] = sns_published(topic.sns_topic_arn)  # one publish carries every channel
    assert subject.startswith("Kick-off starts at ")
    assert "Kick-off" in bodies["email"] and "UTC" in bodies["sms"] and "Kick-off" in bodies["GCM"]
