"""Verifying that a message really comes from Amazon SNS, before anything is done with it.

No Django here: a webhook subscriber of the engine's topics can use this module on its
own (README, "Verifying SNS messages"). Checks, in order: the fields a message of its
type must have; its timestamp within a window; the signing certificate's URL (HTTPS,
host exactly ``sns.<region>.amazonaws.com``, ``.pem``; django-ses once accepted any
``amazonaws.com`` host, CVE-2023-33179 class of bug); the RSA signature over the
canonical string AWS signs (SignatureVersion 1: SHA1, 2: SHA256).
https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
"""

import base64
import binascii
import functools
import re
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# The fields AWS signs, in the order it signs them; Subject only when present.
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
_OPTIONAL = frozenset({"Subject"})
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
_CERT_HOST = re.compile(r"sns\.[a-z]{2}(?:-[a-z]+)+-\d\.amazonaws\.com(?:\.cn)?")
CERTIFICATE_MAX_BYTES = 64 * 1024
CLOCK_SKEW = timedelta(minutes=5)
DEFAULT_MAX_AGE = timedelta(hours=1)


class SnsMessageRejected(Exception):
    """Not a genuine, fresh SNS message; the reason is safe to show."""


def certificate_url_check(url: str) -> None:
    """Refuses any URL but ``https://sns.<region>.amazonaws.com[.cn]/....pem``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise SnsMessageRejected("the signing certificate URL does not parse") from exc
    if parts.scheme != "https" or parts.username is not None or parts.password is not None:
        raise SnsMessageRejected("the signing certificate URL is not plain https")
    if port not in (None, 443) or not _CERT_HOST.fullmatch(parts.hostname or ""):
        raise SnsMessageRejected("the signing certificate is not on an sns.<region>.amazonaws.com host")
    if not parts.path.endswith(".pem") or parts.query or parts.fragment:
        raise SnsMessageRejected("the signing certificate URL does not name a .pem file")


@functools.lru_cache(maxsize=32)
def fetch_certificate(url: str) -> bytes:
    """The PEM at ``url`` (already checked), fetched over HTTPS once per process."""
    with urllib.request.urlopen(url, timeout=5) as reply:
        pem = reply.read(CERTIFICATE_MAX_BYTES + 1)
    if len(pem) > CERTIFICATE_MAX_BYTES:
        raise SnsMessageRejected("the signing certificate is too large")
    return pem


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    fields = _SIGNED_FIELDS[message["Type"]]
    return "".join(f"{name}\n{message[name]}\n" for name in fields if name in message).encode()


def _timestamp(message: Mapping[str, Any]) -> datetime:
    try:
        stamp = datetime.fromisoformat(str(message["Timestamp"]).replace("Z", "+00:00"))
    except ValueError as exc:
        raise SnsMessageRejected("the timestamp does not parse") from exc
    if stamp.tzinfo is None:
        raise SnsMessageRejected("the timestamp has no time zone")
    return stamp


def verify_sns_message(
    message: Mapping[str, Any],
    *,
    fetch: Callable[[str], bytes] = fetch_certificate,
    max_age: timedelta = DEFAULT_MAX_AGE,
    now: datetime | None = None,
) -> None:
    """Returns if ``message`` (the JSON body SNS posted, parsed) is signed by SNS and fresh;
    raises ``SnsMessageRejected`` otherwise. ``fetch`` gets the checked certificate URL and
    returns the PEM (tests pass their own)."""
    kind = message.get("Type")
    if kind not in _SIGNED_FIELDS:
        raise SnsMessageRejected(f"unknown message type {str(kind)[:40]!r}")
    needed = [
        f for f in (*_SIGNED_FIELDS[kind], "Signature", "SignatureVersion", "SigningCertURL") if f not in _OPTIONAL
    ]
    missing = [name for name in needed if not isinstance(message.get(name), str)]
    if missing:
        raise SnsMessageRejected(f"missing field(s): {', '.join(missing)}")
    algorithm = _HASHES.get(message["SignatureVersion"])
    if algorithm is None:
        raise SnsMessageRejected("unknown SignatureVersion")
    age = (now or datetime.now(UTC)) - _timestamp(message)
    if age > max_age or age < -CLOCK_SKEW:
        raise SnsMessageRejected("the timestamp is outside the accepted window")
    certificate_url_check(message["SigningCertURL"])
    try:
        signature = base64.b64decode(message["Signature"], validate=True)
        public_key = x509.load_pem_x509_certificate(fetch(message["SigningCertURL"])).public_key()
    except (binascii.Error, ValueError) as exc:
        raise SnsMessageRejected("the signature or the certificate does not decode") from exc
    except OSError as exc:
        raise SnsMessageRejected("the signing certificate could not be fetched") from exc
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SnsMessageRejected("the signing certificate holds no RSA key")
    try:
        public_key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature as exc:
        raise SnsMessageRejected("the signature does not match") from exc
