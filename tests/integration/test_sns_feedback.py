"""POST /sns/feedback/: only genuine, fresh messages from the engine's own topics act;
anything else is a 403 that changes nothing. And the SMS opt-out sweep."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django_celery_beat.models import PeriodicTask

from delivery import sns_feedback
from delivery.aws import sns_client
from delivery.sns_feedback import feedback_topic_ensure, sms_opt_outs_sweep
from notifier.beat import SMS_OPT_OUT_TASK_NAME, beat_schedule_sync
from subscriptions.models import Subscription
from subscriptions.services import subscription_create
from tests.clients import client_for
from tests.factories import make_topic, prove_endpoints
from tests.sns_signing import SnsSigner, confirmation, notification

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def signer(monkeypatch) -> SnsSigner:
    signer = SnsSigner()
    monkeypatch.setattr(sns_feedback, "certificate_fetcher", signer.fetch)
    return signer


@pytest.fixture
def ann(django_user_model):
    return django_user_model.objects.create_user("ann")


@pytest.fixture
def push(ann) -> Subscription:
    row = subscription_create(
        user=ann, topic=make_topic(), channel="push", endpoint="fcm-token-feedback", platform="gcm"
    )
    row.refresh_from_db()
    assert row.sns_endpoint_arn and row.active
    return row


def post(message: dict | str, *, kind: str | None = None):
    body = message if isinstance(message, str) else json.dumps(message)
    headers = {"HTTP_X_AMZ_SNS_MESSAGE_TYPE": kind or json.loads(body).get("Type", "")} if kind != "" else {}
    return Client().post("/sns/feedback/", data=body, content_type="text/plain; charset=UTF-8", **headers)


def disabled(endpoint_arn: str) -> dict:
    return {"EventType": "EndpointUpdated", "EndpointArn": endpoint_arn, "Resource": "arn:app", "Enabled": "false"}


def unchanged(row: Subscription) -> bool:
    row.refresh_from_db()
    return row.active and row.inactive_reason == ""


def test_a_signed_endpoint_disabled_event_deactivates_the_push_subscription(signer, push, ann):
    for version in ("1", "2"):  # the second is a replay with another signature: no harm
        reply = post(
            signer.sign(notification(feedback_topic_ensure(), disabled(push.sns_endpoint_arn)), version=version)
        )
        assert reply.status_code == 200, reply.content
    push.refresh_from_db()
    assert not push.active and push.inactive_reason == "push endpoint disabled by the platform"
    (listed,) = client_for(ann).get("/api/v1/subscriptions/").json()["results"]
    assert listed["active"] is False and listed["inactive_reason"] == "push endpoint disabled by the platform"
    assert signer.fetched, "the certificate was asked for"


def test_the_reason_shows_on_the_admin_page(signer, push, admin_client):
    post(
        signer.sign(
            notification(
                feedback_topic_ensure(), {"EventType": "EndpointDeleted", "EndpointArn": push.sns_endpoint_arn}
            )
        )
    )
    page = admin_client.get(f"/admin/subscriptions/subscription/{push.pk}/change/")
    assert "push endpoint deleted by the platform" in page.content.decode()


def test_an_enabled_update_and_a_delivery_failure(signer, push):
    enabled = {**disabled(push.sns_endpoint_arn), "Enabled": "true"}
    assert post(signer.sign(notification(feedback_topic_ensure(), enabled))).status_code == 200
    assert unchanged(push)
    failure = {
        "EventType": "DeliveryFailure",
        "EndpointArn": push.sns_endpoint_arn,
        "FailureType": "InvalidPlatformToken",
    }
    assert post(signer.sign(notification(feedback_topic_ensure(), failure))).status_code == 200
    push.refresh_from_db()
    assert push.inactive_reason == "push delivery failed: InvalidPlatformToken"


def test_forged_tampered_foreign_wrong_host_and_stale_messages_are_refused(signer, push):
    genuine = signer.sign(notification(feedback_topic_ensure(), disabled(push.sns_endpoint_arn)))
    foreign_topic = "arn:aws:sns:us-east-1:999999999999:notifier-platform-feedback"
    refused = {
        "forged": SnsSigner().sign(notification(feedback_topic_ensure(), disabled(push.sns_endpoint_arn))),
        "tampered": {**genuine, "MessageId": "another"},
        "wrong topic": signer.sign(notification(foreign_topic, disabled(push.sns_endpoint_arn))),
        "an engine topic that is not the feedback topic": signer.sign(
            notification(push.topic.sns_topic_arn, disabled(push.sns_endpoint_arn))
        ),
        "wrong cert host": signer.sign(
            {
                **notification(feedback_topic_ensure(), disabled(push.sns_endpoint_arn)),
                "SigningCertURL": "https://sns.us-east-1.amazonaws.com.evil.example/c.pem",
            }
        ),
        "stale": signer.sign(
            notification(
                feedback_topic_ensure(), disabled(push.sns_endpoint_arn), at=datetime.now(UTC) - timedelta(hours=2)
            )
        ),
    }
    for why, message in refused.items():
        reply = post(message)
        assert reply.status_code == 403, why
        assert reply.content.startswith(b"refused: "), why
        assert unchanged(push), why
    assert post("not json", kind="Notification").status_code == 403
    assert post(genuine, kind="SubscriptionConfirmation").status_code == 403  # the header must match
    assert unchanged(push)
    assert Client().get("/sns/feedback/").status_code == 405


def test_confirmations_only_for_the_engine_topics(signer, push, monkeypatch):
    confirmed = []
    monkeypatch.setattr(sns_client(), "confirm_subscription", lambda **kwargs: confirmed.append(kwargs))
    assert post(signer.sign(confirmation(feedback_topic_ensure(), token="t1"))).status_code == 200
    assert post(signer.sign(confirmation(push.topic.sns_topic_arn, token="t2"))).status_code == 200
    assert post(signer.sign(confirmation("arn:aws:sns:us-east-1:999999999999:theirs", token="t3"))).status_code == 403
    assert [c["Token"] for c in confirmed] == ["t1", "t2"]
    assert confirmed[0] == {"TopicArn": feedback_topic_ensure(), "Token": "t1", "AuthenticateOnUnsubscribe": "true"}


def test_the_opt_out_sweep_deactivates_only_the_numbers_that_opted_out(ann, django_user_model):
    bob = django_user_model.objects.create_user("bob")
    topic = make_topic()
    prove_endpoints(ann, ("sms", "+447700900111"), ("email", "ann@example.com"))
    prove_endpoints(bob, ("sms", "+447700900222"))
    gone = subscription_create(user=ann, topic=topic, channel="sms", endpoint="+447700900111")
    email = subscription_create(user=ann, topic=topic, channel="email", endpoint="ann@example.com")
    kept = subscription_create(user=bob, topic=topic, channel="sms", endpoint="+447700900222")
    assert sms_opt_outs_sweep(pages=[["+15550000000"], ["+447700900111"]]) == 1
    assert sms_opt_outs_sweep(pages=[["+447700900111"]]) == 0  # already inactive
    gone.refresh_from_db()
    assert not gone.active and gone.inactive_reason == "opted out of SMS"
    assert unchanged(email) and unchanged(kept)


def test_the_opt_out_sweep_reads_sns_and_is_scheduled(ann):
    sms_opt_outs_sweep()  # pages through moto's ListPhoneNumbersOptedOut without error
    with override_settings(NOTIFIER_SMS_OPT_OUT_SWEEP_SECONDS=1800):
        beat_schedule_sync()
    task = PeriodicTask.objects.get(name=SMS_OPT_OUT_TASK_NAME)
    assert task.task == "delivery.sms_opt_outs" and task.interval.every == 1800
    with override_settings(NOTIFIER_SMS_OPT_OUT_SWEEP_SECONDS=0):
        beat_schedule_sync()
    assert not PeriodicTask.objects.filter(name=SMS_OPT_OUT_TASK_NAME).exists()


def test_sync_sns_points_the_platform_applications_and_the_url_at_the_feedback_topic():
    app = sns_client().create_platform_application(
        Name="feedback-test-app", Platform="GCM", Attributes={"PlatformCredential": "x"}
    )["PlatformApplicationArn"]
    url = "https://notifier.example.com/sns/feedback/"
    with override_settings(NOTIFIER_PUSH_PLATFORM_ARNS={"gcm": app}, NOTIFIER_SNS_FEEDBACK_URL=url):
        first, second = io.StringIO(), io.StringIO()
        call_command("sync_sns", stdout=first)
        call_command("sync_sns", stdout=second)
    attributes = sns_client().get_platform_application_attributes(PlatformApplicationArn=app)["Attributes"]
    assert {attributes[name] for name in sns_feedback.PLATFORM_EVENT_ATTRIBUTES} == {feedback_topic_ensure()}
    listed = sns_client().list_subscriptions_by_topic(TopicArn=feedback_topic_ensure())["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in listed] == [("https", url)]
    assert "feedback topic" in first.getvalue()
    assert "feedback" not in second.getvalue(), second.getvalue()
