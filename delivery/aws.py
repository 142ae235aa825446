"""The one place boto3 clients are made.

boto3 reads the standard variables itself (AWS_ENDPOINT_URL, credentials,
AWS_DEFAULT_REGION); AWS_REGION is honoured too. Timeouts are explicit and
botocore's own retries are off: the fire task owns retries, bounded by the deadline.
"""

import os
import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import NoCredentialsError
from django.conf import settings


def aws_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


# SQS long polls hold a receive open for up to 20 s; the read timeout must outlast that.
SQS_LONG_POLL_READ_TIMEOUT_SECONDS = 25.0


def client_config(service: str = "sns") -> Config:
    read_timeout = settings.NOTIFIER_SNS_READ_TIMEOUT_SECONDS
    if service == "sqs":
        read_timeout = max(read_timeout, SQS_LONG_POLL_READ_TIMEOUT_SECONDS)
    return Config(
        connect_timeout=settings.NOTIFIER_SNS_CONNECT_TIMEOUT_SECONDS,
        read_timeout=read_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=50,
        # Our own code builds every request; validating each nested field of a ten-entry
        # PublishBatch again cost ~10% of the fire path's CPU.
        parameter_validation=False,
    )


_FORM_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
# What urllib's quote_plus makes of each other byte.
_FORM_ESCAPE = {b: b"+" if b == 0x20 else b"%%%02X" % b for b in range(256) if b not in _FORM_SAFE}


def form_quote(text: str) -> bytes:
    """``quote_plus(text, safe="")``, made of C-speed bytes operations: one ``replace``
    per distinct unsafe byte (a JSON body has about fifteen) instead of a Python step or
    a table lookup per byte. ``%`` goes first and ``+`` before the space, so no
    replacement touches what an earlier one wrote."""
    data = text.encode()
    unsafe_bytes = data.translate(None, _FORM_SAFE)
    if not unsafe_bytes:  # most names and values of a form: nothing to replace
        return data
    unsafe = set(unsafe_bytes)
    for first in (0x25, 0x2B):  # %, +
        if first in unsafe:
            unsafe.discard(first)
            data = data.replace(bytes((first,)), _FORM_ESCAPE[first])
    for byte in unsafe:
        data = data.replace(bytes((byte,)), _FORM_ESCAPE[byte])
    return data


def form_encode_body(request: Any, **kwargs: Any) -> None:
    """Encode a query-protocol body once, fast: botocore's ``urlencode`` quotes byte by
    byte in Python and runs twice per call (to sign, then to send), which for a
    PublishBatch of ten rendered messages cost more CPU than everything else it does."""
    if isinstance(request.data, dict):
        request.data = b"&".join(form_quote(key) + b"=" + form_quote(str(value)) for key, value in request.data.items())


# A boto3 session is not thread-safe while it makes a client or resolves credentials, and
# a fresh pool process's publisher threads ask for the SNS client at once.
_making = threading.Lock()


def _unlock_after_fork() -> None:
    global _making
    _making = threading.Lock()  # a fork while another thread held it would leave it held forever


os.register_at_fork(after_in_child=_unlock_after_fork)

# Keyed by pid: neither a session nor a client may cross a fork (Celery prefork children).
_sessions: dict[int, boto3.session.Session] = {}
_clients: dict[tuple[str, int], Any] = {}


def _client(service: str) -> Any:
    key = (service, os.getpid())
    client = _clients.get(key)
    if client is not None:
        return client
    with _making:
        client = _clients.get(key)
        if client is None:  # not made by another thread while this one waited
            session = _sessions.get(key[1])
            if session is None:
                session = _sessions[key[1]] = boto3.session.Session()
            client = session.client(service, region_name=aws_region(), config=client_config(service))
            if service == "sns":
                client.meta.events.register("before-sign.sns", form_encode_body)
            _clients[key] = client
    return client


def sns_client() -> Any:
    return _client("sns")


def sns_credentials() -> Credentials:
    """The credentials the clients sign with (delivery.sns_batch signs its own requests),
    resolved when the session made its first client."""
    sns_client()
    credentials = _sessions[os.getpid()].get_credentials()
    if credentials is None:
        raise NoCredentialsError()
    return credentials


def sqs_client() -> Any:
    return _client("sqs")


def reset_clients() -> None:
    """Forget cached clients (after the endpoint or credentials changed, e.g. in tests)."""
    with _making:
        _clients.clear()
        _sessions.clear()
