"""Contact data never reaches a log line in clear (issue 13).

``mask_endpoint`` is what call sites use when they name an endpoint on purpose;
``ContactDataFilter`` sits on every log handler and catches what they did not mask:
an address quoted by SNS in an error, a URL in a traceback. A config leaf: the
settings name the filter by its dotted path and Celery's logging installs it too.
"""

import logging
import re
from urllib.parse import urlsplit

ELLIPSIS = "…"
# A token shorter than this would be mostly shown by its last 4 characters.
_SHORTEST_SHOWN_TOKEN = 12

_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# E.164 with its "+": a bare digit run is an id, a count or lag_ms, never taken for a
# phone. Not after a word character or another digit run (ISO offsets, "1e+10").
_PHONE = r"(?<![\w+])\+[1-9]\d{7,14}(?![\d])"
_URL = r"https?://[^\s'\"<>`]+"
_CONTACT = re.compile(f"(?P<url>{_URL})|(?P<email>{_EMAIL})|(?P<phone>{_PHONE})")
_EMAIL_ONLY = re.compile(f"{_EMAIL}$")
_PHONE_ONLY = re.compile(r"\+[1-9]\d{7,14}$")
# Sentence punctuation that follows a URL in prose rather than belonging to it.
_URL_TAIL = ".,;:!?)]}"


def _mask_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    return f"{local[:1]}***@{domain}"


def _mask_phone(value: str) -> str:
    return value[:3] + "*" * (len(value) - 6) + value[-3:]


def _mask_url(value: str) -> str | None:
    """Scheme and host (with its port): no userinfo, path or query. None if not a URL."""
    try:
        parts = urlsplit(value)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}/{ELLIPSIS}"


def _mask_token(value: str) -> str:
    return ELLIPSIS + value[-4:] if len(value) >= _SHORTEST_SHOWN_TOKEN else ELLIPSIS


def mask_endpoint(value: str) -> str:
    """What a log line may say of an endpoint: ``a***@example.com``, ``+44*******123``,
    ``https://hooks.example.com/…``, or a device token's last 4 characters."""
    value = value.strip()
    if _EMAIL_ONLY.match(value):
        return _mask_email(value)
    if _PHONE_ONLY.match(value):
        return _mask_phone(value)
    if value.lower().startswith(("http://", "https://")):
        masked = _mask_url(value)
        if masked is not None:
            return masked
    return _mask_token(value)


def endpoint_masked_in(text: str, endpoint: str) -> str:
    """``text`` (an error message) with this endpoint, wherever quoted, masked: a device
    token has no shape the log filter could recognise."""
    return text.replace(endpoint, mask_endpoint(endpoint)) if endpoint else text


def _masked_url_in_text(url: str) -> str:
    stripped = url.rstrip(_URL_TAIL)
    tail = url[len(stripped) :]
    try:
        parts = urlsplit(stripped)
    except ValueError:
        return f"{ELLIPSIS}{tail}"
    if "@" not in parts.netloc and parts.path in ("", "/") and not parts.query and not parts.fragment:
        return url  # a bare host (a service address in configuration) says nothing about a person
    return (_mask_url(stripped) or ELLIPSIS) + tail


def _replace(match: re.Match[str]) -> str:
    if match.lastgroup == "url":
        return _masked_url_in_text(match.group())
    if match.lastgroup == "email":
        return _mask_email(match.group())
    return _mask_phone(match.group())


# "@" and "+" percent-encoded, as a query string carries them (a request line, the request
# object Django logs with a 404): decoded first, so the address or number is seen and masked.
_ENCODED_AT_OR_PLUS = re.compile("%(?:40|2[Bb])")


def scrub_contact_data(text: str) -> str:
    """``text`` with every email address, E.164 number and URL with a path masked."""
    if "%" in text:
        text = _ENCODED_AT_OR_PLUS.sub(lambda m: "@" if m.group() == "%40" else "+", text)
    # The cheap test first: most lines hold none of these characters.
    if "@" not in text and "+" not in text and "://" not in text:
        return text
    return _CONTACT.sub(_replace, text)


class ContactDataFilter(logging.Filter):
    """On a handler: rewrites each record's final message (and its traceback) masked.
    On a handler rather than a logger so records propagated from every logger pass it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it, unmasked args stay out
            message = str(record.msg)
        record.msg, record.args = scrub_contact_data(message), ()
        if record.exc_info and not record.exc_text:
            # Formatter.format uses exc_text when set: the traceback is formatted once, masked.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_contact_data(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_contact_data(record.stack_info)
        return True
