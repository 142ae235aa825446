"""Contact data encrypted at rest (issue 13, point 1; docs/decisions/0010): a pg_dump of
the database holds no endpoint in clear, the admin and the API still show them to those
allowed, lookups and uniqueness go through the digest, and key rotation re-encrypts
every row so that it reads back the same under the new key alone.

Transactional: pg_dump reads from another connection, so the rows must be committed."""

import glob
import io
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.contrib.admin.models import LogEntry
from django.core.exceptions import FieldError, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client

from config.crypto import blind_index, decrypt_text
from delivery.channels import url_guard
from delivery.sns_subscriptions import subscription_sync
from subscriptions.channels import channel_kinds
from subscriptions.models import EndpointVerification, Subscription, VerificationSend
from subscriptions.selectors import subscription_ids_with_endpoints
from subscriptions.services import subscription_create
from subscriptions.validation import normalize_endpoint
from subscriptions.verification import verification_request
from tests.clients import client_for
from tests.factories import make_topic, prove_endpoints

pytestmark = pytest.mark.django_db(transaction=True)

# One endpoint per channel that has one; each distinctive enough to be found in a dump.
ENDPOINTS = {
    "email": "dump.ann.rare@example.com",
    "sms": "+447700900777",
    "push": "fcm-token-dump-9f3e2a",
    "webhook": "https://hooks-dump.example.com/secret-path-71",
}
K1, K2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def channels_with_endpoints() -> set[str]:
    """The registry's channels whose subscriptions carry an endpoint (in-app takes none)."""
    names = set()
    for kind in channel_kinds():
        try:
            normalize_endpoint(kind.name, "")
        except ValidationError:
            names.add(kind.name)
    return names


def server_major() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        return int(cursor.fetchone()[0]) // 10000


def pg_dump_binary() -> str:
    """A pg_dump at least as new as the server (an older one refuses to dump it)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), reverse=True)
    candidates += [path for path in [shutil.which("pg_dump")] if path]
    try:
        import pgserver

        candidates += glob.glob(str(Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"))
    except ImportError:
        pass
    for path in candidates:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
        major = re.search(r"\)\s+(\d+)", version)  # "pg_dump (PostgreSQL) 15.20 (Debian ...)"
        if major and int(major.group(1)) >= server_major():
            return path
    pytest.fail(f"no pg_dump of PostgreSQL {server_major()} or newer among {candidates}", pytrace=False)


def pg_dump() -> str:
    db = connection.settings_dict
    command = [pg_dump_binary(), "--no-owner", "--host", db["HOST"] or "127.0.0.1", "--port", str(db["PORT"] or 5432),
               "--username", db["USER"] or "postgres", db["NAME"]]  # fmt: skip
    env = {"PGPASSWORD": db["PASSWORD"] or "", "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user("ann", password="pw-not-secret-1")


@pytest.fixture
def admin_client(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("ops", password="pw-not-secret-2"))
    return client


def test_every_channel_with_an_endpoint_is_covered():
    assert channels_with_endpoints() == set(ENDPOINTS)


def test_a_pg_dump_holds_no_endpoint_in_clear(owner, admin_client, monkeypatch):
    topic = make_topic()
    prove_endpoints(owner, ("email", ENDPOINTS["email"]), ("sms", ENDPOINTS["sms"]))
    rows = {
        channel: subscription_create(user=owner, topic=topic, channel=channel, endpoint=endpoint)
        for channel, endpoint in ENDPOINTS.items()
    }
    subscription_create(user=owner, topic=topic, channel="in_app")
    verification_request(user=owner, channel="sms", endpoint="+447700900778")  # a pending proof, a send counted
    # The admin writes its log (object_repr, change message) in clear: add a row there too.
    reply = admin_client.post("/admin/subscriptions/subscription/add/", {
        "user": owner.pk, "topic": topic.pk, "channel": "webhook", "endpoint": "https://admin-dump.example.com/x",
        "platform": "", "active": "on",
    })  # fmt: skip
    assert reply.status_code == 302, reply.content.decode()[:2000]
    # A refused subscribe records why in sync_error, which is stored in clear.
    monkeypatch.setattr(url_guard, "getaddrinfo", lambda host, port, *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.9", port))])  # fmt: skip
    refused = subscription_sync(subscription_id=rows["webhook"].pk)
    assert refused.sync_error.startswith("Not subscribed: ") and "[host]" in refused.sync_error

    dump = pg_dump()
    # The controls: the rows are in the dump, their endpoints as Fernet tokens.
    assert topic.slug in dump and "COPY public.subscriptions_subscription" in dump and "\tgAAAAA" in dump
    assert LogEntry.objects.filter(object_repr__contains=topic.slug).exists()
    secrets = [*ENDPOINTS.values(), "+447700900778", "https://admin-dump.example.com/x", "hooks-dump.example.com",
               "admin-dump.example.com"]  # fmt: skip
    assert [secret for secret in secrets if secret in dump] == []
    # ...while the engine reads them back in clear.
    clear = sorted(Subscription.objects.exclude(channel="in_app").values_list("endpoint", flat=True))
    assert clear == sorted([*ENDPOINTS.values(), "https://admin-dump.example.com/x"])
    assert sorted(EndpointVerification.objects.values_list("endpoint", flat=True)) == sorted(
        [ENDPOINTS["email"], ENDPOINTS["sms"], "+447700900778"]
    )
    assert VerificationSend.objects.get().endpoint_digest == blind_index("+447700900778")


def test_owners_and_staff_still_see_endpoints_and_staff_find_them_by_exact_value(owner, admin_client):
    topic = make_topic()
    row = subscription_create(user=owner, topic=topic, channel="webhook", endpoint=ENDPOINTS["webhook"])
    reply = client_for(owner).get(f"/api/v1/subscriptions/{row.pk}/")
    assert reply.status_code == 200 and reply.json()["endpoint"] == ENDPOINTS["webhook"]
    change = admin_client.get(f"/admin/subscriptions/subscription/{row.pk}/change/")
    assert ENDPOINTS["webhook"] in change.content.decode()
    found = admin_client.get("/admin/subscriptions/subscription/", {"q": f"  {ENDPOINTS['webhook']} "})
    assert f"/admin/subscriptions/subscription/{row.pk}/change/" in found.content.decode()
    # Exact match only, through the digest: a fragment finds nothing (no LIKE on clear text).
    partial = admin_client.get("/admin/subscriptions/subscription/", {"q": "hooks-dump"})
    assert f"/admin/subscriptions/subscription/{row.pk}/change/" not in partial.content.decode()
    # A phone number found as typed, in another form than the stored one.
    prove_endpoints(owner, ("sms", ENDPOINTS["sms"]))
    sms = subscription_create(user=owner, topic=topic, channel="sms", endpoint=ENDPOINTS["sms"])
    found = admin_client.get("/admin/subscriptions/subscription/", {"q": "+44 7700 900777"})
    assert f"/admin/subscriptions/subscription/{sms.pk}/change/" in found.content.decode()
    proofs = admin_client.get("/admin/subscriptions/endpointverification/", {"q": ENDPOINTS["sms"]})
    assert ENDPOINTS["sms"] in proofs.content.decode()


def test_uniqueness_and_lookups_go_through_the_digest(owner):
    topic = make_topic()
    row = subscription_create(user=owner, topic=topic, channel="webhook", endpoint=ENDPOINTS["webhook"])
    assert row.endpoint_digest == blind_index(ENDPOINTS["webhook"])
    with pytest.raises(ValidationError) as refused:
        subscription_create(user=owner, topic=topic, channel="webhook", endpoint=ENDPOINTS["webhook"])
    assert refused.value.message_dict == {"endpoint": ["You already follow this topic on this channel and endpoint."]}
    reply = client_for(owner).post("/api/v1/subscriptions/", {
        "topic": topic.slug, "channel": "webhook", "endpoint": ENDPOINTS["webhook"]}, format="json")  # fmt: skip
    assert reply.status_code == 400 and "already follow" in str(reply.json())
    assert subscription_ids_with_endpoints("webhook", [ENDPOINTS["webhook"], "https://other.example.com/"]) == [row.pk]
    assert subscription_ids_with_endpoints("sms", ["+44 7700 900777"]) == []
    with pytest.raises(FieldError, match="Unsupported lookup"):
        list(Subscription.objects.filter(endpoint=ENDPOINTS["webhook"]))
    # An endpoint changed with save(update_fields=...) takes its digest along.
    row.endpoint = "https://moved.example.com/h"
    row.save(update_fields=["endpoint"])
    assert Subscription.objects.get(pk=row.pk).endpoint_digest == blind_index("https://moved.example.com/h")


def stored(model, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT endpoint FROM {model._meta.db_table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_rotation_re_encrypts_every_row_under_the_newest_key(owner, settings):
    settings.NOTIFIER_ENCRYPTION_KEYS = (K1,)
    topic = make_topic()
    prove_endpoints(owner, ("email", ENDPOINTS["email"]), ("sms", ENDPOINTS["sms"]))
    for channel, endpoint in ENDPOINTS.items():
        subscription_create(user=owner, topic=topic, channel=channel, endpoint=endpoint)
    subscription_create(user=owner, topic=topic, channel="in_app")
    before = {
        model: {row.pk: (row.endpoint, row.endpoint_digest) for row in model.objects.all()}
        for model in (Subscription, EndpointVerification)
    }
    Subscription.objects.filter(channel="push").update(endpoint_digest="stale")  # an update() that forgot it

    settings.NOTIFIER_ENCRYPTION_KEYS = (K2, K1)
    out = io.StringIO()
    call_command("rotate_encryption_keys", "--batch-size", "2", stdout=out)
    assert "subscriptions.Subscription: 4 rotated, 1 already current, 1 digest(s) fixed" in out.getvalue()
    assert "subscriptions.EndpointVerification: 2 rotated, 0 already current, 0 digest(s) fixed" in out.getvalue()

    settings.NOTIFIER_ENCRYPTION_KEYS = (K2,)  # the old key dropped
    for model, rows in before.items():
        assert {row.pk: (row.endpoint, row.endpoint_digest) for row in model.objects.all()} == rows
        for pk, (endpoint, _) in rows.items():
            if endpoint:
                assert Fernet(K2).decrypt(stored(model, pk).encode()).decode() == endpoint
    again = io.StringIO()
    call_command("rotate_encryption_keys", stdout=again)
    assert "subscriptions.Subscription: 0 rotated, 5 already current, 0 digest(s) fixed" in again.getvalue()


def test_rotation_names_a_row_no_key_opens_and_stops(owner, settings):
    settings.NOTIFIER_ENCRYPTION_KEYS = (K1,)
    topic = make_topic()
    row = subscription_create(user=owner, topic=topic, channel="webhook", endpoint=ENDPOINTS["webhook"])
    settings.NOTIFIER_ENCRYPTION_KEYS = (K2,)  # K1 lost
    with pytest.raises(CommandError) as failed:
        call_command("rotate_encryption_keys", stdout=io.StringIO())
    message = str(failed.value)
    assert f"subscriptions.Subscription pk={row.pk}" in message and "\n" not in message
    assert ENDPOINTS["webhook"] not in message
    settings.NOTIFIER_ENCRYPTION_KEYS = (K1,)
    assert decrypt_text(stored(Subscription, row.pk)) == ENDPOINTS["webhook"]  # left as it was
