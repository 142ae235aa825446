"""Where a webhook may point (issue 12): SNS posts to whatever URL a user names, from
inside our AWS account's reach, so an unchecked URL lets anyone make it probe loopback,
the private network or the cloud metadata service.

A URL passes when it is ``https``, carries no credentials, and its host is neither a
known metadata name nor resolves to any address outside the public internet. Every
address ``getaddrinfo`` returns must be public: one private answer among public ones is
how DNS rebinding starts. ``NOTIFIER_WEBHOOK_ALLOW`` names the host names and CIDR
networks a private deployment allows anyway. The check runs when the URL is saved and
again before every SNS subscribe (a name may resolve elsewhere by then).
"""

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from socket import IPPROTO_TCP, SOCK_STREAM, gaierror, getaddrinfo
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance metadata services by name (their addresses are link-local, refused anyway).
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.packet.net",
        "metadata.platformequinix.com",
    }
)
# NAT64 prefixes embed an IPv4 address (RFC 6052, RFC 8215): judge the embedded one.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


@dataclass(frozen=True)
class Allowance:
    """What ``NOTIFIER_WEBHOOK_ALLOW`` lets through although not public."""

    hosts: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> "Allowance":
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in (item.strip() for item in entries):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(_host_key(entry))
        return cls(frozenset(hosts), tuple(networks))

    def covers(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks if network.version == address.version)


def _host_key(host: str) -> str:
    """Host names compare case-insensitively and without the root's trailing dot."""
    return host.strip().lower().rstrip(".")


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:  # ::ffff:127.0.0.1
        return address.ipv4_mapped
    if any(address in prefix for prefix in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why this address is not public, or None when it is."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_refusal(embedded)
    for test, reason in (
        (address.is_loopback, "loopback"),
        (address.is_unspecified, "unspecified"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),  # also unique-local fc00::/7 and documentation ranges
        (not address.is_global, "not public"),  # shared 100.64/10, benchmarking, and the rest
    ):
        if test:
            return reason
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to (one literal address resolves to itself)."""
    infos = getaddrinfo(host, port, type=SOCK_STREAM, proto=IPPROTO_TCP)
    # The scope of a link-local IPv6 answer ("fe80::1%eth0") is not part of the address.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError as exc:
        raise ValidationError("Enter a valid https:// URL.") from exc
    return parts


def webhook_url_check(url: str, *, allow: Iterable[str] | None = None) -> None:
    """Raise ``ValidationError`` with the reason unless SNS may post to this URL."""
    parts = _split(url)
    if parts.scheme.lower() != "https":
        raise ValidationError("Enter an https:// URL: only TLS keeps the notification private on its way.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValidationError("A webhook URL may not carry credentials (user:password@).")
    host = _host_key(parts.hostname or "")
    if not host:
        raise ValidationError("Enter a valid https:// URL with a host.")
    allowance = Allowance.parse(settings.NOTIFIER_WEBHOOK_ALLOW if allow is None else allow)
    if host in allowance.hosts:
        return
    if host in METADATA_HOSTS:
        raise ValidationError(f"The host {host} is a cloud metadata service.")
    try:
        addresses = resolve(host, parts.port or 443)
    except (gaierror, UnicodeError, ValueError) as exc:
        raise ValidationError(f"The host {host} does not resolve.") from exc
    if not addresses:
        raise ValidationError(f"The host {host} does not resolve.")
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None and not allowance.covers(address):
            raise ValidationError(
                f"The host {host} resolves to {address} ({reason}); webhooks may reach public addresses only."
            )
