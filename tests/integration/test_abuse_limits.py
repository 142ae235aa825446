"""Abuse limits (issue 12, point 3) that live below the API: the cap on a user's
subscriptions (also under a race), the admin login lockout (django-axes) and the password
validators."""

import threading

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection
from rest_framework.test import APIClient

from subscriptions.models import Subscription
from subscriptions.services import subscription_create
from tests.engine import database_url
from tests.factories import make_topic

# --- the cap on subscriptions per user ------------------------------------------------------


def _in_app(user, topic, *, active: bool = True) -> Subscription:
    """A row written directly: nothing announces it, no SNS call (the cap counts rows)."""
    return Subscription.objects.create(user=user, topic=topic, channel="in_app", active=active)


@pytest.mark.django_db
def test_the_cap_counts_every_row_of_the_user_and_answers_400(user_api, plain_user, staff_user, settings):
    settings.NOTIFIER_MAX_SUBSCRIPTIONS_PER_USER = 2
    _in_app(plain_user, make_topic())
    _in_app(plain_user, make_topic(), active=False)  # inactive rows count too
    topic = make_topic()
    reply = user_api.post(
        "/api/v1/subscriptions/", {"topic": topic.slug, "channel": "email", "endpoint": "a@example.org"}, format="json"
    )
    assert reply.status_code == 400
    assert reply.json() == {"non_field_errors": ["An account may have at most 2 subscriptions; delete one first."]}
    assert Subscription.objects.filter(user=plain_user).count() == 2
    subscription_create(user=staff_user, topic=topic, channel="in_app")  # another user's own count
    Subscription.objects.filter(user=plain_user).first().delete()
    subscription_create(user=plain_user, topic=topic, channel="in_app")  # room again


@pytest.mark.django_db(transaction=True)
def test_two_creates_at_once_cannot_both_pass_the_cap(settings):
    """Another transaction holds the user's row while it gives the user their last allowed
    subscription; the create that waited on the lock counts after that commit and refuses."""
    settings.NOTIFIER_MAX_SUBSCRIPTIONS_PER_USER = 1
    users = get_user_model().objects
    user, other = users.create_user("racer", password="x"), users.create_user("other", password="x")
    handed_over = _in_app(other, make_topic())
    topic = make_topic()
    outcome: list[object] = []

    def create() -> None:
        try:
            outcome.append(subscription_create(user=user, topic=topic, channel="in_app"))
        except ValidationError as refused:
            outcome.append(refused)
        finally:
            connection.close()

    with psycopg.connect(database_url()) as rival:
        rival.execute("SELECT id FROM auth_user WHERE id = %s FOR UPDATE", [user.pk])
        creator = threading.Thread(target=create)
        creator.start()
        creator.join(timeout=1.0)
        assert creator.is_alive(), "the create must wait for the user's row"
        rival.execute("UPDATE subscriptions_subscription SET user_id = %s WHERE id = %s", [user.pk, handed_over.pk])
        rival.commit()
    creator.join(timeout=10)
    assert len(outcome) == 1 and isinstance(outcome[0], ValidationError), outcome
    assert Subscription.objects.filter(user=user).count() == 1


# --- admin login lockout (django-axes) ------------------------------------------------------


def _admin_login(client, password: str, address: str = "127.0.0.1"):
    return client.post(
        "/admin/login/?next=/admin/", {"username": "ops", "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
def test_repeated_failures_lock_the_admin_login_for_that_user_and_address(client, staff_user, settings):
    assert settings.AXES_FAILURE_LIMIT == settings.NOTIFIER_LOGIN_FAILURE_LIMIT == 5
    for _ in range(4):
        assert _admin_login(client, "wrong").status_code == 200  # the form again, with its error
    assert _admin_login(client, "wrong").status_code == 429  # the fifth failure locks
    locked = _admin_login(client, "pw-ops-123")
    assert locked.status_code == 429 and not _logged_in(client)
    # The pair is locked, not the account: the right password from elsewhere still works.
    elsewhere = client.__class__()
    assert _admin_login(elsewhere, "pw-ops-123", address="192.0.2.44").status_code == 302 and _logged_in(elsewhere)


@pytest.mark.django_db
def test_behind_a_proxy_the_lockout_keys_on_the_forwarded_address(client, staff_user, settings):
    """Axes reads the client address as the throttles do (config/client_ip.py): with one
    trusted proxy, clients behind it are told apart, not all locked out together."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    form = {"username": "ops", "next": "/admin/"}
    for _ in range(5):
        client.post("/admin/login/", {**form, "password": "wrong"}, HTTP_X_FORWARDED_FOR="198.51.100.1")
    mallory = client.post("/admin/login/", {**form, "password": "pw-ops-123"}, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert mallory.status_code == 429
    other = client.post("/admin/login/", {**form, "password": "pw-ops-123"}, HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert other.status_code == 302 and _logged_in(client)


@pytest.mark.django_db
def test_a_success_before_the_limit_starts_the_count_again(client, staff_user):
    for _ in range(4):
        _admin_login(client, "wrong")
    assert _admin_login(client, "pw-ops-123").status_code == 302
    client.logout()
    for _ in range(4):
        _admin_login(client, "wrong")
    assert _admin_login(client, "pw-ops-123").status_code == 302 and _logged_in(client)


@pytest.mark.django_db
def test_the_token_endpoint_works_with_axes_and_shares_its_lockout(client, staff_user):
    api = APIClient()
    login = {"username": "ops", "password": "pw-ops-123"}
    wrong = api.post("/api/v1/auth/token/", {**login, "password": "wrong"})
    assert wrong.status_code == 400
    assert "token" in api.post("/api/v1/auth/token/", login).json()  # axes gets the request it needs
    for _ in range(5):
        assert api.post("/api/v1/auth/token/", {**login, "password": "wrong"}).status_code == 400
    # Locked: the endpoint answers as for a wrong password (DRF's serializer turns axes'
    # refusal into its usual error), and the admin login of that pair is locked too.
    locked = api.post("/api/v1/auth/token/", login)
    assert (locked.status_code, locked.json()) == (400, wrong.json())
    assert _admin_login(client, "pw-ops-123").status_code == 429


# --- password validators --------------------------------------------------------------------


@pytest.mark.django_db
def test_the_four_password_validators_refuse_weak_passwords(plain_user):
    for weak, reason in [
        ("alice123!", "too similar"),
        ("x7#q", "too short"),
        ("password123", "too common"),
        ("80417395226", "entirely numeric"),
    ]:
        with pytest.raises(ValidationError) as refused:
            validate_password(weak, user=plain_user)
        assert any(reason in message for message in refused.value.messages), (weak, refused.value.messages)
    validate_password("correct-horse-battery", user=plain_user)
