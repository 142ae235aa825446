"""Subscriptions mirrored in SNS (moto): per channel, on every change, and by sync_sns.

Transactional: the sync runs after commit, as it does in production."""

import io
import json
import socket

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from delivery.aws import reset_clients, sns_client
from delivery.channels import url_guard
from delivery.models import Notification, NotificationState
from delivery.sns_subscriptions import muted_policy, subscription_sync
from notifier.firing import fire
from notifier.planning import plan_event
from subscriptions.models import Subscription
from subscriptions.services import preference_update, subscription_create, subscription_delete, subscription_update
from tests.aws import moto_topic
from tests.factories import make_event, make_topic, prove_endpoints

pytestmark = pytest.mark.django_db(transaction=True)


def sns_subscriptions(topic_arn: str) -> dict[str, dict[str, str]]:
    """{endpoint: listing} of the topic's SNS subscriptions."""
    listed = sns_client().list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    return {s["Endpoint"]: s for s in listed}


def attributes(arn: str) -> dict[str, str]:
    return sns_client().get_subscription_attributes(SubscriptionArn=arn)["Attributes"]


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(name) for name in ("ann", "bob")]


def test_each_channel_has_its_sns_subscription(users):
    ann = users[0]
    prove_endpoints(ann, ("email", "ann@example.com"), ("sms", "+447700900123"))
    topic = make_topic()
    email = subscription_create(user=ann, topic=topic, channel="email", endpoint="Ann@Example.com")
    sms = subscription_create(user=ann, topic=topic, channel="sms", endpoint="+44 7700 900123")
    push = subscription_create(user=ann, topic=topic, channel="push", endpoint="fcm-token-1", platform="gcm")
    hook = subscription_create(user=ann, topic=topic, channel="webhook", endpoint="https://hooks.example.com/a")
    in_app = subscription_create(user=ann, topic=topic, channel="in_app")
    topic.refresh_from_db()
    listed = sns_subscriptions(topic.sns_topic_arn)
    for row in (email, sms, push, hook, in_app):
        row.refresh_from_db()
        assert row.status == Subscription.Status.CONFIRMED and row.sync_error == "", (row.channel, row.sync_error)
    assert listed["ann@example.com"]["Protocol"] == "email"
    assert listed["+447700900123"]["Protocol"] == "sms"
    assert listed["https://hooks.example.com/a"]["Protocol"] == "https"
    assert listed[push.sns_endpoint_arn]["Protocol"] == "application"
    endpoint = sns_client().get_endpoint_attributes(EndpointArn=push.sns_endpoint_arn)["Attributes"]
    assert endpoint["Token"] == "fcm-token-1" and "/GCM/" in push.sns_endpoint_arn
    inbox = [s for s in listed.values() if s["Protocol"] == "sqs" and s["Endpoint"].endswith(":notifier-inbox")]
    assert len(inbox) == 1 and attributes(inbox[0]["SubscriptionArn"])["RawMessageDelivery"] == "true"
    assert moto_topic(topic.sns_topic_arn).signature_version == "2"  # moto keeps it but does not list it
    assert {row.sns_subscription_arn for row in (email, sms, push, hook)} == {
        listed[e]["SubscriptionArn"] for e in ("ann@example.com", "+447700900123", push.sns_endpoint_arn,
                                               "https://hooks.example.com/a")
    }  # fmt: skip


def test_deactivate_unsubscribes_and_reactivate_resubscribes(users):
    prove_endpoints(users[0], ("email", "ann@example.com"))
    topic = make_topic()
    row = subscription_create(user=users[0], topic=topic, channel="email", endpoint="ann@example.com")
    topic.refresh_from_db()
    subscription_update(subscription=row, active=False)
    row.refresh_from_db()
    assert "ann@example.com" not in sns_subscriptions(topic.sns_topic_arn)
    assert row.status == Subscription.Status.UNSYNCED and row.sns_subscription_arn == ""
    subscription_update(subscription=row, active=True)
    row.refresh_from_db()
    assert row.status == Subscription.Status.CONFIRMED
    assert sns_subscriptions(topic.sns_topic_arn)["ann@example.com"]["SubscriptionArn"] == row.sns_subscription_arn


def test_delete_removes_the_sns_subscription_and_the_device_endpoint(users):
    topic = make_topic()
    row = subscription_create(user=users[0], topic=topic, channel="push", endpoint="apns-token-9", platform="apns")
    row.refresh_from_db()
    topic.refresh_from_db()
    endpoint_arn = row.sns_endpoint_arn
    assert "/APNS/" in endpoint_arn and endpoint_arn in sns_subscriptions(topic.sns_topic_arn)
    subscription_delete(subscription=row)
    assert endpoint_arn not in sns_subscriptions(topic.sns_topic_arn)
    with pytest.raises(sns_client().exceptions.NotFoundException):
        sns_client().get_endpoint_attributes(EndpointArn=endpoint_arn)


def test_a_shared_address_stays_subscribed_until_its_last_user_leaves(users):
    ann, bob = users
    for user in users:  # both proved it: a family mailbox
        prove_endpoints(user, ("email", "family@example.com"))
    topic = make_topic()
    ann_row = subscription_create(user=ann, topic=topic, channel="email", endpoint="family@example.com")
    bob_row = subscription_create(user=bob, topic=topic, channel="email", endpoint="family@example.com")
    topic.refresh_from_db()
    subscription_delete(subscription=ann_row)
    assert "family@example.com" in sns_subscriptions(topic.sns_topic_arn)
    subscription_delete(subscription=bob_row)
    assert "family@example.com" not in sns_subscriptions(topic.sns_topic_arn)


def test_leaving_a_shared_address_by_a_new_endpoint_keeps_the_other_user_subscribed(users):
    ann, bob = users
    for user in users:
        prove_endpoints(user, ("email", "family@example.com"))
    topic = make_topic()
    ann_row = subscription_create(user=ann, topic=topic, channel="email", endpoint="family@example.com")
    bob_row = subscription_create(user=bob, topic=topic, channel="email", endpoint="family@example.com")
    bob_row.refresh_from_db()
    subscription_update(subscription=ann_row, endpoint="ann@example.com", active=False)
    topic.refresh_from_db()
    listed = sns_subscriptions(topic.sns_topic_arn)
    assert listed["family@example.com"]["SubscriptionArn"] == bob_row.sns_subscription_arn
    assert "ann@example.com" not in listed


def test_a_shared_address_is_muted_only_when_all_its_users_muted(users):
    ann, bob = users
    topic = make_topic()
    for user in users:
        prove_endpoints(user, ("sms", "+447700900555"))
        subscription_create(user=user, topic=topic, channel="sms", endpoint="+447700900555")
    arn = Subscription.objects.get(user=ann).sns_subscription_arn
    preference_update(user=ann, muted_topics=[topic])
    assert attributes(arn).get("FilterPolicy", "{}") == "{}"  # bob still wants it
    preference_update(user=bob, muted_topics=[topic])
    assert attributes(arn)["FilterPolicy"] == muted_policy(topic)
    preference_update(user=ann, muted_topics=[])
    assert attributes(arn)["FilterPolicy"] == "{}"
    # ann (unmuted) moves away: the address is left to muted bob alone, so it is muted again
    prove_endpoints(ann, ("sms", "+447700900556"))
    subscription_update(subscription=Subscription.objects.get(user=ann), endpoint="+447700900556")
    assert attributes(arn)["FilterPolicy"] == muted_policy(topic)


def test_a_changed_endpoint_moves_the_sns_subscription(users):
    prove_endpoints(users[0], ("sms", "+447700900001"), ("sms", "+447700900002"))
    topic = make_topic()
    row = subscription_create(user=users[0], topic=topic, channel="sms", endpoint="+447700900001")
    subscription_update(subscription=row, endpoint="+447700900002")
    topic.refresh_from_db()
    listed = sns_subscriptions(topic.sns_topic_arn)
    assert "+447700900002" in listed and "+447700900001" not in listed


def fire_one(topic, title: str) -> None:
    event = make_event(topic, title=title)
    plan_event(event_id=event.pk)
    Notification.objects.filter(event=event).update(state=NotificationState.ARMED, due_at=event.starts_at)
    assert fire(notification_ids=list(event.notifications.values_list("pk", flat=True))).sent


def test_an_unreachable_webhook_does_not_stop_the_other_channels(users, webhooks):
    topic = make_topic()
    subscription_create(user=users[0], topic=topic, channel="webhook", endpoint="https://127.0.0.1:9/dead")
    subscription_create(user=users[1], topic=topic, channel="webhook", endpoint=webhooks.url(f"/{topic.slug}/ok"))
    fire_one(topic, "still delivered")
    assert [m["title"] for m in webhooks.messages(f"/{topic.slug}/ok")] == ["still delivered"]


def test_a_muted_user_receives_nothing_while_others_do_and_unmuting_restores(users, webhooks):
    ann = users[0]
    topic = make_topic()
    for user in users:
        subscription_create(user=user, topic=topic, channel="webhook", endpoint=webhooks.url(f"/{topic.slug}/{user}"))
    preference_update(user=ann, muted_topics=[topic])
    ann_row = Subscription.objects.get(user=ann)
    assert attributes(ann_row.sns_subscription_arn)["FilterPolicy"] == muted_policy(topic)
    fire_one(topic, "while muted")
    assert [m["title"] for m in webhooks.messages(f"/{topic.slug}/bob")] == ["while muted"]
    assert webhooks.messages(f"/{topic.slug}/ann") == []
    preference_update(user=ann, muted_topics=[])
    fire_one(topic, "after unmute")
    assert [m["title"] for m in webhooks.messages(f"/{topic.slug}/ann")] == ["after unmute"]
    assert [m["title"] for m in webhooks.messages(f"/{topic.slug}/bob")] == ["while muted", "after unmute"]
    envelope = webhooks.received[f"/{topic.slug}/ann"][0]
    assert envelope["Type"] == "Notification" and envelope["SignatureVersion"] == "2"


def test_muting_a_channel_mutes_it_on_every_topic_only(users):
    ann = users[0]
    topics = [make_topic(), make_topic()]
    prove_endpoints(ann, ("email", "ann@example.com"), ("sms", "+447700900123"))
    for topic in topics:
        subscription_create(user=ann, topic=topic, channel="email", endpoint="ann@example.com")
        subscription_create(user=ann, topic=topic, channel="sms", endpoint="+447700900123")
    preference_update(user=ann, muted_channels=["email"])
    for row in Subscription.objects.filter(user=ann):
        policy = attributes(row.sns_subscription_arn).get("FilterPolicy", "{}")
        assert (policy != "{}") == (row.channel == "email"), (row.channel, policy)


def test_sns_down_is_recorded_and_sync_sns_repairs_it(users, monkeypatch):
    prove_endpoints(users[0], ("email", "ann@example.com"))
    topic = make_topic()
    topic.refresh_from_db()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens
    reset_clients()
    try:
        row = subscription_create(user=users[0], topic=topic, channel="email", endpoint="ann@example.com")
        row.refresh_from_db()
        assert row.status == Subscription.Status.UNSYNCED and "EndpointConnectionError" in row.sync_error
    finally:
        monkeypatch.undo()
        reset_clients()
    out = io.StringIO()
    call_command("sync_sns", "--topic", topic.slug, stdout=out)
    row.refresh_from_db()
    assert row.status == Subscription.Status.CONFIRMED and row.sync_error == ""
    assert "+ subscribe email a***@example.com" in out.getvalue()  # masked (issue 13)


def test_sync_sns_repairs_drift_both_ways_and_is_idempotent(users):
    ann, bob = users
    prove_endpoints(ann, ("email", "ann@example.com"))
    prove_endpoints(bob, ("sms", "+447700900999"))
    topic = make_topic()
    kept = subscription_create(user=ann, topic=topic, channel="email", endpoint="ann@example.com")
    lost = subscription_create(user=bob, topic=topic, channel="sms", endpoint="+447700900999")
    preference_update(user=ann, muted_topics=[topic])
    topic.refresh_from_db()
    kept.refresh_from_db()
    lost.refresh_from_db()
    sns = sns_client()
    sns.unsubscribe(SubscriptionArn=lost.sns_subscription_arn)  # deleted behind our back
    orphan = sns.subscribe(TopicArn=topic.sns_topic_arn, Protocol="email", Endpoint="stranger@example.com",
                           ReturnSubscriptionArn=True)["SubscriptionArn"]  # fmt: skip
    sns.set_subscription_attributes(
        SubscriptionArn=kept.sns_subscription_arn, AttributeName="FilterPolicy", AttributeValue="{}"
    )  # fmt: skip  (someone un-muted ann by hand)

    dry = io.StringIO()
    call_command("sync_sns", "--dry-run", "--topic", topic.slug, stdout=dry)
    assert "3 change(s) needed; dry run, nothing done" in dry.getvalue(), dry.getvalue()
    assert "stranger@example.com" in sns_subscriptions(topic.sns_topic_arn)  # untouched

    out = io.StringIO()
    call_command("sync_sns", "--topic", topic.slug, stdout=out)
    text = out.getvalue()
    assert "+ subscribe sms +44*******999" in text and "- unsubscribe orphan s***@example.com" in text
    assert "filter policy (mute) differs" in text and "3 change(s) made, 0 failed" in text
    listed = sns_subscriptions(topic.sns_topic_arn)
    assert "+447700900999" in listed and "stranger@example.com" not in listed and orphan
    assert json.loads(attributes(kept.sns_subscription_arn)["FilterPolicy"]) == json.loads(muted_policy(topic))
    lost.refresh_from_db()
    assert lost.sns_subscription_arn == listed["+447700900999"]["SubscriptionArn"]

    again = io.StringIO()
    call_command("sync_sns", "--topic", topic.slug, stdout=again)
    assert again.getvalue().strip() == "in step: 0 changes"


def test_sync_sns_refuses_an_unknown_topic_in_one_line():
    with pytest.raises(CommandError, match="unknown topic"):
        call_command("sync_sns", "--topic", "no-such-topic")


def test_a_webhook_whose_host_now_resolves_privately_is_not_subscribed(users, monkeypatch):
    """Checked again before each subscribe: DNS may point a name elsewhere after the URL
    was accepted (rebinding). The row says why, and SNS no longer posts to it."""
    answer = {"flip.example.com": "93.184.215.14"}
    resolve = url_guard.getaddrinfo

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list:
        if host in answer:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer[host], port))]
        return resolve(host, port, *args, **kwargs)

    monkeypatch.setattr(url_guard, "getaddrinfo", getaddrinfo)
    topic = make_topic()
    row = subscription_create(user=users[0], topic=topic, channel="webhook", endpoint="https://flip.example.com/h")
    row.refresh_from_db()
    topic.refresh_from_db()
    assert row.status == Subscription.Status.CONFIRMED and "https://flip.example.com/h" in sns_subscriptions(
        topic.sns_topic_arn
    )

    answer["flip.example.com"] = "10.0.0.7"
    synced = subscription_sync(subscription_id=row.pk)
    assert synced.status == Subscription.Status.UNSYNCED and synced.sns_subscription_arn == ""
    assert synced.sync_error.startswith("Not subscribed: ") and "10.0.0.7 (private)" in synced.sync_error
    assert "https://flip.example.com/h" not in sns_subscriptions(topic.sns_topic_arn)

    out = io.StringIO()
    call_command("sync_sns", "--topic", topic.slug, stdout=out)  # the repair refuses it too
    assert "https://flip.example.com/h" not in sns_subscriptions(topic.sns_topic_arn)
    row.refresh_from_db()
    assert row.status == Subscription.Status.UNSYNCED and "private" in row.sync_error

    answer["flip.example.com"] = "93.184.215.14"  # back on a public address: subscribed again
    assert subscription_sync(subscription_id=row.pk).status == Subscription.Status.CONFIRMED
