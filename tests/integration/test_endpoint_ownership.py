"""Endpoint ownership (issue 12, point 1; docs/decisions/0008): a subscription reaches
SNS only once its user proved the address or number; another user's unproven row can
neither add, unmute nor keep alive the shared SNS subscription.

Transactional: the SNS mirror runs after commit, as in production."""

import importlib
import threading
import time
from datetime import timedelta

import psycopg
import pytest
from django import db
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.utils import timezone

from config.crypto import blind_index
from delivery.aws import sns_client
from delivery.channels.email import EmailChannel
from delivery.sns_reconcile import sns_reconcile
from delivery.sns_subscriptions import muted_policy
from subscriptions.models import EndpointVerification, Subscription
from subscriptions.services import preference_update, subscription_create, subscription_delete, subscription_update
from subscriptions.verification import (
    VerificationLimitReached,
    code_hash,
    verification_confirm,
    verification_poll,
    verification_request,
)
from tests.aws import email_code, last_code, sms_sent
from tests.engine import database_url
from tests.factories import make_topic, prove_endpoints

pytestmark = pytest.mark.django_db(transaction=True)


def listed(topic) -> dict[str, dict[str, str]]:
    topic.refresh_from_db()
    return {
        s["Endpoint"]: s
        for s in sns_client().list_subscriptions_by_topic(TopicArn=topic.sns_topic_arn)["Subscriptions"]
    }


def policy(arn: str) -> str:
    return sns_client().get_subscription_attributes(SubscriptionArn=arn)["Attributes"].get("FilterPolicy", "{}")


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(name) for name in ("owner", "other")]


def test_an_sms_number_is_verified_by_a_code_before_any_sns_subscription_exists(users):
    owner = users[0]
    topic = make_topic()
    row = subscription_create(user=owner, topic=topic, channel="sms", endpoint="+447700900301")
    row.refresh_from_db()
    assert row.status == Subscription.Status.PENDING_VERIFICATION and row.sns_subscription_arn == ""
    assert "+447700900301" not in listed(topic)

    verification_request(user=owner, channel="sms", endpoint="+44 7700 900301")
    code = last_code(sms_sent("+447700900301"))
    stored = EndpointVerification.objects.get(user=owner)
    assert stored.code_hash == code_hash(stored.pk, code) and code not in stored.code_hash  # hashed, never clear
    assert "+447700900301" not in listed(topic)  # the code alone subscribes nothing

    verification_confirm(user=owner, channel="sms", endpoint="+447700900301", code=code)
    row.refresh_from_db()
    assert row.status == Subscription.Status.CONFIRMED
    assert listed(topic)["+447700900301"]["SubscriptionArn"] == row.sns_subscription_arn
    # Proven once, every later subscription of the owner to that number goes straight through.
    second = subscription_create(user=owner, topic=make_topic(), channel="sms", endpoint="+447700900301")
    second.refresh_from_db()
    assert second.status == Subscription.Status.CONFIRMED


def test_a_second_user_cannot_add_an_address_held_by_the_first(users):
    owner, other = users
    prove_endpoints(owner, ("email", "owner@example.com"))
    topic = make_topic()
    mine = subscription_create(user=owner, topic=topic, channel="email", endpoint="owner@example.com")
    theirs = subscription_create(user=other, topic=topic, channel="email", endpoint="owner@example.com")
    unknown = subscription_create(user=other, topic=topic, channel="email", endpoint="nobody@example.com")
    for row in (mine, theirs, unknown):
        row.refresh_from_db()
    assert mine.status == Subscription.Status.CONFIRMED
    # The same state for a held address and an unknown one: nothing to learn from it.
    assert theirs.status == unknown.status == Subscription.Status.PENDING_VERIFICATION
    assert theirs.sns_subscription_arn == "" and "nobody@example.com" not in listed(topic)


def test_a_second_users_pending_row_does_not_unmute_the_owner(users):
    owner, other = users
    prove_endpoints(owner, ("sms", "+447700900302"))
    topic = make_topic()
    mine = subscription_create(user=owner, topic=topic, channel="sms", endpoint="+447700900302")
    preference_update(user=owner, muted_topics=[topic])
    mine.refresh_from_db()
    assert policy(mine.sns_subscription_arn) == muted_policy(topic)
    theirs = subscription_create(user=other, topic=topic, channel="sms", endpoint="+447700900302")
    subscription_update(subscription=theirs, active=True)  # re-saving does not help either
    preference_update(user=other, muted_topics=[])
    assert policy(mine.sns_subscription_arn) == muted_policy(topic)


def test_the_owner_deleting_removes_the_sns_subscription_despite_a_pending_row(users):
    owner, other = users
    prove_endpoints(owner, ("email", "owner@example.com"))
    topic = make_topic()
    mine = subscription_create(user=owner, topic=topic, channel="email", endpoint="owner@example.com")
    theirs = subscription_create(user=other, topic=topic, channel="email", endpoint="owner@example.com")
    assert "owner@example.com" in listed(topic)
    subscription_delete(subscription=mine)
    assert "owner@example.com" not in listed(topic)
    theirs.refresh_from_db()
    assert theirs.status == Subscription.Status.PENDING_VERIFICATION and theirs.sns_subscription_arn == ""
    assert [str(change) for change in sns_reconcile(topics=[topic])] == []  # and sync_sns agrees: nothing to add


def test_the_owner_deactivating_removes_it_too(users):
    owner, other = users
    prove_endpoints(owner, ("sms", "+447700900303"))
    topic = make_topic()
    mine = subscription_create(user=owner, topic=topic, channel="sms", endpoint="+447700900303")
    subscription_create(user=other, topic=topic, channel="sms", endpoint="+447700900303")
    subscription_update(subscription=mine, active=False)
    assert "+447700900303" not in listed(topic)


def test_sync_sns_removes_what_an_unproven_row_held(users):
    """Rows from before the rule (or written behind the services' back) are brought in line."""
    owner = users[0]
    topic = make_topic()
    row = subscription_create(user=owner, topic=topic, channel="sms", endpoint="+447700900304")
    arn = sns_client().subscribe(TopicArn=listed(topic) and topic.sns_topic_arn, Protocol="sms",
                                 Endpoint="+447700900304", ReturnSubscriptionArn=True)["SubscriptionArn"]  # fmt: skip
    Subscription.objects.filter(pk=row.pk).update(status=Subscription.Status.CONFIRMED, sns_subscription_arn=arn)
    for change in sns_reconcile(topics=[topic]):
        assert change.run() is None
    row.refresh_from_db()
    assert row.status == Subscription.Status.PENDING_VERIFICATION and "+447700900304" not in listed(topic)


def test_wrong_codes_count_and_lock_after_the_maximum(users, settings):
    settings.NOTIFIER_VERIFICATION_MAX_ATTEMPTS = 3
    owner = users[0]
    verification_request(user=owner, channel="sms", endpoint="+447700900305")
    code = last_code(sms_sent("+447700900305"))
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in ("2", "1"):
        with pytest.raises(ValidationError, match=f"{left} attempt"):
            verification_confirm(user=owner, channel="sms", endpoint="+447700900305", code=wrong)
    with pytest.raises(ValidationError, match="Wrong code"):
        verification_confirm(user=owner, channel="sms", endpoint="+447700900305", code=wrong)
    assert EndpointVerification.objects.get(user=owner).attempts == 3
    with pytest.raises(ValidationError, match="Too many wrong codes"):  # locked: even the right code
        verification_confirm(user=owner, channel="sms", endpoint="+447700900305", code=code)
    assert EndpointVerification.objects.get(user=owner).verified_at is None


def test_an_expired_code_is_refused(users):
    owner = users[0]
    verification_request(user=owner, channel="sms", endpoint="+447700900306")
    code = last_code(sms_sent("+447700900306"))
    EndpointVerification.objects.filter(user=owner).update(code_expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ValidationError, match="expired"):
        verification_confirm(user=owner, channel="sms", endpoint="+447700900306", code=code)


def test_another_users_code_proves_nothing_for_you(users):
    owner, other = users
    verification_request(user=owner, channel="sms", endpoint="+447700900307")
    code = last_code(sms_sent("+447700900307"))
    with pytest.raises(ValidationError, match="No code is waiting"):
        verification_confirm(user=other, channel="sms", endpoint="+447700900307", code=code)


def test_sends_are_limited_per_endpoint_and_per_user(users, settings):
    settings.NOTIFIER_VERIFICATION_SENDS_PER_ENDPOINT_PER_HOUR = 2
    settings.NOTIFIER_VERIFICATION_SENDS_PER_USER_PER_HOUR = 3
    owner, other = users
    verification_request(user=owner, channel="sms", endpoint="+447700900308")
    verification_request(user=other, channel="sms", endpoint="+447700900308")
    with pytest.raises(VerificationLimitReached, match="this endpoint") as caught:
        verification_request(user=owner, channel="sms", endpoint="+447700900308")
    assert 3500 < caught.value.retry_after <= 3601
    assert len(sms_sent("+447700900308")) == 2  # the refused request sent nothing
    verification_request(user=owner, channel="sms", endpoint="+447700900309")
    verification_request(user=owner, channel="sms", endpoint="+447700900310")
    with pytest.raises(VerificationLimitReached, match="You asked"):
        verification_request(user=owner, channel="sms", endpoint="+447700900311")
    assert sms_sent("+447700900311") == []


def test_an_email_is_proven_by_the_code_published_after_the_sns_link(users):
    """moto confirms email subscriptions at once, so the link step passes immediately here;
    with real SNS the code waits until the link is followed (``verification_poll``)."""
    owner = users[0]
    topic = make_topic()
    row = subscription_create(user=owner, topic=topic, channel="email", endpoint="owner@example.com")
    verification_request(user=owner, channel="email", endpoint="Owner@Example.com")
    proof = EndpointVerification.objects.get(user=owner)
    proof_topic = proof.proof_ref.rsplit(":", 1)[0]
    subscribed = sns_client().list_subscriptions_by_topic(TopicArn=proof_topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscribed] == [("email", "owner@example.com")]
    assert verification_poll() == 0  # its code went out already: nothing sent twice
    verification_confirm(user=owner, channel="email", endpoint="owner@example.com", code=email_code(proof.proof_ref))
    row.refresh_from_db()
    assert row.status == Subscription.Status.CONFIRMED and "owner@example.com" in listed(topic)
    with pytest.raises(sns_client().exceptions.NotFoundException):  # the proof's topic is gone
        sns_client().get_topic_attributes(TopicArn=proof_topic)


def test_an_email_code_waits_for_the_link_to_be_followed(users, monkeypatch):
    """What real SNS does and moto cannot show (moto reports every subscription confirmed):
    the proof's subscription stays pending until the link in SNS's mail is followed, and
    the poll sends the code only then. SNS's answer is the one thing stood in for here."""
    link_followed = {"yes": False}
    monkeypatch.setattr(EmailChannel, "proof_ready", lambda self, *, ref: link_followed["yes"])
    owner = users[0]
    verification_request(user=owner, channel="email", endpoint="slow@example.com")
    proof = EndpointVerification.objects.get(user=owner)
    assert proof.code_hash == "" and proof.proof_ref.startswith("arn:")
    with pytest.raises(ValidationError, match="No code is waiting"):
        verification_confirm(user=owner, channel="email", endpoint="slow@example.com", code="000000")
    assert verification_poll(user=owner) == 0
    link_followed["yes"] = True
    assert verification_poll(user=owner) == 1 and verification_poll(user=owner) == 0
    verification_confirm(user=owner, channel="email", endpoint="slow@example.com", code=email_code(proof.proof_ref))
    assert EndpointVerification.objects.get(user=owner).verified_at is not None


def test_the_migration_keeps_sole_confirmed_emails_and_asks_the_rest_to_prove_again(users):
    """Data migration 0005, run on today's models: SNS's own confirmation link proved an
    address only one user follows; an SMS number or a shared address was never proven."""
    migration = importlib.import_module("subscriptions.migrations.0005_grandfather_confirmed_emails")
    owner, other = users
    topic = make_topic()
    confirmed = Subscription.Status.CONFIRMED
    rows = {
        "sole": Subscription.objects.create(user=owner, topic=topic, channel="email", endpoint="sole@example.com",
                                            status=confirmed),
        "shared": Subscription.objects.create(user=owner, topic=topic, channel="email", endpoint="fam@example.com",
                                              status=confirmed),
        "shared_too": Subscription.objects.create(user=other, topic=topic, channel="email",
                                                  endpoint="fam@example.com", status=confirmed),
        "unconfirmed": Subscription.objects.create(user=other, topic=topic, channel="email",
                                                   endpoint="new@example.com",
                                                   status=Subscription.Status.PENDING_CONFIRMATION),
        "sms": Subscription.objects.create(user=owner, topic=topic, channel="sms", endpoint="+447700900320",
                                           status=confirmed),
        "hook": Subscription.objects.create(user=owner, topic=topic, channel="webhook",
                                            endpoint="https://hooks.example.com/m", status=confirmed),
    }  # fmt: skip
    migration.forwards(django_apps, None)
    status = {name: Subscription.objects.get(pk=row.pk).status for name, row in rows.items()}
    assert status == {"sole": confirmed, "hook": confirmed, **dict.fromkeys(
        ("shared", "shared_too", "unconfirmed", "sms"), Subscription.Status.PENDING_VERIFICATION)}  # fmt: skip
    assert list(EndpointVerification.objects.values_list("user__username", "endpoint")) == [
        ("owner", "sole@example.com")
    ]


def test_moving_to_an_address_you_have_not_proven_lets_the_old_one_go(users):
    owner, other = users
    prove_endpoints(owner, ("sms", "+447700900330"))
    prove_endpoints(other, ("sms", "+447700900331"))
    topic = make_topic()
    mine = subscription_create(user=owner, topic=topic, channel="sms", endpoint="+447700900330")
    theirs = subscription_create(user=other, topic=topic, channel="sms", endpoint="+447700900331")
    subscription_update(subscription=mine, endpoint="+447700900331")  # someone else's number
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == Subscription.Status.PENDING_VERIFICATION and mine.sns_subscription_arn == ""
    now = listed(topic)
    assert "+447700900330" not in now and now["+447700900331"]["SubscriptionArn"] == theirs.sns_subscription_arn


def test_two_requests_at_once_cannot_both_pass_the_endpoint_limit(users, settings):
    """Count-then-send under a lock: a request whose send is counted but not yet
    committed (another user's, here on a second connection) makes the next one wait,
    which then sees it and is refused, rather than both sending."""
    settings.NOTIFIER_VERIFICATION_SENDS_PER_ENDPOINT_PER_HOUR = 1
    first, second = users
    number = "+447700900340"
    outcome: dict[str, object] = {}

    def second_request() -> None:
        try:
            verification_request(user=second, channel="sms", endpoint=number)
            outcome["sent"] = True
        except VerificationLimitReached as exc:
            outcome["refused"] = exc
        finally:
            db.connection.close()

    with psycopg.connect(database_url()) as other:  # the first request, mid-send
        other.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                      [f"notifier.verification.endpoint:sms:{blind_index(number)}"])  # fmt: skip
        other.execute("INSERT INTO subscriptions_verificationsend (user_id, channel, endpoint_digest, sent_at) "
                      "VALUES (%s, 'sms', %s, now())", [first.pk, blind_index(number)])  # fmt: skip
        thread = threading.Thread(target=second_request)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive()  # waiting for the first to finish
        other.commit()
    thread.join(timeout=10)
    assert "refused" in outcome and sms_sent(number) == []
