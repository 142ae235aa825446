"""Webhook URLs SNS must not post to are a 400 on the endpoint field (issue 12, point 2)."""

import socket

import pytest

from delivery.channels import url_guard
from subscriptions.models import Subscription
from tests.factories import make_topic

pytestmark = pytest.mark.django_db

# Names this test's DNS knows, on top of the example domains every test resolves publicly.
PRIVATE_NAMES = {"intranet.example.com": "192.168.10.20", "hooks.corp.internal": "10.20.30.40"}


@pytest.fixture(autouse=True)
def private_names(monkeypatch):
    public = url_guard.getaddrinfo

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list:
        if host in PRIVATE_NAMES:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PRIVATE_NAMES[host], port))]
        return public(host, port, *args, **kwargs)

    monkeypatch.setattr(url_guard, "getaddrinfo", getaddrinfo)


def subscribe(api, url: str):
    return api.post("/api/v1/subscriptions/", {"topic": make_topic().slug, "channel": "webhook", "endpoint": url},
                    format="json")  # fmt: skip


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://172.16.5.4/hook", "private"),
        ("https://192.168.0.1/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[::1]/hook", "loopback"),
        ("https://[fd00::1]/hook", "private"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://intranet.example.com/hook", "192.168.10.20 (private)"),
        ("https://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("https://user:secret@hooks.example.com/hook", "credentials"),
        ("http://hooks.example.com/hook", "https"),
    ],
)
def test_webhooks_to_non_public_targets_are_400(user_api, url, says):
    reply = subscribe(user_api, url)
    assert reply.status_code == 400, reply.content
    assert says in " ".join(reply.json()["endpoint"]), reply.json()
    assert Subscription.objects.count() == 0


def test_moving_a_webhook_to_a_private_target_is_400(user_api):
    created = subscribe(user_api, "https://hooks.example.com/hook")
    assert created.status_code == 201, created.content
    moved = user_api.patch(f"/api/v1/subscriptions/{created.json()['id']}/",
                           {"endpoint": "https://10.0.0.1/hook"}, format="json")  # fmt: skip
    assert moved.status_code == 400 and "private" in " ".join(moved.json()["endpoint"])
    assert Subscription.objects.get().endpoint == "https://hooks.example.com/hook"


@pytest.mark.parametrize(
    ("allow", "url"),
    [
        (["hooks.corp.internal"], "https://hooks.corp.internal/hook"),
        (["10.20.0.0/16"], "https://hooks.corp.internal/hook"),
        (["192.168.10.0/24"], "https://intranet.example.com/hook"),
    ],
)
def test_an_allow_listed_host_or_network_is_accepted(user_api, settings, allow, url):
    assert subscribe(user_api, url).status_code == 400  # refused while not allowed
    settings.NOTIFIER_WEBHOOK_ALLOW = allow
    reply = subscribe(user_api, url)
    assert reply.status_code == 201, reply.content
    assert reply.json()["endpoint"] == url
