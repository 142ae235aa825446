"""The webhook guard: which URLs SNS may post to (issue 12). DNS is faked here:
``getaddrinfo`` answers from a table, so each case names exactly what a host resolves to."""

import ipaddress
import socket

import pytest
from django.core.exceptions import ValidationError

from delivery.channels import url_guard
from delivery.channels.url_guard import address_refusal, webhook_url_check

DNS = {
    "hooks.example.com": ["93.184.215.14"],
    "v6.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "intranet.example.com": ["10.1.2.3"],
    "mixed.example.com": ["93.184.215.14", "192.168.1.10"],  # one private answer spoils it
    "rebind.example.com": ["::ffff:169.254.169.254"],
    "hooks.corp.internal": ["10.20.30.40"],
}


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch):
    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list:
        try:
            addresses = DNS.get(host) or [str(ipaddress.ip_address(host))]
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in addresses]  # fmt: skip

    monkeypatch.setattr(url_guard, "getaddrinfo", getaddrinfo)


def refusal(url: str, allow: list[str] | None = None) -> str:
    with pytest.raises(ValidationError) as caught:
        webhook_url_check(url, allow=allow or [])
    return " ".join(caught.value.messages)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://127.8.9.10:8443/hook", "loopback"),
        ("https://localhost/hook", "does not resolve"),  # no such name in this DNS
        ("https://10.0.0.5/hook", "private"),
        ("https://172.16.0.1/hook", "private"),
        ("https://172.31.255.254/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://100.64.0.1/hook", "not public"),  # carrier-grade NAT
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://224.0.0.1/hook", "multicast"),
        ("https://240.0.0.1/hook", "reserved"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::]/hook", "unspecified"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://[fd00::1]/hook", "private"),
        ("https://[fc00::1]/hook", "private"),
        ("https://[ff02::1]/hook", "multicast"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
        ("https://[64:ff9b::a9fe:a9fe]/hook", "link-local"),  # NAT64 of 169.254.169.254
        ("https://intranet.example.com/hook", "10.1.2.3 (private)"),
        ("https://mixed.example.com/hook", "192.168.1.10 (private)"),
        ("https://rebind.example.com/hook", "link-local"),
        ("https://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("https://METADATA.google.internal./x", "metadata"),
        ("https://metadata/x", "metadata"),
        ("https://instance-data/latest/", "metadata"),
        ("https://nowhere.invalid/hook", "does not resolve"),
    ],
)
def test_non_public_targets_are_refused(url, reason):
    assert reason in refusal(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/hook", "https"),
        ("ftp://hooks.example.com/hook", "https"),
        ("https://user:secret@hooks.example.com/hook", "credentials"),
        ("https://user@hooks.example.com/hook", "credentials"),
        ("https://:secret@hooks.example.com/hook", "credentials"),
        ("https://@hooks.example.com/hook", "credentials"),
        ("https:///hook", "host"),
        ("https://hooks.example.com:99999/hook", "valid"),
    ],
)
def test_scheme_credentials_and_shape(url, reason):
    assert reason in refusal(url)


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/hook", "https://HOOKS.example.com./x?y=1", "https://v6.example.com:8443/",
            "https://93.184.215.14/hook", "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/"],
)  # fmt: skip
def test_public_targets_pass(url):
    webhook_url_check(url, allow=[])


def test_the_allow_list_admits_named_hosts_and_networks_only():
    webhook_url_check("https://hooks.corp.internal/x", allow=["hooks.corp.internal"])
    webhook_url_check("https://hooks.corp.internal/x", allow=["10.20.0.0/16"])
    webhook_url_check("https://127.0.0.1:8443/x", allow=[" 127.0.0.1 ", ""])  # one address is a /32
    webhook_url_check("https://[fd12::5]/x", allow=["fd12::/16"])
    assert "private" in refusal("https://hooks.corp.internal/x", allow=["10.99.0.0/16", "other.internal"])
    assert "private" in refusal("https://intranet.example.com/x", allow=["hooks.corp.internal"])
    # allowing a host lifts the address rules, never the scheme or credential rules
    assert "https" in refusal("http://hooks.corp.internal/x", allow=["hooks.corp.internal"])
    assert "credentials" in refusal("https://a:b@hooks.corp.internal/x", allow=["hooks.corp.internal"])


def test_the_allow_list_is_read_from_settings(settings):
    settings.NOTIFIER_WEBHOOK_ALLOW = ["10.20.0.0/16"]
    webhook_url_check("https://hooks.corp.internal/x")
    settings.NOTIFIER_WEBHOOK_ALLOW = []
    with pytest.raises(ValidationError):
        webhook_url_check("https://hooks.corp.internal/x")


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_have_no_refusal(address):
    assert address_refusal(ipaddress.ip_address(address)) is None
