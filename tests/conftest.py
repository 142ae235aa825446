"""Shared fixtures: real PostgreSQL (pytest-django's test database), real Redis (the
db index given by REDIS_URL, never 0), and a moto server standing in for AWS."""

import os
import socket
from collections.abc import Iterator

import certifi
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from moto.server import ThreadedMotoServer
from rest_framework.test import APIClient

from delivery.aws import reset_clients
from notifier.redis_client import redis_client
from scripts.sns_emulator import install as install_sns_fidelity
from tests.clients import client_for
from tests.figures import report
from tests.webhook_receiver import WEBHOOK_RECEIVER_HOST, WebhookReceiver


@pytest.fixture(scope="session", autouse=True)
def moto_server() -> Iterator[str]:
    """One SNS/SQS emulator for the session; the engine finds it through AWS_ENDPOINT_URL."""
    install_sns_fidelity()  # as in `make run`: a dead webhook does not fail the publish
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    url = f"http://127.0.0.1:{port}"
    previous = {name: os.environ.get(name) for name in _AWS_ENV}
    os.environ.update(
        AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )  # fmt: skip
    os.environ.pop("AWS_PROFILE", None)
    reset_clients()
    yield url
    server.stop()
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    reset_clients()


_AWS_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


@pytest.fixture
def redis():
    client = redis_client()
    db = client.connection_pool.connection_kwargs.get("db", 0)
    assert db != 0, "tests must run on their own Redis db index (make test uses 9), never db 0"
    client.flushdb()
    yield client
    client.flushdb()


# A test that can make an API request has a database; pure ones have none, and no Redis either.
_DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback",
                      "live_server"}  # fmt: skip


@pytest.fixture(autouse=True)
def fresh_rate_limits(request) -> None:
    """Every test that can make requests starts with no rate-limit counters (DRF throttles).

    They live in Redis (settings.CACHES, so that limits hold across pods), where nothing else
    would reset them between tests: 60 anonymous requests spread over a minute of tests would
    otherwise throttle the next one. Only the cache's keys go, not the broker's or the locks'."""
    if _DATABASE_FIXTURES.isdisjoint(request.fixturenames) and not request.node.get_closest_marker("django_db"):
        return
    client = redis_client()
    assert client.connection_pool.connection_kwargs.get("db", 0) != 0, "tests never touch Redis db 0"
    keys = list(client.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user("ops", password="pw-ops-123", is_staff=True)


@pytest.fixture
def plain_user(db):
    return get_user_model().objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def staff_api(staff_user) -> APIClient:
    return client_for(staff_user)


@pytest.fixture
def user_api(plain_user) -> APIClient:
    return client_for(plain_user)


# Where the test network's DNS sends the example domains (RFC 2606 names, which no test
# may reach): a public address, so the webhook guard judges them as the real ones.
EXAMPLE_PUBLIC_ADDRESS = "93.184.215.14"


@pytest.fixture(autouse=True)
def example_domains_resolve(monkeypatch):
    """This machine has no DNS; webhook URLs in tests name hosts under example.com,
    .org and .net. Other names and literal addresses resolve as usual (so 127.0.0.1
    is still refused by the guard unless a test allows it)."""
    from delivery.channels import url_guard  # the app registry is ready once fixtures run

    real = url_guard.getaddrinfo

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list:
        name = str(host).lower().rstrip(".")
        if any(name == domain or name.endswith(f".{domain}") for domain in EXAMPLE_DOMAINS):
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (EXAMPLE_PUBLIC_ADDRESS, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(url_guard, "getaddrinfo", getaddrinfo)


EXAMPLE_DOMAINS = ("example.com", "example.org", "example.net")


@pytest.fixture
def webhooks(webhook_receiver: WebhookReceiver, settings) -> WebhookReceiver:
    """The receiver, with its host allowed as a webhook target for this test: it listens
    on 127.0.0.1, which the webhook guard refuses unless NOTIFIER_WEBHOOK_ALLOW names it
    (as a private deployment would)."""
    settings.NOTIFIER_WEBHOOK_ALLOW = [*settings.NOTIFIER_WEBHOOK_ALLOW, WEBHOOK_RECEIVER_HOST]
    return webhook_receiver


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """An HTTPS receiver that moto's SNS posts webhook deliveries to.

    Its certificate is trusted on top of the bundle in use, not instead of it: anything
    else this process (or a child, such as pip) fetches over TLS must still verify."""
    receiver = WebhookReceiver().start()
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(receiver.bundle_with(previous or certifi.where()))
    yield receiver
    if previous is None:
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
    else:
        os.environ["REQUESTS_CA_BUNDLE"] = previous
    receiver.stop()


def pytest_terminal_summary(terminalreporter) -> None:
    report(terminalreporter)
